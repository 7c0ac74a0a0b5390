"""Dedup stage: exact + MinHash near-duplicate removal, as scatter/gather steps.

The steps (one Snakemake rule each, files between them; see rules/dedup.smk):

1. ``fingerprint`` (per shard): the 64-bit hash of each document's normalized
   text, its length, its language mode and, when boilerplate removal is on, the
   hash of each normalized paragraph (line).
2. ``exact`` (gather): documents with the same hash form an exact cluster and all
   but one are removed; paragraphs found in ``min_docs`` or more documents are
   boilerplate (CC-NET style).
3. ``signatures`` (per shard): MinHash signatures of word n-grams (character
   n-grams for zh/ja). Tokens come from Python's C string methods and a cached
   token -> hash table; shingle hashes, permutations and minima are numpy over
   whole batches of documents, with datasketch's permutation math (its default
   ``affine32`` scheme, or ``legacy``), checked against datasketch in the tests.
4. ``bands`` (per band group): LSH bands of ``rows`` signature rows; documents
   sharing a band hash become candidate pairs (sort and group, no dict).
5. ``clusters`` (gather): candidate pairs verified by estimated Jaccard, merged
   with union-find; one document per cluster is kept by a deterministic rule.
6. ``filter`` (per shard): drop the others, each into the rejected file with
   ``reason`` and a JSON ``detail`` (``cluster_id``, ``kept_id``, ...).

Reasons for rejection: ``exact_duplicate``, ``near_duplicate``, ``boilerplate_only``.

Normalization (everywhere): NFKC, lower case, every character that is not a
letter, digit or mark (punctuation, symbols, spaces, controls) is a separator.
Tokens are runs of letters/digits/marks (word mode) or single characters
(character mode, for the languages in ``char_langs``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .io import atomic_output
from .records import reject_records, stage_stats

STAGE = "dedup"
EXACT = "exact_duplicate"
NEAR = "near_duplicate"
BOILERPLATE = "boilerplate_only"
SCHEMES = ("affine32", "legacy")
KEEP_RULES = ("perplexity", "length", "id")

DEFAULTS: dict[str, Any] = {
    "exact": True,  # remove exact duplicates (same normalized text)
    "near": True,  # remove MinHash near-duplicates
    "threshold": 0.8,  # Jaccard similarity of shingle sets that makes a near-duplicate
    "num_perm": 128,
    "seed": 1,  # datasketch MinHash seed (permutation parameters)
    "scheme": "affine32",  # datasketch permutation scheme: affine32 (its default) or legacy
    "word_ngram": 5,
    "char_ngram": 5,
    "char_langs": ["zh", "ja"],  # languages shingled by characters
    "min_tokens": 10,  # shorter documents are kept and never clustered
    "bands": 21,  # null with rows null: datasketch's optimal split for threshold
    "rows": 6,
    "optimal_weights": [0.5, 0.5],  # false positive, false negative weights for the optimum
    "band_groups": 4,  # band jobs
    "max_bucket_pairs": 32,  # buckets up to this size link all pairs, larger ones star + chain
    "verify": True,  # check candidates by estimated Jaccard before merging
    "verify_threshold": None,  # null: threshold - 2.33 standard errors of the estimate
    "keep": "perplexity",  # perplexity (lowest, else longest), length (longest), id (smallest)
    "boilerplate": {"enabled": False, "min_docs": 3, "min_tokens": 5},
}

# Documents are processed in batches of about this many characters (memory only;
# results do not depend on it).
BATCH_CHARS = 4_000_000
# Rows of the (shingles x permutations) matrix computed at once.
PERM_CHUNK_ELEMENTS = 1 << 20  # 4 MB of uint32

_U64 = np.uint64
_M64 = (1 << 64) - 1
_C1 = _U64(0xFF51AFD7ED558CCD)
_C2 = _U64(0xC4CEB9FE1A85EC53)
_K_CHAR = _U64(0x9E3779B97F4A7C15)
_K_POS = _U64(0xD6E8FEB86659FD93)
_K_SEQ = _U64(0xE7037ED1A0B428DB)
_K_BAND = _U64(0x8EBC6AF09C88C6E3)
# odd multipliers for the positions in a shingle (up to 64 tokens)
_SHINGLE_MULT = np.random.RandomState(20240607).randint(
    0, 1 << 62, size=64, dtype=np.uint64
) * _U64(2) + _U64(1)
_CJK_RANGES = (
    (0x3040, 0x30FF),  # hiragana, katakana
    (0x31F0, 0x31FF),
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width katakana
    (0x20000, 0x3FFFF),  # CJK extensions B and later
)
_LANG_ALIASES = {"zho": "zh", "cmn": "zh", "chi": "zh", "yue": "zh", "jpn": "ja"}


# ---------------------------------------------------------------- configuration


def resolve_config(cfg: dict[str, Any] | None) -> dict[str, Any]:
    """The stage's configuration with defaults filled in and bands/rows resolved."""
    cfg = dict(cfg or {})
    unknown = set(cfg) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"dedup: unknown keys {sorted(unknown)}")
    out = {**DEFAULTS, **cfg}
    out["boilerplate"] = {**DEFAULTS["boilerplate"], **(cfg.get("boilerplate") or {})}
    out["char_langs"] = sorted({_lang_code(x) for x in out["char_langs"]})
    if out["scheme"] not in SCHEMES:
        raise ValueError(f"dedup.scheme must be one of {SCHEMES}")
    if out["keep"] not in KEEP_RULES:
        raise ValueError(f"dedup.keep must be one of {KEEP_RULES}")
    if not 0.0 < float(out["threshold"]) <= 1.0:
        raise ValueError("dedup.threshold must be in (0, 1]")
    num_perm = int(out["num_perm"])
    if out["bands"] is None or out["rows"] is None:
        if out["bands"] is not None or out["rows"] is not None:
            raise ValueError("dedup: set both bands and rows, or neither")
        from datasketch.lsh import _optimal_param

        fp_w, fn_w = out["optimal_weights"]
        b, r = _optimal_param(float(out["threshold"]), num_perm, fp_w, fn_w)
        out["bands"], out["rows"] = int(b), int(r)
    if int(out["bands"]) * int(out["rows"]) > num_perm:
        raise ValueError("dedup: bands x rows must not exceed num_perm")
    out["band_groups"] = max(1, min(int(out["band_groups"]), int(out["bands"])))
    if out["verify_threshold"] is None:
        t = float(out["threshold"])
        out["verify_threshold"] = round(t - 2.33 * math.sqrt(t * (1 - t) / num_perm), 4)
    out["min_tokens"] = int(out["min_tokens"])
    return out


def band_group_names(cfg: dict[str, Any]) -> list[str]:
    return [f"b{i:02d}" for i in range(cfg["band_groups"])]


def bands_of_group(cfg: dict[str, Any], group: str) -> list[int]:
    """The bands one band job handles (round robin over the groups)."""
    index = int(group.lstrip("b"))
    return list(range(index, int(cfg["bands"]), int(cfg["band_groups"])))


def candidate_probability(jaccard: float, bands: int, rows: int) -> float:
    """Chance that a pair with this Jaccard shares at least one band."""
    return 1.0 - (1.0 - jaccard**rows) ** bands


# ---------------------------------------------------------------- normalization


@functools.cache
def char_classes() -> np.ndarray:
    """Per code point: 0 separator, 1 letter/digit/mark, 2 CJK ideograph or kana."""
    table = np.zeros(0x110000, dtype=np.uint8)
    category = unicodedata.category
    for cp in range(0x110000):
        if category(chr(cp))[0] in "LNM":
            table[cp] = 1
    for lo, hi in _CJK_RANGES:
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


def _lang_code(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    code = str(value).strip().lower().removeprefix("__label__")
    code = code.replace("-", "_").split("_")[0]
    return _LANG_ALIASES.get(code, code) or None


def doc_langs(docs: pd.DataFrame) -> list[str | None]:
    """Language per document: ``lang`` (language ID), else ``prompt_lang``, else None."""
    langs: list[str | None] = [None] * len(docs)
    for column in ("prompt_lang", "lang"):  # later wins
        if column in docs.columns:
            for i, value in enumerate(docs[column].tolist()):
                code = _lang_code(value)
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
            cls = table[_codepoints(text)]
            letters = np.count_nonzero(cls)
            mode[i] = letters > 0 and np.count_nonzero(cls == 2) >= 0.3 * letters
    return mode


def _codepoints(text: str) -> np.ndarray:
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


# ---------------------------------------------------------------- vectorized hashing


def _fmix64(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer, in place on a uint64 array."""
    x ^= x >> _U64(33)
    x *= _C1
    x ^= x >> _U64(33)
    x *= _C2
    x ^= x >> _U64(33)
    return x


def _fmix32(x: np.ndarray) -> np.ndarray:
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
    """Hashes of the word tokens of every unit (cached per distinct token), and counts."""
    tokens: list[str] = []
    counts = np.zeros(len(units), dtype=np.int64)
    for i, unit in enumerate(units):
        toks = word_tokens(unit)
        counts[i] = len(toks)
        tokens += toks
    if not tokens:
        return np.zeros(0, dtype=np.uint64), counts
    if len(_TOKEN_CACHE) > _TOKEN_CACHE_MAX:
        _TOKEN_CACHE.clear()
    lookup = _TOKEN_CACHE.__getitem__
    hashes = np.fromiter(map(lookup, tokens), dtype=np.int64, count=len(tokens))
    return hashes.view(np.uint64), counts


def _char_hashes(units: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of the characters (letters, digits, marks) of every unit, and counts."""
    lengths = np.fromiter((len(u) for u in units), dtype=np.int64, count=len(units))
    cp = _codepoints("\n".join(units))
    unit_start = np.zeros(len(units) + 1, dtype=np.int64)
    np.cumsum(lengths + 1, out=unit_start[1:])
    pos = np.flatnonzero(char_classes()[cp])
    unit = np.searchsorted(unit_start, pos, side="right") - 1
    counts = np.bincount(unit, minlength=len(units)).astype(np.int64)
    h = cp[pos].astype(np.uint64)
    h *= _K_CHAR
    h += _K_POS
    return _fmix64(h), counts


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
    for is_char, fn in ((False, _word_hashes), (True, _char_hashes)):
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
    _fmix64(v)
    sums = np.add.reduceat(v, first)
    sums += np.diff(np.append(first, len(seg))).astype(np.uint64)
    _fmix64(sums)
    sums |= _U64(1)  # never 0, which marks an empty segment
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
    _fmix64(acc)
    return (acc >> _U64(32)).astype(np.uint32), offsets


# ---------------------------------------------------------------- MinHash


class Permutations:
    """datasketch's permutation parameters for (num_perm, seed, scheme)."""

    def __init__(self, num_perm: int = 128, seed: int = 1, scheme: str = "affine32"):
        from datasketch import MinHash

        if scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES}")
        mh = MinHash(num_perm=num_perm, seed=seed, scheme=scheme)
        a, b = mh.permutations
        self.scheme = scheme
        self.num_perm = num_perm
        self.seed = seed
        if scheme == "affine32":
            self.a = np.asarray(a, dtype=np.uint32)
            self.b = np.asarray(b, dtype=np.uint32)
        else:
            self.a = np.asarray(a, dtype=np.uint64)
            self.b = np.asarray(b, dtype=np.uint64)


def minhash(hv: np.ndarray, offsets: np.ndarray, perms: Permutations) -> np.ndarray:
    """MinHash signatures (n_docs x num_perm, uint32) from 32-bit shingle hashes.

    Document ``i`` owns ``hv[offsets[i]:offsets[i+1]]``. The values equal
    datasketch's ``MinHash(num_perm, seed, scheme, hashfunc=identity)`` after
    ``update_batch`` of the same hashes; a document without shingles gets
    datasketch's empty value (2^32 - 1 everywhere).
    """
    n_docs = len(offsets) - 1
    sig = np.full((n_docs, perms.num_perm), np.uint32(0xFFFFFFFF), dtype=np.uint32)
    if n_docs == 0 or offsets[-1] == 0:
        return sig
    if perms.scheme == "affine32":
        x = _fmix32(np.asarray(hv, dtype=np.uint32))
    else:
        x = np.asarray(hv, dtype=np.uint64)
    nonempty = np.flatnonzero(np.diff(offsets) > 0)
    chunk = max(1, PERM_CHUNK_ELEMENTS // perms.num_perm)
    a = perms.a[:, None]
    b = perms.b[:, None]
    buf = np.empty((perms.num_perm, chunk), dtype=a.dtype)
    i = 0
    while i < len(nonempty):
        # whole documents, about `chunk` shingles (one document may be longer)
        lo = offsets[nonempty[i]]
        j = int(np.searchsorted(offsets[nonempty + 1], lo + chunk, side="right"))
        j = max(j, i + 1)
        docs = nonempty[i:j]
        hi = offsets[docs[-1] + 1]
        block = (
            buf[:, : hi - lo] if hi - lo <= chunk else np.empty((perms.num_perm, hi - lo), a.dtype)
        )
        np.multiply(a, x[None, lo:hi], out=block)
        block += b
        if perms.scheme == "legacy":
            block %= _U64((1 << 61) - 1)
            block &= _U64(0xFFFFFFFF)
        sig[docs] = np.minimum.reduceat(block, offsets[docs] - lo, axis=1).T
        i = j
    return sig


def estimated_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> np.ndarray:
    """Row-wise fraction of equal signature values."""
    return np.count_nonzero(sig_a == sig_b, axis=1) / sig_a.shape[1]


def _batches(texts: Sequence[str], limit: int = BATCH_CHARS) -> Iterator[slice]:
    start, size = 0, 0
    for i, t in enumerate(texts):
        size += len(t)
        if size >= limit:
            yield slice(start, i + 1)
            start, size = i + 1, 0
    if start < len(texts):
        yield slice(start, len(texts))


def _texts(docs: pd.DataFrame) -> list[str]:
    return [t if isinstance(t, str) else "" for t in docs["text"].tolist()]


def _perplexity(docs: pd.DataFrame) -> np.ndarray:
    if "perplexity" in docs.columns:
        return pd.to_numeric(docs["perplexity"], errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
    return np.full(len(docs), np.nan)


# ---------------------------------------------------------------- files


def signature_table(meta: pd.DataFrame, sig: np.ndarray) -> pa.Table:
    """Signature rows as Arrow: the meta columns plus ``signature`` (fixed-size uint32 list)."""
    table = pa.Table.from_pandas(meta.reset_index(drop=True), preserve_index=False)
    flat = pa.array(np.ascontiguousarray(sig, dtype=np.uint32).reshape(-1), type=pa.uint32())
    table = table.append_column(
        "signature", pa.FixedSizeListArray.from_arrays(flat, sig.shape[1] if sig.ndim == 2 else 0)
    )
    return table.replace_schema_metadata(None)


def write_table(table: pa.Table, path: str) -> None:
    """Write an Arrow table atomically and reproducibly (like io.write_parquet)."""
    with atomic_output(path) as tmp:
        pq.write_table(table, tmp, compression="zstd", use_dictionary=False)


def read_signatures(path: str, num_perm: int) -> np.ndarray:
    """The signature matrix (rows x num_perm, uint32) of one signature file."""
    column = pq.read_table(path, columns=["signature"]).column("signature")
    if len(column) == 0:
        return np.zeros((0, num_perm), dtype=np.uint32)
    flat = column.combine_chunks().flatten().to_numpy()
    return flat.reshape(-1, num_perm)


def _ranks(values: np.ndarray) -> np.ndarray:
    """Rank of each string in sorted order (equal strings, equal ranks)."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    _, inverse = np.unique(values.astype(str), return_inverse=True)
    return inverse.astype(np.int64)


def keep_order(
    group: np.ndarray, ids: np.ndarray, length: np.ndarray, ppl: np.ndarray, rule: str
) -> np.ndarray:
    """Row order that sorts by group, then best document first by the keep rule.

    ``perplexity``: lowest perplexity (unscored last), then longest, then smallest id;
    ``length``: longest, then smallest id; ``id``: smallest id.
    """
    keys = [_ranks(ids)]
    if rule in ("perplexity", "length"):
        keys.append(-np.asarray(length, dtype=np.int64))
    if rule == "perplexity":
        keys.append(np.where(np.isnan(ppl), np.inf, ppl))
    keys.append(group)
    return np.lexsort(keys)


def _detail(**fields: Any) -> str:
    return json.dumps(
        {k: v for k, v in fields.items() if v is not None}, sort_keys=True, ensure_ascii=False
    )


# ---------------------------------------------------------------- step 1: fingerprint


def fingerprint(docs: pd.DataFrame, cfg: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per document: exact hash, token count in its mode, length, perplexity, short flag.

    With boilerplate removal on, also the distinct non-empty line hashes of every
    document (``doc`` = row in the shard), ``counts`` telling whether the line is
    long enough to count towards boilerplate.
    """
    texts = _texts(docs)
    mode = char_mode(texts, doc_langs(docs), cfg["char_langs"])
    min_tokens = _min_tokens(mode, cfg)
    bp = cfg["boilerplate"]
    ehash = np.zeros(len(texts), dtype=np.uint64)
    ntok = np.zeros(len(texts), dtype=np.int64)
    para_parts: list[pd.DataFrame] = []
    for sl in _batches(texts):
        batch = texts[sl]
        words = tokenize(batch, False, lines=bp["enabled"])
        ehash[sl] = exact_hashes(words)
        ntok[sl] = words.counts
        chars = np.flatnonzero(mode[sl])
        if len(chars):
            ntok[sl.start + chars] = _char_hashes([normalize(batch[i]) for i in chars])[1]
        if bp["enabled"]:
            toks = tokenize(batch, mode[sl], lines=True) if len(chars) else words
            lh = line_hashes(words)
            lcount = np.bincount(toks.line, minlength=toks.n_lines)
            ldoc = np.repeat(np.arange(len(batch)), np.diff(words.line_start)) + sl.start
            ok = lh != 0
            para_parts.append(
                pd.DataFrame(
                    {"doc": ldoc[ok], "hash": lh[ok], "counts": lcount[ok] >= bp["min_tokens"]}
                )
            )
    fp = pd.DataFrame(
        {
            "id": docs["id"].astype(str).to_numpy(),
            "exact_hash": ehash,
            "tokens": ntok,
            "length": np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts)),
            "perplexity": _perplexity(docs),
            "short": ntok < min_tokens,
        }
    )
    if para_parts:
        paras = pd.concat(para_parts, ignore_index=True)
        paras = (
            paras.sort_values(["doc", "hash", "counts"], kind="stable")
            .drop_duplicates(["doc", "hash"], keep="last")
            .reset_index(drop=True)
        )
    else:
        paras = pd.DataFrame(
            {
                "doc": np.zeros(0, np.int64),
                "hash": np.zeros(0, np.uint64),
                "counts": np.zeros(0, bool),
            }
        )
    return fp, paras


def _min_tokens(mode: np.ndarray, cfg: dict[str, Any]) -> np.ndarray:
    n = np.where(mode, int(cfg["char_ngram"]), int(cfg["word_ngram"]))
    return np.maximum(n, int(cfg["min_tokens"]))


# ---------------------------------------------------------------- step 2: exact


def concat_fingerprints(
    shards: Iterable[tuple[pd.DataFrame, pd.DataFrame]],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The (fingerprints, paragraphs) of several shards as one pair, for
    :func:`exact_duplicates`: each paragraph's ``doc`` is moved past the rows of
    the shards before its own."""
    fps, paras, offset = [], [], 0
    for fp, para in shards:
        para = para.assign(doc=para["doc"] + offset)
        offset += len(fp)
        fps.append(fp)
        paras.append(para)
    return pd.concat(fps, ignore_index=True), pd.concat(paras, ignore_index=True)


def exact_duplicates(
    fp: pd.DataFrame,
    paras: pd.DataFrame | None,
    cfg: dict[str, Any],
) -> tuple[pd.DataFrame, np.ndarray, dict[str, Any]]:
    """Exact clusters over all shards, and the boilerplate paragraph hashes.

    ``fp``: the fingerprint rows of every shard, concatenated (``paras.doc`` indexes
    its rows). Returns the removed documents (``id``, ``kept_id``, ``cluster_id``),
    the sorted boilerplate hashes and stats.
    """
    n = len(fp)
    bp = cfg["boilerplate"]
    boiler = np.zeros(0, dtype=np.uint64)
    boiler_only = np.zeros(n, dtype=bool)
    if bp["enabled"] and paras is not None and len(paras):
        counted = paras.loc[paras["counts"].to_numpy(bool), "hash"].to_numpy(np.uint64)
        values, counts = np.unique(counted, return_counts=True)
        boiler = values[counts >= int(bp["min_docs"])]
        in_boiler = np.isin(paras["hash"].to_numpy(np.uint64), boiler)
        all_boiler = pd.Series(in_boiler).groupby(paras["doc"].to_numpy()).all()
        boiler_only[all_boiler.index[all_boiler.to_numpy()].to_numpy()] = True
    eligible = ~fp["short"].to_numpy(bool) & ~boiler_only
    removed = pd.DataFrame(columns=["id", "kept_id", "cluster_id"])
    groups = 0
    if cfg["exact"] and eligible.any():
        sub = fp[eligible].reset_index(drop=True)
        h = sub["exact_hash"].to_numpy(np.uint64)
        order = keep_order(
            h,
            sub["id"].to_numpy(),
            sub["length"].to_numpy(),
            sub["perplexity"].to_numpy(np.float64),
            cfg["keep"],
        )
        hs = h[order]
        first = np.ones(len(hs), dtype=bool)
        first[1:] = hs[1:] != hs[:-1]
        head = np.maximum.accumulate(np.where(first, np.arange(len(hs)), 0))
        dup = ~first
        ids = sub["id"].to_numpy()[order]
        removed = pd.DataFrame(
            {
                "id": ids[dup],
                "kept_id": ids[head[dup]],
                "cluster_id": [f"exact:{int(x):016x}" for x in hs[dup]],
            }
        )
        groups = int(np.count_nonzero(first & np.append(dup[1:], False)))
    removed = removed.sort_values("id", kind="stable").reset_index(drop=True)
    stats = {
        "docs": n,
        "short_docs": int(fp["short"].sum()),
        "exact_clusters": groups,
        "exact_removed": len(removed),
        "boilerplate_hashes": len(boiler),
        "boilerplate_only_docs": int(boiler_only.sum()),
    }
    return removed, np.sort(boiler), stats


# ---------------------------------------------------------------- boilerplate lines


def strip_boilerplate(
    texts: Sequence[str], boilerplate: np.ndarray
) -> tuple[list[str], np.ndarray]:
    """Texts without their boilerplate lines, and the number of lines removed from each."""
    texts = list(texts)
    removed = np.zeros(len(texts), dtype=np.int64)
    if len(boilerplate) == 0 or not texts:
        return texts, removed
    for sl in _batches(texts):
        words = tokenize(texts[sl], False, lines=True)
        drop = np.isin(line_hashes(words), boilerplate)
        if not drop.any():
            continue
        ldoc = np.repeat(np.arange(sl.stop - sl.start), np.diff(words.line_start))
        per_doc = np.bincount(ldoc[drop], minlength=sl.stop - sl.start)
        removed[sl] = per_doc
        for d in np.flatnonzero(per_doc):
            lo = words.line_start[d]
            lines = texts[sl.start + d].split("\n")
            keep = ~drop[lo : lo + len(lines)]
            texts[sl.start + d] = "\n".join(x for x, k in zip(lines, keep, strict=True) if k)
    return texts, removed


# ---------------------------------------------------------------- step 3: signatures


def signatures(
    docs: pd.DataFrame,
    exact_removed: Iterable[str],
    boilerplate: np.ndarray,
    cfg: dict[str, Any],
    perms: Permutations | None = None,
) -> tuple[pd.DataFrame, np.ndarray, dict[str, Any]]:
    """MinHash signatures of one shard's documents that take part in near dedup.

    Skipped: exact duplicates already removed, and documents shorter than
    ``min_tokens`` (after boilerplate lines are stripped). Returns the meta rows
    (``id``, ``length``, ``perplexity``), the matching signature matrix and stats.
    """
    perms = perms or Permutations(cfg["num_perm"], cfg["seed"], cfg["scheme"])
    skip = docs["id"].astype(str).isin(set(exact_removed)).to_numpy()
    docs = docs[~skip].reset_index(drop=True)
    texts = _texts(docs)
    length = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    texts, _ = strip_boilerplate(texts, boilerplate)
    mode = char_mode(texts, doc_langs(docs), cfg["char_langs"])
    min_tokens = _min_tokens(mode, cfg)
    sig = np.zeros((len(texts), perms.num_perm), dtype=np.uint32)
    signed = np.zeros(len(texts), dtype=bool)
    if cfg["near"]:
        for sl in _batches(texts):
            for is_char in (False, True):
                rows = np.flatnonzero(mode[sl] == is_char) + sl.start
                if len(rows) == 0:
                    continue
                toks = tokenize([texts[i] for i in rows], is_char)
                ok = toks.counts >= min_tokens[rows]
                n = int(cfg["char_ngram"] if is_char else cfg["word_ngram"])
                hv, offsets = shingle_hashes(toks, n)
                sig[rows] = minhash(hv, offsets, perms)
                signed[rows] = ok
    meta = pd.DataFrame(
        {
            "id": docs["id"].astype(str).to_numpy()[signed],
            "length": length[signed],
            "perplexity": _perplexity(docs)[signed],
        }
    )
    stats = {
        "docs": len(skip),
        "exact_skipped": int(skip.sum()),
        "signed": int(signed.sum()),
        "short_docs": int((~signed).sum()) if cfg["near"] else 0,
        "char_mode_docs": int(mode.sum()),
    }
    return meta, sig[signed], stats


# ---------------------------------------------------------------- step 4: bands


def band_hashes(sig: np.ndarray, band: int, rows: int) -> np.ndarray:
    """One 64-bit hash per document of its ``rows`` signature values in ``band``."""
    block = sig[:, band * rows : (band + 1) * rows].astype(np.uint64)
    h = np.full(len(sig), _U64(((band + 1) * int(_K_BAND)) & _M64), dtype=np.uint64)
    for j in range(rows):
        h ^= block[:, j]
        h *= _C1
        h ^= h >> _U64(29)
    return _fmix64(h)


def bucket_pairs(h: np.ndarray, max_bucket_pairs: int) -> np.ndarray:
    """Candidate pairs among documents with equal hash, as uint64 ``lo << 32 | hi``.

    Buckets of up to ``max_bucket_pairs`` documents give all their pairs; larger
    ones link every member to the first (smallest index) and to its neighbour.
    """
    n = len(h)
    if n < 2:
        return np.zeros(0, dtype=np.uint64)
    order = np.argsort(h, kind="stable")
    hs = h[order]
    first = np.ones(n, dtype=bool)
    first[1:] = hs[1:] != hs[:-1]
    starts = np.flatnonzero(first)
    sizes = np.diff(np.append(starts, n))
    parts_a, parts_b = [], []
    small = (sizes >= 2) & (sizes <= max_bucket_pairs)
    for size in np.unique(sizes[small]):
        members = order[starts[sizes == size][:, None] + np.arange(size)]
        iu, ju = np.triu_indices(size, 1)
        parts_a.append(members[:, iu].ravel())
        parts_b.append(members[:, ju].ravel())
    big = sizes > max_bucket_pairs
    for start, size in zip(starts[big], sizes[big], strict=True):
        members = order[start : start + size]
        parts_a += [np.full(size - 1, members[0]), members[1:-1]]
        parts_b += [members[1:], members[2:]]
    if not parts_a:
        return np.zeros(0, dtype=np.uint64)
    a = np.concatenate(parts_a).astype(np.uint64)
    b = np.concatenate(parts_b).astype(np.uint64)
    return np.minimum(a, b) << _U64(32) | np.maximum(a, b)


def band_candidates(
    sigs: Iterable[np.ndarray], bands: Sequence[int], cfg: dict[str, Any]
) -> tuple[np.ndarray, int]:
    """Distinct candidate pairs (global row indices) from some bands over all shards.

    ``sigs``: the signature matrix of each shard in order; a document's global
    index is its row in their concatenation. Only the band hashes are kept in
    memory (8 bytes per document and band).
    """
    rows = int(cfg["rows"])
    hashes: list[list[np.ndarray]] = [[] for _ in bands]
    total = 0
    for sig in sigs:
        total += len(sig)
        for k, band in enumerate(bands):
            hashes[k].append(band_hashes(sig, band, rows))
    pairs = [
        bucket_pairs(np.concatenate(hs) if hs else np.zeros(0, np.uint64), cfg["max_bucket_pairs"])
        for hs in hashes
    ]
    if total >= 1 << 32:
        raise ValueError("more than 2^32 documents: widen the pair encoding")
    return (np.unique(np.concatenate(pairs)) if pairs else np.zeros(0, np.uint64)), total


# ---------------------------------------------------------------- step 5: clusters


def union_find(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components of n nodes and edges (a, b): the smallest node of each.

    Vectorized union-find: hook every root onto the smallest root it is linked
    to, compress paths fully, repeat until no edge joins two roots.
    """
    parent = np.arange(n, dtype=np.int64)
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    while len(a):
        ra, rb = parent[a], parent[b]
        cross = ra != rb
        if not cross.any():
            break
        ra, rb = ra[cross], rb[cross]
        a, b = a[cross], b[cross]
        np.minimum.at(parent, np.maximum(ra, rb), np.minimum(ra, rb))
        while True:
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand
    return parent


def size_histogram(sizes: np.ndarray) -> dict[str, int]:
    """Cluster sizes: exact up to 10, then powers-of-two ranges."""
    out: dict[str, int] = {}
    for size in sorted(np.asarray(sizes, dtype=np.int64).tolist()):
        if size <= 10:
            key = str(size)
        else:
            hi = 1 << math.ceil(math.log2(size))
            key = f"{hi // 2 + 1}-{hi}"
        out[key] = out.get(key, 0) + 1
    return out


def near_clusters(
    pairs: np.ndarray,
    shard_meta: Sequence[pd.DataFrame],
    load_signatures,
    cfg: dict[str, Any],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Verify candidate pairs, build clusters, choose the document each keeps.

    ``shard_meta[s]``: the meta rows of signature shard ``s`` (``id``, ``length``,
    ``perplexity``); ``load_signatures(s)``: its signature matrix. Only the
    signatures of candidate documents are held. Returns one row per removed
    document: ``id``, ``kept_id``, ``cluster_id``, ``jaccard`` (estimated, to the
    kept document).
    """
    sizes = np.array([len(m) for m in shard_meta], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    pairs = np.unique(np.asarray(pairs, dtype=np.uint64))
    a_glob = (pairs >> _U64(32)).astype(np.int64)
    b_glob = (pairs & _U64(0xFFFFFFFF)).astype(np.int64)
    nodes = np.unique(np.concatenate([a_glob, b_glob]))
    if len(nodes) and nodes[-1] >= offsets[-1]:
        raise ValueError("candidate pair beyond the signature files: stale band outputs?")
    sig = np.zeros((len(nodes), int(cfg["num_perm"])), dtype=np.uint32)
    ids = np.empty(len(nodes), dtype=object)
    length = np.zeros(len(nodes), dtype=np.int64)
    ppl = np.zeros(len(nodes), dtype=np.float64)
    for s in range(len(shard_meta)):
        lo, hi = np.searchsorted(nodes, [offsets[s], offsets[s + 1]])
        if lo == hi:
            continue
        local = nodes[lo:hi] - offsets[s]
        sig[lo:hi] = load_signatures(s)[local]
        meta = shard_meta[s]
        ids[lo:hi] = meta["id"].to_numpy()[local]
        length[lo:hi] = meta["length"].to_numpy()[local]
        ppl[lo:hi] = meta["perplexity"].to_numpy(np.float64)[local]
    a = np.searchsorted(nodes, a_glob)
    b = np.searchsorted(nodes, b_glob)
    est = np.zeros(len(a))
    step = 1 << 16
    for i in range(0, len(a), step):
        est[i : i + step] = estimated_jaccard(sig[a[i : i + step]], sig[b[i : i + step]])
    verified = est >= float(cfg["verify_threshold"]) if cfg["verify"] else np.ones(len(a), bool)
    root = union_find(len(nodes), a[verified], b[verified])
    order = keep_order(root, ids, length, ppl, cfg["keep"])
    rs = root[order]
    first = np.ones(len(rs), dtype=bool)
    first[1:] = rs[1:] != rs[:-1]
    head = order[np.maximum.accumulate(np.where(first, np.arange(len(rs)), 0))]
    keeper = np.empty(len(nodes), dtype=np.int64)
    keeper[order] = head
    removed_idx = np.flatnonzero(keeper != np.arange(len(nodes)))
    # cluster id: the smallest member id
    min_id = pd.Series(ids).groupby(root).min()
    cl_sizes = np.bincount(root, minlength=len(nodes))
    cl_sizes = cl_sizes[cl_sizes >= 2]
    j_kept = estimated_jaccard(sig[removed_idx], sig[keeper[removed_idx]])
    removed = pd.DataFrame(
        {
            "id": ids[removed_idx].astype(str),
            "kept_id": ids[keeper[removed_idx]].astype(str),
            "cluster_id": ["near:" + min_id[r] for r in root[removed_idx]],
            "jaccard": np.round(j_kept, 4),
        }
    )
    removed = removed.sort_values("id", kind="stable").reset_index(drop=True)
    largest = np.sort(cl_sizes)[::-1][:5].tolist()
    stats = {
        "signed_docs": int(offsets[-1]),
        "candidate_pairs": len(pairs),
        "candidate_docs": len(nodes),
        "verified_pairs": int(verified.sum()),
        "rejected_by_verify": int((~verified).sum()),
        "near_clusters": len(cl_sizes),
        "near_removed": len(removed),
        "cluster_size_histogram": size_histogram(cl_sizes),
        "largest_clusters": largest,
        "candidate_jaccard_histogram": _jaccard_histogram(est),
    }
    return removed, stats


def _jaccard_histogram(est: np.ndarray) -> dict[str, int]:
    edges = np.linspace(0.0, 1.0, 11)
    counts, _ = np.histogram(est, bins=edges)
    return {f"{edges[i]:.1f}-{edges[i + 1]:.1f}": int(c) for i, c in enumerate(counts) if c}


def decisions(exact: pd.DataFrame, near: pd.DataFrame) -> pd.DataFrame:
    """Every removed document with its reason and final kept twin.

    An exact duplicate whose twin was itself removed as a near-duplicate points to
    the near cluster's kept document (``exact_of`` names the twin).
    """
    near_kept = dict(zip(near["id"], near["kept_id"], strict=True))
    near_cluster = dict(zip(near["id"], near["cluster_id"], strict=True))
    ex = exact.copy()
    ex["reason"] = EXACT
    ex["jaccard"] = np.nan
    ex["exact_of"] = None
    moved = ex["kept_id"].isin(near_kept.keys()).to_numpy()
    if moved.any():
        twins = ex.loc[moved, "kept_id"]
        ex.loc[moved, "exact_of"] = twins
        ex.loc[moved, "cluster_id"] = twins.map(near_cluster)
        ex.loc[moved, "kept_id"] = twins.map(near_kept)
    nr = near.copy()
    nr["reason"] = NEAR
    nr["exact_of"] = None
    out = pd.concat([ex, nr], ignore_index=True) if len(ex) else nr
    out = out[["id", "reason", "kept_id", "cluster_id", "jaccard", "exact_of"]]
    sizes = out["kept_id"].value_counts()
    out["cluster_size"] = out["kept_id"].map(sizes).astype(np.int64) + 1
    out["jaccard"] = out["jaccard"].astype(np.float64)
    out["exact_of"] = out["exact_of"].astype(object)
    return out.sort_values("id", kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------- step 6: filter


def filter_shard(
    docs: pd.DataFrame,
    removed: pd.DataFrame,
    boilerplate: np.ndarray,
    cfg: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Keep one document per cluster; reject the others with their cluster and twin.

    ``removed``: the decisions of every shard (only the rows of this shard's ids
    are used). Kept documents get ``dup_count`` (duplicates removed in their
    favour) and, with boilerplate removal on, lose their boilerplate lines
    (``boilerplate_lines``); a document left without text is ``boilerplate_only``.
    """
    docs = docs.sort_values("id", kind="stable").reset_index(drop=True)
    ids = docs["id"].astype(str)
    mine = removed[removed["id"].isin(set(ids))].set_index("id")
    gone = ids.isin(mine.index).to_numpy()
    parts = []
    for reason in (EXACT, NEAR):
        sel = mine[mine["reason"] == reason]
        if len(sel):
            rows = docs[gone & ids.isin(sel.index).to_numpy()]
            info = sel.loc[rows["id"].astype(str)]
            detail = [
                _detail(
                    cluster_id=r.cluster_id,
                    kept_id=r.kept_id,
                    cluster_size=int(r.cluster_size),
                    jaccard=None if pd.isna(r.jaccard) else float(r.jaccard),
                    exact_of=r.exact_of if isinstance(r.exact_of, str) else None,
                )
                for r in info.itertuples()
            ]
            parts.append(reject_records(rows, STAGE, reason, pd.Series(detail, index=rows.index)))
    kept = docs[~gone].reset_index(drop=True)
    counts = removed["kept_id"].value_counts()
    kept["dup_count"] = kept["id"].astype(str).map(counts).fillna(0).astype(np.int64)
    kept["boilerplate_lines"] = np.zeros(len(kept), dtype=np.int64)
    if cfg["boilerplate"]["enabled"]:
        texts, nlines = strip_boilerplate(_texts(kept), boilerplate)
        kept["text"] = texts
        kept["boilerplate_lines"] = nlines
        empty = (nlines > 0) & (tokenize(texts, False).counts == 0)
        if empty.any():
            originals = docs.set_index("id").loc[kept.loc[empty, "id"], "text"].to_numpy()
            bad = kept[empty].copy()
            bad["text"] = originals
            detail = [_detail(lines=int(x)) for x in nlines[empty]]
            parts.append(
                reject_records(bad, STAGE, BOILERPLATE, pd.Series(detail, index=bad.index))
            )
            kept = kept[~empty].reset_index(drop=True)
    rejects = (
        pd.concat(parts, ignore_index=True).sort_values("id", kind="stable").reset_index(drop=True)
        if parts
        else reject_records(docs.iloc[:0], STAGE, "")
    )
    stats = stage_stats(
        STAGE,
        len(docs),
        len(kept),
        rejects,
        kept_with_duplicates=int((kept["dup_count"] > 0).sum()),
        duplicates_represented=int(kept["dup_count"].sum()),
        boilerplate_lines_removed=int(kept["boilerplate_lines"].sum()),
    )
    return kept, rejects, stats
