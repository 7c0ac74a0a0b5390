"""The clean stage's pre-checks change nothing: the stage with them (``fast``, what
the workflow runs) and with every measure in full (``fast=False``, the code as it
was before them) give identical outputs on a varied corpus, under several configs;
and each pre-check holds against the expensive measure it skips."""

from __future__ import annotations

import random
import re

import ftfy
import pytest
from clean_pages import (
    CAFE_MOJIBAKE,
    CONTACT_PAGE,
    EN_SITE_LINES,
    GBK_AS_LATIN1,
    NAMES_ONLY,
    PINYIN_MIX,
    SITE_LINES,
    SPAM_EN,
    SPAM_ZH,
    TRADITIONAL_PAGE,
)
from ftfy.badness import MOJIBAKE_CATEGORIES, badness
from test_clean import clean_config, docs, outcomes

from corpusforge.clean import CleanStage
from corpusforge.clean.chinese import Pinyin, chinese_han, script_of
from corpusforge.clean.pii import find_and_mask
from corpusforge.clean.prefilter import Keywords, required
from corpusforge.clean.text import (
    MOJIBAKE_CHARS,
    WHITESPACE,
    Boilerplate,
    Garbled,
    Repair,
    normalize_whitespace,
)

# Lines and pages that exercise every pre-check from both sides.
PIECES = [
    # plain prose, ASCII and not
    "The river flooded the lower town twice in the last century.",
    "Prices rose by 3.5% in 2023, the highest since 1990 (see table 12).",
    "“Curly quotes”, an em dash — and an ellipsis… are kept as they are.",
    "北京的秋天天气晴朗，适合出门散步。",
    "这是一个关于城市交通的报告，共有１２页，发布于２０２４年。",
    # mojibake and what ftfy acts on
    CAFE_MOJIBAKE,
    "The cafÃ© menu: crÃªpes, Ã  la carte, Â£4.",
    "Tom &amp; Jerry &lt;3 &eacute;t&eacute; &#x2019; &nbsp;",
    "<b>bold</b> then &amp; after a tag",
    "Windows line\r\nends\rand a NEL\x85here",
    "control\x07chars\x1b[31mred\x1b[0m and \x0bvertical tab",
    "ﬁne ligatures ﬂow",
    "ＦＵＬＬ　ＷＩＤＴＨ ａｎｄ　ｋａｔａｋａｎａ ｶﾀｶﾅ",
    "decomposed e\u0301 and A\u030a (not NFC)",
    "C1 \x80\x93 controls \x9d",
    "\u2028line separator\u2029paragraph separator",
    "Iñtërnâtiônàlizætiøn ünïcödé",
    "Москва — столица России; Ελλάδα; עברית; العربية; ภาษาไทย",
    "mixed scripts: cafеé (Cyrillic е), Ωmega中文",
    "private use \ue000\uf8ff and replacement \ufffd\ufffd",
    GBK_AS_LATIN1,
    # whitespace
    "  leading and trailing blanks  ",
    "tabs\tand  double  spaces\u00a0nbsp\u3000ideographic",
    "zero\u200bwidth\ufeffchars\u2060",
    "\n\n\n\nmany\n\n\n\nnewlines\n\n",
    # PII of every kind, valid and not
    CONTACT_PAGE,
    "Mail me at j.doe@example.org or +1 (555) 010-9999; mobile 138 1234 5678.",
    "ID 11010519491231002X and card 4111-1111-1111-1111; Amex 3782 822463 10005.",
    "Servers 8.8.8.8, 10.0.0.1, 2001:4860:4860::8888 and fe80::1; time 10:30:45.",
    "IPv6 written out 2001:4860:4860:0:0:0:0:8888, with IPv4 64:ff9b:1:2:3:4:8.8.8.8",
    "std::vector, a::b and 1:2:3:4:5 are no addresses; nor is ab:cd:ef:12:34:56",
    "fullwidth digits １３８１２３４５６７８ and ４１１１１１１１１１１１１１１１",
    "version 1.2.3.4 and ratio 3:4:5 and 12345678 and 1234 5678",
    # site lines, matching and near misses, case folding
    *EN_SITE_LINES,
    *SITE_LINES,
    "We uſe cookies (a long s) on this site.",
    "COOKİE SETTINGS",
    "ALL RIGHTS RESERVED",
    "(c) 2020 by Someone",
    "Please enable JavaScript to view the comments.",
    "The app store and the cookie jar are fine words in prose, as is a download.",
    "点击这里下载我们的APP客户端",
    "京ICP备12345678号",
    # flagged words, pinyin
    SPAM_EN,
    SPAM_ZH,
    PINYIN_MIX,
    NAMES_ONLY,
    TRADITIONAL_PAGE,
    "",
    "   ",
]


def corpus(n: int = 240, seed: int = 7) -> list[str]:
    """Documents of 1-6 pieces, joined by one or two newlines (or nothing)."""
    rng = random.Random(seed)
    texts = [*PIECES]
    for _ in range(n - len(texts)):
        parts = rng.sample(PIECES, rng.randint(1, 6))
        texts.append(rng.choice(["\n", "\n\n", "", " "]).join(parts))
    return texts


CONFIGS = {
    "default": {},
    "drop_pii_flag_pinyin": {"pii": {"mode": "drop"}, "pinyin": {"mode": "flag"}},
    "width_quotes_nfkc": {
        "unicode": {
            "fix_character_width": True,
            "uncurl_quotes": True,
            "normalization": "NFKC",
            "unescape_html": True,
        }
    },
    "no_html_no_ligatures": {"unicode": {"unescape_html": False, "fix_latin_ligatures": False}},
    "custom_boilerplate": {"boilerplate": {"extra_patterns": [r"^\W*menu\W*$", r"ad(?:vert)?s"]}},
    "custom_no_literal": {"boilerplate": {"extra_patterns": [r"^\d+$"]}},
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_stage_with_pre_checks_gives_the_reference_outputs(name):
    frame = docs(*corpus())
    cfg = clean_config(**CONFIGS[name])
    ref = CleanStage(cfg, fast=False)(frame)
    new = CleanStage(cfg, fast=True)(frame)
    assert outcomes(*ref[:2]) == outcomes(*new[:2])
    assert ref[0].equals(new[0]) and ref[1].equals(new[1])
    assert ref[2] == new[2]
    if name == "default":  # the corpus reaches every outcome
        stats = ref[2]
        assert set(ref[1]["reason"]) >= {"garbled_text", "flagged_words", "pinyin_mixed"}
        assert set(ref[1]["reason"]) >= {"empty_text"}
        assert all(stats["pii_by_type"][kind] for kind in stats["pii_by_type"])
        assert stats["boilerplate_lines"] and stats["unicode_fixed"]
        assert stats["whitespace_fixed"] and stats["converted_documents"]


def test_each_step_with_pre_checks_gives_the_reference_values():
    cfg = clean_config()
    texts = corpus(400, seed=11)
    repair = {fast: Repair.from_config(cfg["unicode"], fast) for fast in (False, True)}
    boiler = {fast: Boilerplate(200, (), fast) for fast in (False, True)}
    short_lines = {fast: Boilerplate(20, (), fast) for fast in (False, True)}
    names = ("replacement_chars", "private_use_chars", "mojibake", "script_mixes")
    garbled = [
        {fast: Garbled(dict.fromkeys(names, bound), fast) for fast in (False, True)}
        for bound in (0.0, 0.0005, 0.01, 1.0)
    ]
    for text in texts:
        assert repair[True](text) == repair[False](text)
        assert normalize_whitespace(text, True) == normalize_whitespace(text)
        for by_fast in garbled:
            assert by_fast[True].verdict(text) == by_fast[False].verdict(text)
        assert find_and_mask(text, fast=True) == find_and_mask(text, fast=False)
        assert chinese_han(text) == (script_of(text).chinese, script_of(text).han)
        for pinyin in (Pinyin("reject", 0.05, 1), Pinyin("reject", 0.05, 3)):
            assert pinyin.syllables(text, True) == pinyin.syllables(text, False)
        assert boiler[True](text) == boiler[False](text)
        assert short_lines[True](text) == short_lines[False](text)


def test_every_ftfy_mojibake_match_has_a_listed_character():
    """ftfy's badness is 0 on any text without MOJIBAKE_CHARS: random strings over
    every character its regex names (and ASCII), those characters left out."""
    named = set()
    for chars in MOJIBAKE_CATEGORIES.values():
        named |= set(re.sub(r"(.)-(.)", lambda m: "".join(
            map(chr, range(ord(m[1]), ord(m[2]) + 1))), chars))  # fmt: skip
    named |= set("ÂÃÎÐ€œŠš¢£Ÿž®©°·»–—´×²³ØÙµ√±∂†≠™≤≥¥ø≈‚Äìîïòôúùûπâóàäê¡вЂГўВ.ΒΓΞΟβā ")
    alphabet = sorted((named | set("abcXYZ .,?!\n")) - MOJIBAKE_CHARS)
    rng = random.Random(0)
    for _ in range(20000):
        text = "".join(rng.choices(alphabet, k=rng.randint(1, 8)))
        assert badness(text) == 0, repr(text)
    assert badness("cafÃ©") and MOJIBAKE_CHARS & set("cafÃ©")


def test_keyword_case_folding_matches_re():
    """Keywords lower-cases ASCII only; every character re.IGNORECASE matches to a
    keyword character is that character up to ASCII case or a non-ASCII cased
    letter (which sends the text to the re path)."""
    keywords = set()
    for pattern in Boilerplate(200).patterns.values():
        keywords |= required(pattern)
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    for x in sorted(set("".join(keywords))):
        for c in re.findall(re.escape(x), every, re.IGNORECASE):
            cased = c.lower() != c or c.upper() != c
            assert c.lower() == x.lower() if c.isascii() else (c == x or cased), (x, c)
    check = Keywords(["we use cookies"])
    assert check.search("WE USE COOKIES") and check.search("We uſe cookies")
    assert not check.search("we used cookies") and check.lines_with("a\nb\nwe use cookies") == {2}


def test_required_strings_are_in_every_match():
    pattern = re.compile(r"(?:foo|bar)\d+(?:baz)?qux|zz[ab]+", re.IGNORECASE)
    found = required(pattern)
    assert found is not None
    for text in ["foo12qux", "BAR1bazQUX", "zzab", "ZZB"]:
        match = pattern.search(text)
        assert match and any(s.lower() in match.group().lower() for s in found)
    assert required(re.compile(r"\w+|abc")) is None
    assert required(re.compile(r"(?:x)?\d")) is None


def test_whitespace_list_is_pythons():
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    assert "".join(re.findall(r"\s", every)) == WHITESPACE
    assert "".join(ch for ch in every if ch.isspace()) == WHITESPACE


def test_ftfy_version_is_the_checked_one():
    """The ftfy pre-check is only used with the release it was checked against;
    a newer ftfy runs in full (tested here so an upgrade is noticed)."""
    assert ftfy.__version__.startswith("6.3.")
