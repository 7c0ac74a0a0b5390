"""Vectorized token hashing: 64-bit token hashes of whole batches, document, line and
shingle hashes (numpy over every token at once)."""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Sequence

import numpy as np

from .text import char_classes, codepoints, normalize

U64 = np.uint64


M64 = (1 << 64) - 1


C1 = U64(0xFF51AFD7ED558CCD)


C2 = U64(0xC4CEB9FE1A85EC53)


_K_CHAR = U64(0x9E3779B97F4A7C15)


_K_POS = U64(0xD6E8FEB86659FD93)


_K_SEQ = U64(0xE7037ED1A0B428DB)


K_BAND = U64(0x8EBC6AF09C88C6E3)


# odd multipliers for the positions in a shingle (up to 64 tokens)
_SHINGLE_MULT = np.random.RandomState(20240607).randint(0, 1 << 62, size=64, dtype=np.uint64) * U64(
    2
) + U64(1)


def fmix64(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer, in place on a uint64 array."""
    x ^= x >> U64(33)
    x *= C1
    x ^= x >> U64(33)
    x *= C2
    x ^= x >> U64(33)
    return x


def fmix32(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer (datasketch's pre-mix), on a uint32 array."""
    x = x ^ (x >> np.uint32(16))
    x *= np.uint32(0x85EBCA6B)
    x ^= x >> np.uint32(13)
    x *= np.uint32(0xC2B2AE35)
    x ^= x >> np.uint32(16)
    return x


class Tokens:
    """Token hashes of a batch of documents, with their documents (and lines)."""

    __slots__ = ("doc", "hash", "line", "line_start", "n_docs", "n_lines", "start")

    def __init__(self, hash_, doc, start, line=None, line_start=None):
        self.hash = hash_  # uint64 per token
        self.doc = doc  # int64 document index per token (non-decreasing)
        self.start = start  # int64 first token of each document, plus the total
        self.line = line  # int64 batch line index per token, or None
        self.line_start = line_start  # int64 first line of each document, plus the total
        self.n_docs = len(start) - 1
        self.n_lines = 0 if line_start is None else int(line_start[-1])

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.start)


class _TokenCache(dict):
    """token -> 64-bit hash (as int64); computed on first lookup."""

    def __missing__(self, token: str) -> int:
        digest = hashlib.blake2b(token.encode("utf-8", "surrogatepass"), digest_size=8).digest()
        value = self[token] = int.from_bytes(digest, "little", signed=True)
        return value


_TOKEN_CACHE = _TokenCache()


_TOKEN_CACHE_MAX = 500_000  # about 100 MB
# Word tokens turned into hashes at a time (their strings held meanwhile).
_HASH_CHUNK = 65_536


# ASCII: letters and digits are word characters, everything else separates
_ASCII_SEPARATORS = str.maketrans({chr(c): " " for c in range(128) if not chr(c).isalnum()})


@functools.cache
def _word_regex() -> re.Pattern:
    """A regex matching runs of letters, digits and marks (class != 0)."""
    table = char_classes() != 0
    edges = np.flatnonzero(np.diff(np.concatenate([[False], table, [False]]).astype(np.int8)))
    ranges = []
    for lo, hi in zip(edges[::2], edges[1::2] - 1, strict=True):
        lo_c, hi_c = re.escape(chr(lo)), re.escape(chr(hi))
        ranges.append(lo_c if lo == hi else f"{lo_c}-{hi_c}")
    return re.compile("[" + "".join(ranges) + "]+")


def word_tokens(normed: str) -> list[str]:
    """Runs of letters, digits and marks of a normalized text."""
    if normed.isascii():
        return normed.translate(_ASCII_SEPARATORS).split()
    return _word_regex().findall(normed)


def _word_hashes(units: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of the word tokens of every unit (cached per distinct token), and counts.

    The tokens are hashed ``_HASH_CHUNK`` at a time: a batch's token strings are never
    held at once (2,000 documents of 800 words were 1.6 million strings, ~100 MB)."""
    if len(_TOKEN_CACHE) > _TOKEN_CACHE_MAX:
        _TOKEN_CACHE.clear()
    lookup = _TOKEN_CACHE.__getitem__

    def hashed(tokens: list[str]) -> np.ndarray:
        return np.fromiter(map(lookup, tokens), dtype=np.int64, count=len(tokens))

    counts = np.zeros(len(units), dtype=np.int64)
    parts: list[np.ndarray] = []
    tokens: list[str] = []
    for i, unit in enumerate(units):
        toks = word_tokens(unit)
        counts[i] = len(toks)
        tokens += toks
        if len(tokens) >= _HASH_CHUNK:
            parts.append(hashed(tokens))
            tokens = []
    parts.append(hashed(tokens))
    return np.concatenate(parts).view(np.uint64), counts


def char_hashes(units: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of the characters (letters, digits, marks) of every unit, and counts."""
    lengths = np.fromiter((len(u) for u in units), dtype=np.int64, count=len(units))
    cp = codepoints("\n".join(units))
    unit_start = np.zeros(len(units) + 1, dtype=np.int64)
    np.cumsum(lengths + 1, out=unit_start[1:])
    pos = np.flatnonzero(char_classes()[cp])
    unit = np.searchsorted(unit_start, pos, side="right") - 1
    counts = np.bincount(unit, minlength=len(units)).astype(np.int64)
    h = cp[pos].astype(np.uint64)
    h *= _K_CHAR
    h += _K_POS
    return fmix64(h), counts


def tokenize(
    texts: Sequence[str], char_mode: np.ndarray | bool = False, lines: bool = False
) -> Tokens:
    """Hash every token of every text (word tokens in word mode, characters in char mode).

    A token's hash depends on its characters and the mode only. With ``lines``,
    every token also gets the index of its line (``text.split("\\n")`` order,
    documents one after the other) and ``line_start`` gives each document's first line.
    """
    n_docs = len(texts)
    normed = [normalize(t) if isinstance(t, str) else "" for t in texts]
    mode = np.broadcast_to(np.asarray(char_mode, dtype=bool), (n_docs,))
    line_start = None
    units: list[str] = normed
    unit_doc = np.arange(n_docs)
    if lines:
        units, per_doc = [], np.zeros(n_docs, dtype=np.int64)
        for i, t in enumerate(normed):
            parts = t.split("\n")
            units += parts
            per_doc[i] = len(parts)
        line_start = np.zeros(n_docs + 1, dtype=np.int64)
        np.cumsum(per_doc, out=line_start[1:])
        unit_doc = np.repeat(np.arange(n_docs), per_doc)
    unit_mode = mode[unit_doc]
    counts = np.zeros(len(units), dtype=np.int64)
    pieces = []
    for is_char, fn in ((False, _word_hashes), (True, char_hashes)):
        which = np.flatnonzero(unit_mode == is_char)
        if len(which):
            h, c = fn([units[u] for u in which])
            counts[which] = c
            pieces.append((which, h, c))
    total = int(counts.sum())
    if len(pieces) == 1:
        hashes = pieces[0][1]
    else:
        hashes = np.zeros(total, dtype=np.uint64)
        dst = np.zeros(len(units) + 1, dtype=np.int64)
        np.cumsum(counts, out=dst[1:])
        for which, h, c in pieces:
            src = np.zeros(len(which), dtype=np.int64)
            np.cumsum(c[:-1], out=src[1:])
            hashes[np.repeat(dst[which] - src, c) + np.arange(len(h))] = h
    unit_of_token = np.repeat(np.arange(len(units)), counts)
    doc = unit_doc[unit_of_token]
    start = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(
        np.bincount(unit_doc, weights=counts, minlength=n_docs).astype(np.int64), out=start[1:]
    )
    return Tokens(hashes, doc, start, unit_of_token if lines else None, line_start)


def _segment_hash(tok_hash: np.ndarray, seg: np.ndarray, n_segments: int) -> np.ndarray:
    """Order-aware 64-bit hash of each segment's token sequence (0 for an empty one).

    ``seg`` is the non-decreasing segment index of every token.
    """
    out = np.zeros(n_segments, dtype=np.uint64)
    if len(tok_hash) == 0:
        return out
    first = np.flatnonzero(np.diff(seg, prepend=-1))
    rank = np.arange(len(seg)) - np.repeat(first, np.diff(np.append(first, len(seg))))
    v = tok_hash ^ (rank.astype(np.uint64) * _K_SEQ)
    fmix64(v)
    sums = np.add.reduceat(v, first)
    sums += np.diff(np.append(first, len(seg))).astype(np.uint64)
    fmix64(sums)
    sums |= U64(1)  # never 0, which marks an empty segment
    out[seg[first]] = sums
    return out


def exact_hashes(tokens: Tokens) -> np.ndarray:
    """One 64-bit hash per document of its normalized token sequence (0 if empty)."""
    return _segment_hash(tokens.hash, tokens.doc, tokens.n_docs)


def line_hashes(tokens: Tokens) -> np.ndarray:
    """One 64-bit hash per line (0 for a line without tokens)."""
    return _segment_hash(tokens.hash, tokens.line, tokens.n_lines)


def shingle_hashes(tokens: Tokens, n: int) -> tuple[np.ndarray, np.ndarray]:
    """32-bit hashes of the n-token shingles of every document, and per-document offsets.

    A document with fewer than ``n`` tokens has no shingle.
    """
    if n < 1 or n > len(_SHINGLE_MULT):
        raise ValueError(f"n-gram size must be in 1..{len(_SHINGLE_MULT)}")
    counts = tokens.counts
    n_sh = np.maximum(counts - (n - 1), 0)
    offsets = np.zeros(tokens.n_docs + 1, dtype=np.int64)
    np.cumsum(n_sh, out=offsets[1:])
    m = len(tokens.hash) - n + 1
    if m <= 0 or offsets[-1] == 0:
        return np.zeros(0, dtype=np.uint32), offsets
    acc = tokens.hash[:m] * _SHINGLE_MULT[0]
    for j in range(1, n):
        acc += tokens.hash[j : j + m] * _SHINGLE_MULT[j]
    valid = tokens.doc[:m] == tokens.doc[n - 1 : n - 1 + m]
    acc = acc[valid]
    fmix64(acc)
    return (acc >> U64(32)).astype(np.uint32), offsets
