"""CC-NET's line normalization before SentencePiece.

Strip, lowercase, strip accents (NFD, drop combining marks), digits -> 0, unify
punctuation, drop non-printing characters. Per-character unicodedata calls dominate
a naive implementation, so here every character's mapping is computed once and
cached in a str.translate table: a document is normalized by one lower() and one
translate().
"""

from __future__ import annotations

import unicodedata

# Line breaks as str.splitlines sees them become "\n"; other whitespace controls a space.
_LINE_BREAKS = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


_SPACES = "\t\u3000"


def _punctuation_map() -> dict[str, str]:
    table = {chr(code): chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)}  # fullwidth
    groups = {
        '"': "“”„‟«»「」『』《》〝〞〟＂",
        "'": "‘’‚‛′‵´`",
        "-": "‐‑‒–—―━─−",
        ".": "。｡．",
        ",": "、､，",
        "<": "〈‹",
        ">": "〉›",
        "[": "【〔〖〘〚",
        "]": "】〕〗〙〛",
        "(": "⦅（",
        ")": "⦆）",
        "...": "…⋯",
        ":": "∶：",
        "~": "～〜",
        "*": "•●▪►",
    }
    for target, sources in groups.items():
        for char in sources:
            table[char] = target
    return table


_PUNCT = _punctuation_map()


def _map_char(char: str) -> str | None:
    """What one (already lowercased) character becomes; None deletes it."""
    if char == "\n":
        return "\n"
    if char in _LINE_BREAKS:
        return "\n"
    if char in _SPACES:
        return " "
    out = []
    for part in unicodedata.normalize("NFD", char):
        category = unicodedata.category(part)
        if category == "Mn":  # accents and other combining marks
            continue
        if category == "Nd":
            out.append("0")
        elif part in _PUNCT:
            out.append(_PUNCT[part])
        elif category[0] == "C":  # control, format, private use, unassigned
            continue
        else:
            out.append(part)
    return "".join(out) or None


class _TranslateTable(dict):
    """str.translate table filled lazily: each code point's mapping computed once."""

    def __missing__(self, code: int) -> int | str | None:
        char = chr(code)
        mapped = _map_char(char)
        value: int | str | None = code if mapped == char else mapped
        self[code] = value
        return value


_TABLE = _TranslateTable()


def normalize_text(text: str) -> str:
    """CC-NET normalization of a whole text; lines are kept (not stripped)."""
    return text.lower().translate(_TABLE)


def normalize_line(line: str) -> str:
    """CC-NET normalization of one line: strip, then normalize."""
    return normalize_text(line.strip()).strip()


def normalized_lines(text: str) -> list[str]:
    """The non-empty normalized lines of a document, as they are scored."""
    return [s for s in (line.strip() for line in normalize_text(text).split("\n")) if s]
