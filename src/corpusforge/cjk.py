"""Code points of the CJK scripts, written once for every stage that treats them apart.

Han, kana and Hangul have no spaces between words: the stages count or shingle their
characters one by one. Each stage uses the set its rule needs:

- ``HAN``: Chinese characters (the seed stage's language guess);
- ``IDEOGRAPHS_AND_KANA``: every ideograph and kana (dedup's character mode);
- ``WORD_CHARS``: Han, kana and Hangul as the body of a regex character class
  (words and n-grams of the filters and decontamination stages).
"""

from __future__ import annotations

import re

HAN = (
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
)
IDEOGRAPHS_AND_KANA = (
    (0x3040, 0x30FF),  # hiragana, katakana
    (0x31F0, 0x31FF),  # katakana phonetic extensions
    *HAN,
    (0xF900, 0xFAFF),  # compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width katakana
    (0x20000, 0x3FFFF),  # CJK extensions B and later
)
# Hangul jamo, kana, Hangul compatibility jamo, Han (extension A, unified), Hangul
# syllables, compatibility ideographs.
WORD_CHARS = (
    "\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
)


def han_count(text: str) -> int:
    """How many Chinese characters (``HAN``) ``text`` holds."""
    return len(_HAN_RE.findall(text))


_HAN_RE = re.compile("[" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in HAN) + "]")


def is_han(char: str) -> bool:
    """Whether one character is a Chinese character (``HAN``)."""
    code = ord(char)
    return any(lo <= code <= hi for lo, hi in HAN)
