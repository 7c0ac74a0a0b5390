"""Quantile buckets of ``quality_score`` per language (``quality.buckets``).

With buckets on, the quality stage is scatter/gather like perplexity's:

  quality          (per shard)  scores; low_quality rejected -> quality/scored/{shard}
  quality_cutoffs  (gather)     cutoffs per language over every shard's kept scores
  quality_bucket   (per shard)  ``quality_bucket`` per document -> docs/quality/{shard}

A language's cutoffs are the ``percentiles`` of the scores of its kept documents in
all shards (numpy's ``linear`` method, rounded to the scores' 4 decimals), so the
same corpus gives the same cutoffs whatever the shard count. ``n`` percentiles make
``n + 1`` buckets, ``names`` from the lowest scores to the highest; a score equal to
a cutoff goes to the bucket above it (as ``min_score`` keeps a score equal to it).
Documents without a score, and every document of a language with fewer than
``min_docs`` scored documents (no cutoffs), are ``unbucketed``. A document's language
is ``lang``, else ``prompt_lang`` (``unknown`` without either).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..io import read_json, read_parquet, write_json, write_parquet
from ..perplexity import document_language
from ..perplexity.buckets import percentile_cutoffs
from . import SCORE, SCORE_DECIMALS, QualityError

BUCKET = "quality_bucket"
UNBUCKETED = "unbucketed"
PathLike = str | os.PathLike[str]


def check_buckets(buckets: Mapping[str, Any] | None) -> None:
    """Cross-field checks of ``quality.buckets`` (the schema checks the types)."""
    if not buckets:
        return
    percentiles, names = list(buckets["percentiles"]), list(buckets["names"])
    if any(b <= a for a, b in itertools.pairwise(percentiles)):
        raise QualityError(f"quality.buckets.percentiles: {percentiles} must increase")
    if len(names) != len(percentiles) + 1:
        raise QualityError(
            f"quality.buckets.names: {len(names)} names for {len(percentiles)} percentiles "
            f"(give one more name than percentiles)"
        )
    if len(set(names)) != len(names) or UNBUCKETED in names:
        raise QualityError(
            f"quality.buckets.names: {names} must be distinct and not {UNBUCKETED!r}"
        )


def languages(docs: pd.DataFrame) -> pd.Series:
    """Each document's language as a string (``unknown`` without one)."""
    lang = document_language(docs)
    return lang.where(lang.notna(), "unknown").astype(str)


def scores_by_language(frames: Iterable[pd.DataFrame]) -> dict[str, list[float]]:
    """The scores (NaN left out) per language over scored shards."""
    values: dict[str, list[float]] = {}
    for frame in frames:
        scores = frame[SCORE].to_numpy(dtype=float)
        for lang, score in zip(languages(frame), scores, strict=True):
            if not np.isnan(score):
                values.setdefault(lang, []).append(float(score))
    return values


def gather_cutoffs(scores: Mapping[str, Sequence[float]], buckets: Mapping[str, Any]) -> dict:
    """Cutoffs per language (None below ``min_docs`` scored documents) and the settings."""
    check_buckets(buckets)
    percentiles = list(buckets["percentiles"])
    min_docs = int(buckets["min_docs"])
    langs = {}
    for lang in sorted(scores):
        values = list(scores[lang])
        enough = len(values) >= min_docs
        langs[lang] = {
            "docs": len(values),
            "cutoffs": percentile_cutoffs(values, percentiles, SCORE_DECIMALS) if enough else None,
        }
    return {
        "percentiles": percentiles,
        "names": list(buckets["names"]),
        "min_docs": min_docs,
        "method": "linear",
        "languages": langs,
    }


def bucket_of(scores: np.ndarray, cutoffs: Sequence[float], names: Sequence[str]) -> np.ndarray:
    """The bucket name of each score: ``names[i]`` for the i cutoffs at or below it."""
    return np.asarray(names, dtype=object)[np.searchsorted(cutoffs, scores, side="right")]


def assign_buckets(docs: pd.DataFrame, cutoffs: Mapping[str, Any]) -> tuple[pd.DataFrame, dict]:
    """The documents with ``quality_bucket``, and the documents per language and bucket."""
    docs = docs.reset_index(drop=True)
    langs = languages(docs)
    scores = docs[SCORE].to_numpy(dtype=float)
    bucket = np.full(len(docs), UNBUCKETED, dtype=object)
    for lang, entry in sorted(cutoffs["languages"].items()):
        rows = (langs == lang).to_numpy() & ~np.isnan(scores)
        if entry["cutoffs"] is not None and rows.any():
            bucket[rows] = bucket_of(scores[rows], entry["cutoffs"], cutoffs["names"])
    docs = docs.assign(**{BUCKET: bucket})
    counts = {
        lang: {str(k): int(v) for k, v in sorted(group.value_counts().items())}
        for lang, group in docs[BUCKET].groupby(langs, sort=True)
    }
    return docs, counts


# ---------------------------------------------------------------- jobs


def write_cutoffs(scored: Iterable[PathLike], buckets: Mapping[str, Any], out: PathLike) -> dict:
    """Rule quality_cutoffs: the cutoffs over every scored shard (read: language and score)."""
    import pyarrow.parquet as pq

    def frames():
        for path in scored:
            names = set(pq.read_schema(path).names)
            yield read_parquet(path, [c for c in ("lang", "prompt_lang", SCORE) if c in names])

    result = gather_cutoffs(scores_by_language(frames()), buckets)
    write_json(result, out)
    return result


def bucket_shard(
    scored: PathLike,
    scored_stats: PathLike,
    cutoffs: PathLike,
    out_docs: PathLike,
    out_stats: PathLike,
) -> dict:
    """Rule quality_bucket: one shard's documents with ``quality_bucket``; the stage's
    stats (those of the scoring job) with ``buckets``: the cutoffs and the counts."""
    given = read_json(cutoffs)
    docs, counts = assign_buckets(read_parquet(scored), given)
    stats = read_json(scored_stats)
    if stats["kept"] != len(docs):
        raise QualityError(f"{scored}: {len(docs)} documents, its stats say {stats['kept']}")
    stats["buckets"] = {"cutoffs": given, "by_lang": counts}
    write_parquet(docs, out_docs)
    write_json(stats, out_stats)
    return stats
