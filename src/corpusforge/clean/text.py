"""Unicode repair, whitespace, garbled-text measures and site boilerplate lines.

- :class:`Repair`: ``ftfy.fix_text`` with an explicit configuration (mojibake,
  HTML entities, terminal escapes, control characters, Unicode normalization; by
  default full-width forms and curly quotes are kept, since Chinese text uses
  them), then whitespace: zero-width spaces and BOMs removed, runs of blanks made
  one space, lines stripped, at most one empty line in a row.
- :class:`Garbled`: four measures of text no repair could save, each a share of
  the non-blank characters: ``replacement_chars`` (U+FFFD), ``private_use_chars``,
  ``mojibake`` (ftfy's badness: sequences typical of text decoded with the wrong
  codec) and ``script_mixes`` (letters of two scripts that never touch inside a
  word, e.g. accented Latin next to Cyrillic or Han).
- :class:`Boilerplate`: lines of at most ``max_line_chars`` characters that match
  a site pattern (cookie banners, out-of-date browser alerts, copyright footers,
  download-the-app / scan-the-QR-code / follow-us prompts), in English and Chinese.

Speed (``fast``, the default; ``fast=False`` runs every measure in full, the
reference the tests and ``benchmarks/bench_clean.py`` compare against): each
expensive step is skipped where a cheap check proves it would change nothing.

- ftfy: :func:`fix_text` returns the text untouched when it contains no character
  any of ftfy's fixes acts on (:func:`ftfy_triggers`, built from ftfy's own tables
  and regular expressions for the configured fixes) and is already in the
  configured normal form. ``ftfy.fix_text`` fixes a text line by line; on such a
  text each fix of each line is the identity (its mojibake step returns at once
  when ``ftfy.badness.is_bad`` finds nothing, and every match of ftfy's badness
  regex contains a character of :data:`MOJIBAKE_CHARS`), so its output is the
  input. Checked against ftfy 6.3 (:data:`FTFY_CHECKED`); with another version
  ftfy always runs.
- ``mojibake`` and ``script_mixes`` are first bounded by counts of the characters
  their matches need (:meth:`Garbled._bounded`): every match of ftfy's badness regex
  has a character of :data:`MOJIBAKE_CHARS`, and of two letters of different
  scripts one is not CJK. The measure itself only runs when the bound is over
  ``clean.garbled``'s.
- boilerplate: lines are only matched when the document contains one of the
  strings every site pattern needs (:mod:`.prefilter`), then only those lines.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ftfy
from ftfy import chardata
from ftfy import fixes as ftfy_fixes
from ftfy.badness import BADNESS_RE, badness, is_bad

from .prefilter import Keywords, any_of, required

ZERO_WIDTH = re.compile("[\u200b\u2060\ufeff]")
BLANKS = re.compile(r"[^\S\n]+")
EMPTY_LINES = re.compile(r"\n{3,}")
NON_BLANK = re.compile(r"\S")


# Where normalize_whitespace changes a text: a zero-width character, a blank other
# than " " and newline, two blanks in a row (" " or newline then " ", " " then
# newline, three newlines), or whitespace at the start or end. A text without any
# is its own normal form.
# Python's whitespace (str.isspace, re's \s) ends at U+3000 (test_clean_fast checks).
WHITESPACE = "".join(ch for ch in map(chr, range(0x3001)) if ch.isspace())
# A zero-width character or a blank other than " " and newline: one listed class,
# much faster to scan for than [^\S\n ].
ODD_SPACE = re.compile(f"[{re.escape(WHITESPACE.replace(' ', '').replace(chr(10), ''))}"
                       "\u200b\u2060\ufeff]")  # fmt: skip


def _whitespace_normal(text: str) -> bool:
    return not (
        text[:1].isspace()
        or text[-1:].isspace()
        or "  " in text
        or " \n" in text
        or "\n " in text
        or "\n\n\n" in text
        or ODD_SPACE.search(text)
    )


def normalize_whitespace(text: str, fast: bool = False) -> str:
    if fast and _whitespace_normal(text):
        return text
    text = ZERO_WIDTH.sub("", text)
    text = "\n".join(BLANKS.sub(" ", line).strip() for line in text.split("\n"))
    return EMPTY_LINES.sub("\n\n", text).strip()


@dataclass(frozen=True)
class Repair:
    """``clean.unicode``: ftfy, then whitespace."""

    fixer: ftfy.TextFixerConfig | None  # None: no ftfy
    whitespace: bool

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], fast: bool = True) -> Repair:
        fixer = None
        if cfg["ftfy"]:
            fixer = ftfy.TextFixerConfig(
                unescape_html=cfg["unescape_html"],
                fix_latin_ligatures=cfg["fix_latin_ligatures"],
                fix_character_width=cfg["fix_character_width"],
                uncurl_quotes=cfg["uncurl_quotes"],
                normalization=cfg["normalization"],
                explain=False,
            )
        return cls(fixer, cfg["whitespace"], fast)

    fast: bool = True

    def __call__(self, text: str) -> tuple[str, bool, bool]:
        """(text, ftfy changed it, whitespace changed it)."""
        if self.fixer is None:
            fixed = text
        elif self.fast:
            fixed = fix_text(text, self.fixer)
        else:
            fixed = ftfy.fix_text(text, self.fixer)
        spaced = normalize_whitespace(fixed, self.fast) if self.whitespace else fixed
        return spaced, fixed != text, spaced != fixed


# ---------------------------------------------------------------- ftfy pre-checks

FTFY_CHECKED = "6.3."  # the ftfy releases whose fix_and_explain steps were read for this


_COMMON = "‘’“”•…·—–\xa0©®™°"


def _mojibake_cost(found: frozenset[str]) -> tuple[int, int]:
    """Pick, per branch of ftfy's badness regex, the characters least common in
    good text (ASCII, curly quotes, dashes, bullets, the degree sign...)."""
    common = sum(all(ch.isascii() or ch in _COMMON for ch in s) for s in found)
    return (common, len(found))


def _mojibake_chars() -> frozenset[str]:
    """One character of each string that every match of ftfy's badness regex contains."""
    found = required(BADNESS_RE, _mojibake_cost)
    if found is None or BADNESS_RE.flags & re.IGNORECASE:
        raise RuntimeError("ftfy's badness regex changed shape: update clean.text")
    rare = (next((ch for ch in s if not (ch.isascii() or ch in _COMMON)), s[0]) for s in found)
    return frozenset(rare)


# Every match of ftfy.badness.BADNESS_RE contains one of these characters.
MOJIBAKE_CHARS = _mojibake_chars()
_MOJIBAKE_CHAR = any_of(MOJIBAKE_CHARS)


def ftfy_triggers(config: ftfy.TextFixerConfig) -> re.Pattern:
    """Characters on which one of ftfy's fixes, as configured, may act. Each
    entry follows ftfy 6.3's ``fix_and_explain`` (one pass of its fixes)."""
    chars: set[str] = set()
    if config.unescape_html:  # True or "auto": HTML_ENTITY_RE starts with "&"
        assert chardata.HTML_ENTITY_RE.pattern.startswith("&")
        chars.add("&")
    if config.fix_encoding:  # returns at once when not is_bad(text)
        chars |= MOJIBAKE_CHARS
    if config.fix_c1_controls:
        chars.update(map(chr, range(0x80, 0xA0)))  # chardata.C1_CONTROL_RE
    if config.fix_latin_ligatures:
        chars.update(map(chr, chardata.LIGATURES))
    if config.fix_character_width:
        chars.update(map(chr, chardata.WIDTH_MAP))
    if config.uncurl_quotes:  # chardata.SINGLE_QUOTE_RE, DOUBLE_QUOTE_RE
        chars.update(map(chr, [0x2BC, *range(0x2018, 0x2020)]))
    if config.fix_line_breaks:
        chars.update("\r\u2028\u2029\x85")
    if config.fix_surrogates:  # fixes.SURROGATE_RE
        chars.update(map(chr, range(0xD800, 0xE000)))
    if config.remove_terminal_escapes:  # fixes.ANSI_RE starts with ESC
        assert ftfy_fixes.ANSI_RE.pattern.startswith("\033")
        chars.add("\x1b")
    if config.remove_control_chars:
        chars.update(map(chr, chardata.CONTROL_CHARS))
    return re.compile("[" + "".join(re.escape(c) for c in sorted(chars)) + "]")


_TRIGGERS: dict[ftfy.TextFixerConfig, tuple[re.Pattern, re.Pattern]] = {}


def fix_text(text: str, config: ftfy.TextFixerConfig) -> str:
    """``ftfy.fix_text(text, config)``, with ftfy run only on the lines it could change.

    ``ftfy.fix_text`` fixes each line (up to and with its newline) on its own, with
    one exception: under ``unescape_html="auto"``, a line with "<" turns HTML
    unescaping off for the lines after it; a text with "<" is therefore given to
    ftfy whole. Otherwise a line ftfy would not change is kept as it is, and ftfy
    fixes the others one by one. (ftfy also cuts lines longer than
    ``max_decode_length``: such a text is given to ftfy whole too.)

    A line is unchanged when it is in normal form and no fix acts on it: it has no
    trigger character of the fixes but two, and for those two, HTML unescaping
    finds no entity (``HTML_ENTITY_RE``, which starts with "&") and the mojibake
    fix finds nothing bad (``is_bad``, which needs one of MOJIBAKE_CHARS).
    """
    if not ftfy.__version__.startswith(FTFY_CHECKED) or len(text) > config.max_decode_length:
        return ftfy.fix_text(text, config)
    if config not in _TRIGGERS:
        others = config._replace(unescape_html=False, fix_encoding=False)
        _TRIGGERS[config] = ftfy_triggers(config), ftfy_triggers(others)
    triggers, others = _TRIGGERS[config]
    form = config.normalization
    if not triggers.search(text) and (form is None or unicodedata.is_normalized(form, text)):
        return text
    if config.unescape_html == "auto" and "<" in text:
        return ftfy.fix_text(text, config)

    def unchanged(line: str) -> bool:
        return not (
            others.search(line)
            or (config.unescape_html and "&" in line and chardata.HTML_ENTITY_RE.search(line))
            or (config.fix_encoding and _MOJIBAKE_CHAR.search(line) and is_bad(line))
            or (form is not None and not unicodedata.is_normalized(form, line))
        )

    lines = text.split("\n")
    last = len(lines) - 1
    out = []
    for i, line in enumerate(lines):
        segment = line if i == last else line + "\n"
        out.append(segment if unchanged(segment) else ftfy.fix_text(segment, config))
    return "".join(out)


# ---------------------------------------------------------------- garbled text

PRIVATE_USE = re.compile("[\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd]")
_SCRIPTS = {
    "latin_ext": "\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f",
    "greek": "\u0370-\u03ff",
    "cyrillic": "\u0400-\u04ff",
    "hebrew": "\u0590-\u05ff",
    "arabic": "\u0600-\u06ff",
    "thai": "\u0e00-\u0e7f",
    "cjk": "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff",
}
# A letter of one script directly followed by a letter of another.
SCRIPT_MIX = re.compile(
    "|".join(
        f"[{chars}](?=[{''.join(o for n, o in _SCRIPTS.items() if n != name)}])"
        for name, chars in _SCRIPTS.items()
    )
)
MEASURES = {
    "replacement_chars": "U+FFFD replacement characters",
    "private_use_chars": "private-use characters",
    "mojibake": "ftfy badness: wrong-codec sequences",
    "script_mixes": "letters of two scripts touching",
}


# A letter of any script but CJK: one of every SCRIPT_MIX match's two letters.
NOT_CJK_LETTER = re.compile(f"[{''.join(c for n, c in _SCRIPTS.items() if n != 'cjk')}]")
# One scan for any character a private-use, mojibake or script-mix match needs.
_ANY_GARBLED_CHAR = re.compile(
    "|".join(p.pattern for p in (PRIVATE_USE, _MOJIBAKE_CHAR, NOT_CJK_LETTER))
)
if any(ch.isascii() for ch in MOJIBAKE_CHARS):  # Garbled's ASCII shortcut relies on it
    raise RuntimeError("ftfy's badness regex needs an ASCII character: update clean.text")


def garbled_measures(text: str) -> dict[str, float]:
    """Each measure of :data:`MEASURES` as a share of the non-blank characters."""
    chars = len(NON_BLANK.findall(text)) or 1
    return {
        "replacement_chars": text.count("\ufffd") / chars,
        "private_use_chars": len(PRIVATE_USE.findall(text)) / chars,
        "mojibake": badness(text) / chars,
        "script_mixes": len(SCRIPT_MIX.findall(text)) / chars,
    }


@dataclass(frozen=True)
class Garbled:
    """``clean.garbled``: the highest share each measure may reach."""

    bounds: Mapping[str, float]
    fast: bool = True

    def verdict(self, text: str) -> tuple[str, str] | None:
        """(measure, detail) of the first measure over its bound, else None."""
        measures = self._bounded(text) if self.fast else garbled_measures(text).items()
        for name, value in measures:
            bound = self.bounds[name]
            if value > bound:
                return name, f"{name} {value:.4g} > {bound} ({MEASURES[name]} per character)"
        return None

    def _bounded(self, text: str) -> Iterator[tuple[str, float]]:
        """garbled_measures' values in order, or a value no larger where that is
        enough to know it is not over its bound: the two expensive measures are
        first bounded by counts of the characters their matches need. A badness
        match has one of MOJIBAKE_CHARS (matches do not overlap: at most one match
        per such character); a script mix is a letter next to a letter of another
        script, one of them not CJK (at most two mixes per such letter)."""
        suspects = not text.isascii() and _ANY_GARBLED_CHAR.search(text) is not None
        replacement = text.count("\ufffd")
        if not (suspects or replacement):
            yield from dict.fromkeys(MEASURES, 0.0).items()  # 0 whatever the characters
            return
        # str.split() and \S share Python's one definition of whitespace
        chars = sum(map(len, text.split())) or 1
        yield "replacement_chars", replacement / chars
        yield "private_use_chars", (len(PRIVATE_USE.findall(text)) if suspects else 0) / chars
        for name, count, most in (
            ("mojibake", badness, lambda t: len(_MOJIBAKE_CHAR.findall(t))),
            ("script_mixes", lambda t: len(SCRIPT_MIX.findall(t)), _two_per_letter),
        ):
            upper = most(text) if suspects else 0
            if not upper or upper / chars <= self.bounds[name]:
                yield name, upper / chars  # the measure is at most this
            else:
                yield name, count(text) / chars


def _two_per_letter(text: str) -> int:
    return 2 * len(NOT_CJK_LETTER.findall(text))


# ---------------------------------------------------------------- boilerplate lines

BOILERPLATE: dict[str, tuple[str, ...]] = {
    "cookies": (
        r"\b(?:this|our) (?:web ?site|site) uses cookies\b",
        r"\bwe use cookies\b",
        r"\b(?:accept|allow|reject|manage) (?:all )?cookies\b",
        r"\bcookie (?:settings|preferences|policy|consent)\b",
        r"(?:本|此)(?:网站|站点|网页|页面)(?:使用|采用)(?:了)?\s*cookies?",
        r"(?:接受|同意|允许|拒绝)(?:所有|全部)?\s*cookies?",
        r"cookies?\s*(?:设置|政策|偏好)",
    ),
    "browser": (
        r"\byour (?:web )?browser (?:version )?is "
        r"(?:out[- ]of[- ]date|outdated|not supported|too old)",
        r"\b(?:upgrade|update) (?:your browser|to a (?:newer|modern|supported) browser)\b",
        r"\b(?:please )?(?:enable|turn on) javascript\b",
        r"\bjavascript (?:is )?(?:disabled|required|turned off)\b",
        r"(?:您|你)(?:的|使用的)(?:当前)?浏览器(?:版本)?(?:过低|太低|过旧|太旧|不支持|已过时)",
        r"(?:请|建议)(?:您)?(?:升级|更新|更换)(?:您的|你的)?浏览器",
        r"(?:请)?(?:启用|开启|打开)\s*javascript",
    ),
    "copyright": (
        r"^(?:copyright|©|\(c\))\s*(?:©\s*)?(?:\d{4}|by\b)",
        r"\ball rights reserved\b",
        r"版权所有",
        r"ICP[备証证]\s*\d+号",
        r"公网安备\s*\d+号",
        r"未经(?:本站|本网)?(?:许可|授权|同意)[，,]?\s*(?:不得|禁止|严禁)(?:转载|复制)",
    ),
    "app_follow": (
        r"\bdownload (?:our|the) (?:free |mobile )?app\b",
        r"\bscan (?:the|this|our) qr code\b",
        r"\bfollow us on\b",
        r"\b(?:subscribe|sign up) (?:to|for) (?:our|the) newsletter\b",
        r"扫(?:描|一扫|码)?(?:下方|上方|右侧|左侧|页面)?(?:的)?(?:二维码|QR\s*码)",
        r"长按(?:识别|扫描)?(?:图中|下方)?二维码",
        r"关注(?:我们的?|本站)?(?:官方)?(?:微信)?公众号",
        r"下载.{0,12}(?:APP|App|app|客户端)",
        r"点击(?:下方|这里|此处|上方)?(?:阅读原文|关注|下载)",
    ),
}


class Boilerplate:
    """``clean.boilerplate``: site lines removed, counted by kind."""

    def __init__(
        self, max_line_chars: int, extra_patterns: Iterable[str] = (), fast: bool = True
    ) -> None:
        self.max_line_chars = max_line_chars
        kinds = {**BOILERPLATE, "custom": tuple(extra_patterns)}
        self.patterns = {
            kind: re.compile("|".join(f"(?:{p})" for p in pats), re.IGNORECASE)
            for kind, pats in kinds.items()
            if pats
        }
        # Strings one of which every site line contains (None: a pattern has none).
        needed: set[str] | None = set()
        for pattern in self.patterns.values():
            found = required(pattern)
            needed = None if found is None or needed is None else needed | found
        newline = needed and any("\n" in s for s in needed)
        self.fast = fast
        self.pre_check = Keywords(needed) if fast and needed and not newline else None

    def kind_of(self, line: str) -> str | None:
        stripped = line.strip()
        if not stripped or len(stripped) > self.max_line_chars:
            return None
        for kind, pattern in self.patterns.items():
            if pattern.search(stripped):
                return kind
        return None

    def __call__(self, text: str) -> tuple[str, Counter]:
        """(text without boilerplate lines, lines removed by kind)."""
        lines = text.split("\n")
        if not self.fast:
            kinds = [self.kind_of(line) for line in lines]
        else:  # kind_of only looks at lines of at most max_line_chars
            limit = self.max_line_chars
            short = [i for i, line in enumerate(lines) if len(line.strip()) <= limit]
            if self.pre_check is not None and short:
                # the lines among them with a keyword every site pattern needs
                found = self.pre_check.lines_with("\n".join(lines[i] for i in short))
                short = [short[j] for j in sorted(found)]
            if not short:
                return text, Counter()  # no line can match: what remove_lines returns
            kinds = [None] * len(lines)
            for i in short:
                kinds[i] = self.kind_of(lines[i])
        kept, removed, _ = remove_lines(text, lines, kinds)
        return kept, removed


def remove_lines(
    text: str, lines: Sequence[str], kinds: Sequence[str | None]
) -> tuple[str, Counter, int]:
    """The one way stages drop lines (clean's site lines, line corrections, paragraph
    dedup): ``lines`` is ``text.split("\\n")`` and ``kinds`` names why each goes (None:
    kept). Returns (the text without them, empty-line runs closed up; lines removed
    by kind; characters removed, newlines not counted). Nothing removed: ``text``."""
    removed: Counter = Counter(kind for kind in kinds if kind is not None)
    if not removed:
        return text, removed, 0
    kept = [line for line, kind in zip(lines, kinds, strict=True) if kind is None]
    chars = sum(len(line) for line, kind in zip(lines, kinds, strict=True) if kind is not None)
    return EMPTY_LINES.sub("\n\n", "\n".join(kept)).strip(), removed, chars
