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
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ftfy
from ftfy.badness import badness

ZERO_WIDTH = re.compile("[\u200b\u2060\ufeff]")
BLANKS = re.compile(r"[^\S\n]+")
EMPTY_LINES = re.compile(r"\n{3,}")
NON_BLANK = re.compile(r"\S")


def normalize_whitespace(text: str) -> str:
    text = ZERO_WIDTH.sub("", text)
    text = "\n".join(BLANKS.sub(" ", line).strip() for line in text.split("\n"))
    return EMPTY_LINES.sub("\n\n", text).strip()


@dataclass(frozen=True)
class Repair:
    """``clean.unicode``: ftfy, then whitespace."""

    fixer: ftfy.TextFixerConfig | None  # None: no ftfy
    whitespace: bool

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> Repair:
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
        return cls(fixer, cfg["whitespace"])

    def __call__(self, text: str) -> tuple[str, bool, bool]:
        """(text, ftfy changed it, whitespace changed it)."""
        fixed = ftfy.fix_text(text, self.fixer) if self.fixer is not None else text
        spaced = normalize_whitespace(fixed) if self.whitespace else fixed
        return spaced, fixed != text, spaced != fixed


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

    def verdict(self, text: str) -> tuple[str, str] | None:
        """(measure, detail) of the first measure over its bound, else None."""
        for name, value in garbled_measures(text).items():
            bound = self.bounds[name]
            if value > bound:
                return name, f"{name} {value:.4g} > {bound} ({MEASURES[name]} per character)"
        return None


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

    def __init__(self, max_line_chars: int, extra_patterns: Iterable[str] = ()) -> None:
        self.max_line_chars = max_line_chars
        kinds = {**BOILERPLATE, "custom": tuple(extra_patterns)}
        self.patterns = {
            kind: re.compile("|".join(f"(?:{p})" for p in pats), re.IGNORECASE)
            for kind, pats in kinds.items()
            if pats
        }

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
        kept, removed, _ = remove_lines(text, lines, [self.kind_of(line) for line in lines])
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
