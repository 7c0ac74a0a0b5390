"""Pieces of the summary: corpus counts, quantiles, duplicate clusters, run time, origins."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..records import origins
from .files import read_benchmark

SHARD_NAME = re.compile(r"^\d{4}$")  # a shard's benchmark file, vs. one of a whole stage
DUPLICATE_REASONS = ("exact_duplicate", "near_duplicate")


QUANTILES = {
    "min": 0.0,
    "p10": 0.1,
    "p25": 0.25,
    "median": 0.5,
    "p75": 0.75,
    "p90": 0.9,
    "max": 1.0,
}


def counts(values: Iterable[Any]) -> dict[str, int]:
    """Occurrences per value (None -> "unknown"), sorted by value."""
    found = Counter("unknown" if v is None or v is pd.NA or v != v else str(v) for v in values)
    return {k: int(found[k]) for k in sorted(found)}


def cross_counts(frame: pd.DataFrame, row: str, col: str) -> dict[str, dict[str, int]]:
    """Nested counts ``{row value: {col value: n}}`` (None -> "unknown")."""
    keys = frame[[row, col]].astype(object).where(frame[[row, col]].notna(), "unknown")
    table: dict[str, Counter[str]] = {}
    for a, b in zip(keys[row].astype(str), keys[col].astype(str), strict=True):
        table.setdefault(a, Counter())[b] += 1
    return {a: {b: int(table[a][b]) for b in sorted(table[a])} for a in sorted(table)}


def quantiles(values: pd.Series) -> dict[str, float] | None:
    """Count, mean, min, max and quantiles of the non-null values."""
    data = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=np.float64)
    if not len(data):
        return None
    result: dict[str, float] = {"count": len(data), "mean": round(float(data.mean()), 4)}
    for name, q in QUANTILES.items():
        result[name] = round(float(np.quantile(data, q)), 4)
    return result


def per_lang(frame: pd.DataFrame, column: str) -> dict[str, Any]:
    langs = frame["lang"].astype(object).where(frame["lang"].notna(), "unknown").astype(str)
    result = {}
    for lang in sorted(langs.unique()):
        stats = quantiles(frame.loc[(langs == lang).to_numpy(), column])
        if stats:
            result[lang] = stats
    return result


def corpus_summary(final: pd.DataFrame, names: Sequence[str]) -> dict[str, Any]:
    """Counts of the final documents per language, bucket and format x audience."""
    tokens = pd.to_numeric(final["token_length"], errors="coerce").fillna(0)
    summary: dict[str, Any] = {
        "documents": len(final),
        "tokens": int(tokens.sum()),
        "by_lang": counts(final["lang"]),
        "tokens_by_lang": {
            str(k): int(v)
            for k, v in tokens.groupby(
                final["lang"].astype(object).where(final["lang"].notna(), "unknown").astype(str)
            )
            .sum()
            .sort_index()
            .items()
        },
        "format_audience": cross_counts(final, "format", "audience"),
        "finish_reasons": counts(final["finish_reason"]),
        "token_length": per_lang(final, "token_length"),
        "files": list(names),
    }
    if final["bucket"].notna().any():
        summary["by_bucket"] = counts(final["bucket"])
        summary["by_lang_bucket"] = cross_counts(final, "lang", "bucket")
    return summary


def relative_names(paths: Sequence[str]) -> list[str]:
    """File names relative to the folder all of them are in (keeps partition folders)."""
    if not paths:
        return []
    base = os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in paths])
    return [os.path.relpath(os.path.abspath(p), base).replace(os.sep, "/") for p in paths]


def duplicate_clusters(stage: str, rejects: pd.DataFrame) -> dict[str, Any] | None:
    """Duplicate clusters from a stage's rejected rows whose detail names ``kept_id``.

    A cluster is the kept document and every document removed in its favour, so
    its size is 1 + the rows pointing to the same ``kept_id``.
    """
    dup = rejects[rejects["reason"].isin(DUPLICATE_REASONS)]
    if dup.empty:
        return None
    kept_ids = []
    for detail in dup["detail"]:
        try:
            kept_ids.append(json.loads(detail).get("kept_id"))
        except (TypeError, ValueError, AttributeError):
            kept_ids.append(None)
    kept = pd.Series(kept_ids, dtype=object)
    sizes = kept.dropna().value_counts() + 1
    distribution = Counter(int(s) for s in sizes)
    return {
        "stage": stage,
        "removed": len(dup),
        "removed_by_reason": counts(dup["reason"]),
        "without_kept_id": int(kept.isna().sum()),
        "clusters": len(sizes),
        "documents_in_clusters": int(sizes.sum()),
        "largest_cluster": int(sizes.max()) if len(sizes) else 0,
        "cluster_sizes": [
            {"size": size, "clusters": distribution[size]} for size in sorted(distribution)
        ],
    }


def runtime(
    bench_dir: str | os.PathLike[str] | None,
    exclude: Iterable[str] = (),
    shards: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Run time and peak memory per rule from Snakemake's ``benchmark:`` files.

    ``<bench_dir>/<rule>/<name>.tsv``: per rule the number of jobs, the sum of
    the ``s`` column (wall seconds) and the max of ``max_rss`` (MB). Rules in
    ``exclude`` (those that run after the summary) are left out, and so are
    files named like a shard (``0007``) that is not in ``shards`` (left from a
    run with more shards).
    """
    rules: dict[str, dict[str, Any]] = {}
    if bench_dir is None or not Path(bench_dir).is_dir():
        return {"rules": rules, "total_s": 0.0}
    keep = set(shards) if shards is not None else None
    skip = set(exclude)
    for path in sorted(Path(bench_dir).rglob("*.tsv")):
        rule = path.relative_to(bench_dir).parts[0]
        if rule in skip or path.name.startswith("."):
            continue
        if keep is not None and SHARD_NAME.match(path.stem) and path.stem not in keep:
            continue
        table = read_benchmark(path)
        entry = rules.setdefault(rule, {"jobs": 0, "s": 0.0, "max_rss_mb": None})
        entry["jobs"] += 1
        if "s" in table:
            entry["s"] = round(entry["s"] + float(table["s"].fillna(0).sum()), 2)
        if "max_rss" in table and table["max_rss"].notna().any():
            rss = round(float(table["max_rss"].max()), 2)
            entry["max_rss_mb"] = (
                rss if entry["max_rss_mb"] is None else max(entry["max_rss_mb"], rss)
            )
    total = round(sum(r["s"] for r in rules.values()), 2)
    return {"rules": {k: rules[k] for k in sorted(rules)}, "total_s": total}


def origin_shares(docs: pd.DataFrame, tokens: str) -> dict[str, dict[str, Any]]:
    """Documents and tokens by ``origin`` (``generated`` where unset), with shares."""
    origin = origins(docs)
    amounts = pd.to_numeric(docs[tokens], errors="coerce").fillna(0)
    total_docs, total_tokens = len(docs), float(amounts.sum())
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(origin.unique()):
        mask = (origin == name).to_numpy()
        n, t = int(mask.sum()), int(amounts[mask].sum())
        out[name] = {
            "documents": n,
            "tokens": t,
            "share_documents": round(n / total_docs, 6) if total_docs else 0.0,
            "share_tokens": round(t / total_tokens, 6) if total_tokens else 0.0,
        }
    return out
