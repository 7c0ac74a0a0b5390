"""Text as dedup sees it: normalization, character classes, languages, reference shingles."""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from ..cjk import IDEOGRAPHS_AND_KANA
from ..lang import lang_code


@functools.cache
def char_classes() -> np.ndarray:
    """Per code point: 0 separator, 1 letter/digit/mark, 2 CJK ideograph or kana."""
    table = np.zeros(0x110000, dtype=np.uint8)
    category = unicodedata.category
    for cp in range(0x110000):
        if category(chr(cp))[0] in "LNM":
            table[cp] = 1
    for lo, hi in IDEOGRAPHS_AND_KANA:
        seg = table[lo : hi + 1]
        seg[seg == 1] = 2
    return table


def normalize(text: str) -> str:
    """NFKC and lower case (separators are applied during tokenization)."""
    if not text:
        return ""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return text.lower()


def doc_langs(docs: pd.DataFrame) -> list[str | None]:
    """Language per document: ``lang`` (language ID), else ``prompt_lang``, else None."""
    langs: list[str | None] = [None] * len(docs)
    for column in ("prompt_lang", "lang"):  # later wins
        if column in docs.columns:
            for i, value in enumerate(docs[column].tolist()):
                code = lang_code(value)
                if code:
                    langs[i] = code
    return langs


def char_mode(texts: Sequence[str], langs: Sequence[str | None], char_langs: Iterable[str]):
    """True for documents shingled by characters: their language, else their script.

    A document without a language is in character mode when at least 30% of its
    letters are CJK ideographs or kana.
    """
    char_langs = set(char_langs)
    mode = np.zeros(len(texts), dtype=bool)
    unknown = []
    for i, lang in enumerate(langs):
        if lang is None:
            unknown.append(i)
        else:
            mode[i] = lang in char_langs
    if unknown and char_langs & {"zh", "ja"}:
        table = char_classes()
        for i in unknown:
            text = texts[i] or ""
            if text.isascii():
                continue
            cls = table[codepoints(text)]
            letters = np.count_nonzero(cls)
            mode[i] = letters > 0 and np.count_nonzero(cls == 2) >= 0.3 * letters
    return mode


def codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "replace"), dtype="<u4")


def reference_tokens(text: str, char_mode: bool) -> list[str]:
    """The tokens of a text, one character at a time (slow; for tests and benchmarks)."""
    table = char_classes()
    tokens: list[str] = []
    current: list[str] = []
    for ch in normalize(text or ""):
        if table[ord(ch)]:
            if char_mode:
                tokens.append(ch)
            else:
                current.append(ch)
        elif current:
            tokens.append("".join(current))
            current = []
    if current:
        tokens.append("".join(current))
    return tokens


def reference_shingles(text: str, char_mode: bool, n: int) -> set[tuple[str, ...]]:
    """The n-gram shingle set of a text (slow; for tests and benchmarks)."""
    tokens = reference_tokens(text, char_mode)
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def jaccard(a: set, b: set) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)
