"""Benchmark decontamination: drop documents that share an n-gram with a benchmark.

Text is normalised the same way for benchmarks and documents: Unicode NFKC,
case-folded, every punctuation and symbol character replaced by a space; then
split into tokens: every Han/kana/hangul character is one token and every run of
other non-space characters is one token. English is thus compared by words and
Chinese by characters, whatever the document's ``lang`` (mixed texts work too).
The default n is 13 for both: 13 words (GPT-3's decontamination) or 13 Chinese
characters (about 6-8 words, short enough to catch a copied sentence, long
enough not to match common phrases).

Each n-gram is hashed to 64 bits (a polynomial over the BLAKE2b-64 hashes of its
tokens, mixed; see ``ngram_hashes``). Rule
``decontam_index`` builds the index once: a Parquet file with the sorted unique
hashes and, for each, the first benchmark (by name) that has it. A document is
``contaminated`` if any of its n-grams is in the index (a binary search of the
sorted uint64 array); the detail is JSON with the benchmark and the first matching
n-gram's text. A benchmark text with fewer than n tokens is not indexed (counted
as ``too_short`` in the index stats).

Each benchmark has a ``source`` (a local ``path``, or a ``url`` / Hugging Face ``hf``
file fetched with ``corpusforge.fetch.fetch_source``) of jsonl, parquet or csv,
and ``text_fields``, the fields to index (each field separately; a list value
contributes each item). A value that is no text is not indexed but counted in the
index stats by reason (``skipped_values``: ``null``, ``not_text``) and logged with
its file and field.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from .cjk import WORD_CHARS
from .stage import DocStage, Verdict

STAGE = "decontam"
_CJK = WORD_CHARS
_CJK_CHAR = re.compile(rf"[{_CJK}]")
INDEX_SCHEMA = pa.schema([("hash", pa.uint64()), ("benchmark", pa.string())])

log = logging.getLogger("corpusforge.decontam")


class DecontamError(ValueError):
    """The ``decontam`` config or a benchmark file is wrong."""


# ---------------------------------------------------------------- text -> n-grams


class _Spacer(dict):
    """str.translate table, filled on first sight of a character: punctuation,
    symbols, separators and controls become a space, a CJK character gets spaces
    around it (one token), the rest stays."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        if unicodedata.category(ch)[0] in "PSZC":
            value = " "  # also CJK-range punctuation such as the katakana middle dot
        elif _CJK_CHAR.fullmatch(ch):
            value = f" {ch} "
        else:
            value = ch
        self[code] = value
        return value


_SPACER = _Spacer()


def tokens(text: str) -> list[str]:
    """Normalised tokens: NFKC, case-folded, punctuation/symbols as spaces, CJK per char."""
    return unicodedata.normalize("NFKC", text).casefold().translate(_SPACER).split()


def ngram_text(gram: list[str]) -> str:
    """An n-gram as readable text: no space between two CJK characters."""
    out = gram[0] if gram else ""
    for prev, tok in itertools.pairwise(gram):
        joint = "" if _CJK_CHAR.fullmatch(prev) and _CJK_CHAR.fullmatch(tok) else " "
        out += joint + tok
    return out


_TOKEN_HASHES: dict[str, int] = {}
_TOKEN_CACHE_MAX = 1 << 20
# Odd multiplier of the polynomial over 64-bit words, and splitmix64's finaliser.
_POLY = np.uint64(0x9E3779B97F4A7C15)
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def token_hashes(toks: list[str]) -> np.ndarray:
    """A 64-bit BLAKE2b hash per token (cached: a corpus repeats its words)."""
    cache = _TOKEN_HASHES
    if len(cache) > _TOKEN_CACHE_MAX:
        cache.clear()
    get = cache.get
    values = [get(tok) for tok in toks]
    if None in values:
        for i, value in enumerate(values):
            if value is None:
                digest = hashlib.blake2b(toks[i].encode("utf-8"), digest_size=8).digest()
                values[i] = cache[toks[i]] = int.from_bytes(digest, "little")
    return np.array(values, dtype=np.uint64)


def ngram_hashes(toks: list[str], n: int) -> np.ndarray:
    """64-bit hashes of every n-gram of the tokens (in order; empty if fewer than n).

    The token hashes of a window are combined as a polynomial over 64-bit words
    (one vector operation per position in the n-gram, for all windows at once),
    then mixed with splitmix64's finaliser.
    """
    count = len(toks) - n + 1
    if count <= 0:
        return np.empty(0, dtype=np.uint64)
    th = token_hashes(toks)
    acc = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(n):
            acc = acc * _POLY + th[j : j + count]
        acc ^= acc >> np.uint64(30)
        acc *= _MIX1
        acc ^= acc >> np.uint64(27)
        acc *= _MIX2
        acc ^= acc >> np.uint64(31)
    return acc


# ---------------------------------------------------------------- benchmarks


@dataclass(frozen=True)
class Benchmark:
    name: str
    file: str
    text_fields: tuple[str, ...]


def _skip_reason(value: Any) -> str:
    """Why a benchmark value is not indexed: ``null`` (missing) or ``not_text``."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "null"
    return "not_text"


def iter_benchmark_texts(
    path: str | Path, fields: tuple[str, ...], skipped: Counter | None = None
) -> Iterator[str]:
    """Every configured text value of a benchmark file (jsonl, parquet or csv).

    A value (or list item) that is no string is counted in ``skipped`` by reason.
    """
    path = Path(path)
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".parquet"):
        frame = pd.read_parquet(path)
    elif name.endswith((".jsonl", ".json", ".ndjson")):
        frame = pd.read_json(path, lines=True, dtype=False)
    elif name.endswith(".csv"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    else:
        raise DecontamError(f"{path}: benchmark files must be .jsonl, .parquet or .csv")
    missing = [f for f in fields if f not in frame.columns]
    if missing:
        raise DecontamError(
            f"{path}: no field {missing} (columns: {', '.join(map(str, frame.columns))})"
        )
    for field in fields:
        not_text: Counter = Counter()
        for value in frame[field].tolist():
            items = value if isinstance(value, list | tuple | np.ndarray) else [value]
            for item in items:
                if isinstance(item, str):
                    yield item
                else:
                    not_text[_skip_reason(item)] += 1
        if not_text:
            log.warning(
                "%s: field %r has %s values that are no text; not indexed",
                path,
                field,
                " and ".join(f"{n} {reason}" for reason, n in sorted(not_text.items())),
            )
            if skipped is not None:
                skipped.update(not_text)


def build_index(benchmarks: list[Benchmark], n: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    """(index frame: sorted unique hash, benchmark), stats per benchmark."""
    hashes: list[np.ndarray] = []
    owners: list[np.ndarray] = []
    names = sorted(b.name for b in benchmarks)
    stats: dict[str, Any] = {"n": n, "benchmarks": {}}
    for bench in sorted(benchmarks, key=lambda b: b.name):
        counts: Counter = Counter()
        skipped: Counter = Counter()
        for text in iter_benchmark_texts(bench.file, bench.text_fields, skipped):
            toks = tokens(text)
            counts["texts"] += 1
            if len(toks) < n:
                counts["too_short"] += 1
                continue
            grams = ngram_hashes(toks, n)
            counts["ngrams"] += len(grams)
            hashes.append(grams)
            owners.append(np.full(len(grams), names.index(bench.name), dtype=np.int32))
        stats["benchmarks"][bench.name] = {
            **{k: counts[k] for k in ("texts", "too_short", "ngrams")},
            "skipped_values": {k: skipped[k] for k in ("not_text", "null")},
        }
    if hashes:
        all_hashes = np.concatenate(hashes)
        all_owners = np.concatenate(owners)
        order = np.lexsort((all_owners, all_hashes))
        all_hashes, all_owners = all_hashes[order], all_owners[order]
        first = np.ones(len(all_hashes), dtype=bool)
        first[1:] = all_hashes[1:] != all_hashes[:-1]
        all_hashes, all_owners = all_hashes[first], all_owners[first]
    else:
        all_hashes, all_owners = np.empty(0, np.uint64), np.empty(0, np.int32)
    frame = pd.DataFrame(
        {"hash": all_hashes, "benchmark": np.array(names, dtype=object)[all_owners]}
    )
    stats["unique_ngrams"] = len(frame)
    return frame, stats


@dataclass
class Index:
    hashes: np.ndarray  # sorted unique uint64
    benchmark: np.ndarray  # object array of names, aligned with hashes
    n: int

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, n: int) -> Index:
        hashes = frame["hash"].to_numpy(dtype=np.uint64)
        if len(hashes) > 1 and not np.all(hashes[1:] > hashes[:-1]):
            raise DecontamError("decontam index: hashes are not sorted and unique")
        return cls(hashes, frame["benchmark"].to_numpy(dtype=object), n)

    def first_match(self, text: str) -> tuple[str, str] | None:
        """(benchmark, n-gram text) of the first n-gram of ``text`` in the index."""
        if not len(self.hashes):
            return None
        toks = tokens(text)
        grams = ngram_hashes(toks, self.n)
        if not len(grams):
            return None
        # the index is sorted: a binary search per n-gram (np.isin would sort it again)
        where = np.searchsorted(self.hashes, grams)
        found = np.minimum(where, len(self.hashes) - 1)
        hit = self.hashes[found] == grams
        if not hit.any():
            return None
        pos = int(np.argmax(hit))
        return str(self.benchmark[found[pos]]), ngram_text(toks[pos : pos + self.n])


# ---------------------------------------------------------------- config


def settings(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The ``decontam`` section as the stage uses it: ``n`` and ``benchmarks`` (name ->
    source, text_fields). ``cfg`` comes with the schema's defaults filled in and checked
    (config/schema; outside the workflow ``corpusforge.schema.with_defaults("decontam",
    ...)``); no setting depends on another."""
    return {"n": int(cfg["n"]), "benchmarks": dict(cfg["benchmarks"])}


def benchmarks_from(files: Mapping[str, str], cfg: Mapping[str, Any]) -> list[Benchmark]:
    """Benchmark objects for the files a rule received (name -> local file)."""
    out = []
    for name in sorted(files):
        fields = cfg["benchmarks"][name]["text_fields"]
        out.append(Benchmark(name, str(files[name]), tuple(fields)))
    return out


# ---------------------------------------------------------------- stage


class DecontamStage(DocStage):
    """Rule ``decontam``: reject every document sharing an n-gram with a benchmark
    (``files``: ``index``, the index rule ``decontam_index`` wrote)."""

    name = STAGE
    section = "decontam"

    def prepare(self) -> None:
        from .io import read_parquet

        self.index = Index.from_frame(read_parquet(self.files["index"]), settings(self.cfg)["n"])

    def described(self) -> dict[str, Any]:
        return {"settings": {"n": self.index.n, "index_ngrams": len(self.index.hashes)}}

    def judge(self, docs: pd.DataFrame) -> Verdict:
        matches = [self.index.first_match(t) if isinstance(t, str) else None for t in docs["text"]]
        details = [
            None
            if m is None
            else json.dumps({"benchmark": m[0], "ngram": m[1]}, ensure_ascii=False, sort_keys=True)
            for m in matches
        ]
        by_bench = Counter(m[0] for m in matches if m is not None)
        return Verdict(
            keep=pd.Series([m is None for m in matches], index=docs.index, dtype=bool),
            reason="contaminated",
            detail=pd.Series(details, index=docs.index, dtype=object),
            counters={"contaminated_by_benchmark": {k: by_bench[k] for k in sorted(by_bench)}},
        )


def run_index(
    files: Mapping[str, str], cfg: Mapping[str, Any], out_index: str, out_stats: str
) -> dict:
    """The whole job of rule ``decontam_index``."""
    from .io import write_json, write_parquet

    resolved = settings(cfg)
    frame, stats = build_index(benchmarks_from(files, resolved), resolved["n"])
    write_parquet(frame, out_index, schema=INDEX_SCHEMA)
    write_json(stats, out_stats)
    log.info("decontam index: %d unique %d-grams", stats["unique_ngrams"], resolved["n"])
    return stats
