"""Flagged words: a document with too large a share of listed words is rejected.

A list is a UTF-8 text file, one word or phrase a line, ``#`` comments and blank
lines ignored, matched case-insensitively (``clean.flagged_words.lists``). The
English list is matched against the words of documents in Latin script: its
share is listed words (a phrase counts its words) over words. The Chinese list is
matched in the text of documents in Chinese script (no word splitting): its share
is the Han characters inside listed terms over all Han characters.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .chinese import HAN
from .prefilter import any_of, fewest

WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


class WordListError(ValueError):
    pass


def read_word_list(path: str | Path, key: str) -> tuple[str, ...]:
    """The entries of a list file, NFC and lower-cased, sorted; ``key`` names it in errors."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise WordListError(f"{key}: cannot read {path}: {exc}") from exc
    entries = {unicodedata.normalize("NFC", line.strip()).lower() for line in lines}
    words = tuple(sorted(e for e in entries if e and not e.startswith("#")))
    if not words:
        raise WordListError(f"{key}: {path} lists no word")
    return words


def _alternation(terms: Iterable[str], words: bool) -> re.Pattern | None:
    terms = sorted(set(terms), key=lambda t: (-len(t), t))
    if not terms:
        return None
    body = "|".join(re.escape(t) for t in terms)
    return re.compile(rf"(?<![a-z0-9])(?:{body})(?![a-z0-9])" if words else f"(?:{body})")


@dataclass(frozen=True)
class FlaggedWords:
    """``clean.flagged_words``: lists per language (``en``, ``zh``) and share bounds."""

    en_words: frozenset[str]
    en_phrases: re.Pattern | None
    zh_terms: re.Pattern | None
    max_ratio: Mapping[str, float]
    fast: bool = True
    # The English entries as substrings (fewest): a lower-cased text without one has
    # no hit. Up to a few dozen, str's own search is faster than one regex.
    en_any: tuple[str, ...] = ()

    @classmethod
    def from_lists(
        cls,
        lists: Mapping[str, tuple[str, ...]],
        max_ratio: Mapping[str, float],
        fast: bool = True,
    ) -> FlaggedWords:
        en = lists.get("en", ())
        return cls(
            en_words=frozenset(w for w in en if WORD.fullmatch(w)),
            en_phrases=_alternation((w for w in en if not WORD.fullmatch(w)), words=True),
            zh_terms=_alternation(lists.get("zh", ()), words=False),
            max_ratio=dict(max_ratio),
            fast=fast,
            en_any=tuple(fewest(en)),
        )

    def measure(self, text: str, chinese: bool, han: int) -> tuple[str, int, float] | None:
        """(language, listed words or characters, share) or None without a list."""
        lower = text.lower()
        if chinese:
            if self.zh_terms is None or not han:
                return None
            hits = sum(len(HAN.findall(m.group())) for m in self.zh_terms.finditer(lower))
            return "zh", hits, hits / han
        if not self.en_words and self.en_phrases is None:
            return None
        if self.fast and self.en_any and not self._any_entry(lower):
            # no word or phrase of the list in the text: no hit; the share, 0, is
            # only compared with the bound when the text has a word
            return ("en", 0, 0.0) if WORD.search(lower) else None
        words = WORD.findall(lower)
        if not words:
            return None
        if self.fast:
            hits = sum(map(self.en_words.__contains__, words))
        else:
            hits = sum(w in self.en_words for w in words)
        if self.en_phrases is not None:
            hits += sum(len(WORD.findall(m.group())) for m in self.en_phrases.finditer(lower))
        return "en", hits, hits / len(words)

    def _any_entry(self, lower: str) -> bool:
        if len(self.en_any) <= 64:
            return any(entry in lower for entry in self.en_any)
        return _any_pattern(self.en_any).search(lower) is not None

    def verdict(self, text: str, chinese: bool, han: int) -> tuple[int, str | None]:
        """(listed words or characters found, rejection detail or None)."""
        found = self.measure(text, chinese, han)
        if found is None:
            return 0, None
        lang, hits, share = found
        bound = self.max_ratio.get(lang)
        if bound is not None and share > bound:
            unit = "characters" if lang == "zh" else "words"
            return hits, f"{lang} flagged {unit} {hits}, share {share:.4g} > {bound}"
        return hits, None


@lru_cache(maxsize=8)
def _any_pattern(entries: tuple[str, ...]) -> re.Pattern:
    return any_of(entries)
