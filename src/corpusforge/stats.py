"""Stats and audit: counts per stage, and proof that no record was lost.

Every per-shard job writes a small stats JSON (``records.stage_stats``). The
gather step sums them per stage and audits the ids: for each stage, every id
that entered it left it exactly once, either kept (as the parent of an output
record) or in that stage's rejected file. The seed stage, whose input rows may
have no id at all, is audited by row counts.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from .io import read_json

SUMMED = ("in", "kept", "rejected", "prompt_tokens", "completion_tokens", "kept_tokens")
MERGED_COUNTS = ("rejected_by_reason", "finish_reasons", "formats", "audiences", "prompt_langs")


class AuditError(RuntimeError):
    pass


@dataclass
class StageFiles:
    """Where one stage's records are: what went in, what was kept, what was rejected."""

    name: str
    inputs: Sequence[str]
    kept: Sequence[str]
    rejected: Sequence[str]
    input_key: str = "id"
    kept_parent: str = "id"  # column of a kept record naming its input record


@dataclass
class AuditResult:
    stage: str
    n_in: int
    kept: int
    rejected: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "in": self.n_in,
            "kept": self.kept,
            "rejected": self.rejected,
            "ok": self.ok,
            "problems": self.problems,
        }


def read_column(paths: Iterable[str], column: str) -> pd.Series:
    """One column from Parquet or jsonl files, concatenated."""
    parts = []
    for path in paths:
        if str(path).endswith(".jsonl"):
            with open(path, encoding="utf-8") as handle:
                values = [json.loads(line)[column] for line in handle if line.strip()]
            parts.append(pd.Series(values, dtype=object))
        else:
            parts.append(pq.read_table(path, columns=[column]).column(column).to_pandas())
    if not parts:
        return pd.Series([], dtype=object)
    return pd.concat(parts, ignore_index=True).astype(object)


def _dupes(series: pd.Series, limit: int = 5) -> list[str]:
    dup = series[series.duplicated()]
    return sorted(map(str, dup.unique()))[:limit]


def audit_ids(
    stage: str, inputs: pd.Series, parents: pd.Series, rejected: pd.Series
) -> AuditResult:
    """Check that ``inputs`` == ``parents`` + ``rejected``, each id exactly once."""
    result = AuditResult(stage, len(inputs), len(parents), len(rejected))
    for label, series in (("input", inputs), ("kept", parents), ("rejected", rejected)):
        if series.isna().any():
            result.problems.append(f"{int(series.isna().sum())} {label} rows have no id")
        dupes = _dupes(series.dropna())
        if dupes:
            result.problems.append(f"{label} ids repeated, e.g. {', '.join(dupes)}")
    into, kept, rej = set(inputs.dropna()), set(parents.dropna()), set(rejected.dropna())
    both = kept & rej
    if both:
        result.problems.append(f"{len(both)} ids both kept and rejected, e.g. {sorted(both)[:5]}")
    lost = into - kept - rej
    if lost:
        result.problems.append(
            f"{len(lost)} ids neither kept nor rejected, e.g. {sorted(lost)[:5]}"
        )
    unknown = (kept | rej) - into
    if unknown:
        result.problems.append(
            f"{len(unknown)} ids did not enter the stage, e.g. {sorted(unknown)[:5]}"
        )
    return result


def audit_stage(files: StageFiles) -> AuditResult:
    return audit_ids(
        files.name,
        read_column(files.inputs, files.input_key),
        read_column(files.kept, files.kept_parent),
        read_column(files.rejected, "id"),
    )


def audit_seed_counts(seed_stats: Sequence[dict]) -> AuditResult:
    """The seed stage reads rows that may have no id yet: check the counts."""
    n_in = sum(s["in"] for s in seed_stats)
    kept = sum(s["kept"] for s in seed_stats)
    rejected = sum(s["rejected"] for s in seed_stats)
    result = AuditResult("seed", n_in, kept, rejected)
    for s in seed_stats:
        if s["in"] != s["kept"] + s["rejected"]:
            result.problems.append(
                f"seed {s.get('source')}: {s['in']} rows read "
                f"!= {s['kept']} kept + {s['rejected']} rejected"
            )
    return result


def aggregate(per_shard: Sequence[dict]) -> dict[str, Any]:
    """Sum the per-shard stats of one stage."""
    total: dict[str, Any] = {"shards": len(per_shard)}
    for key in SUMMED:
        if any(key in s for s in per_shard):
            total[key] = int(sum(s.get(key, 0) for s in per_shard))
    for key in MERGED_COUNTS:
        merged: Counter[str] = Counter()
        present = False
        for s in per_shard:
            if key in s:
                present = True
                merged.update(s[key])
        if present:
            total[key] = {k: int(merged[k]) for k in sorted(merged)}
    return total


def summarize(
    stage_stat_files: dict[str, Sequence[str]],
    audits: Sequence[AuditResult],
    final_files: Sequence[str],
) -> dict[str, Any]:
    """The summary written to ``results/stats``: per stage counts, audit, corpus."""
    stages = {}
    per_seed = {}
    for stage, paths in stage_stat_files.items():
        stats = [read_json(p) for p in paths]
        stages[stage] = aggregate(stats)
        if stage == "seed":
            per_seed = {
                s["source"]: {
                    k: s[k] for k in ("in", "kept", "rejected", "rejected_by_reason", "file")
                }
                for s in stats
            }
    docs = 0
    by_lang: Counter[str] = Counter()
    for path in final_files:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    docs += 1
                    by_lang[json.loads(line).get("lang") or "unknown"] += 1
    seed_rows = stages.get("seed", {}).get("in", 0)
    rejected_total = sum(s.get("rejected", 0) for s in stages.values())
    return {
        "stages": stages,
        "seeds": per_seed,
        "corpus": {
            "documents": docs,
            "by_lang": {k: by_lang[k] for k in sorted(by_lang)},
            "files": [Path(p).name for p in final_files],
        },
        "accounting": {
            "seed_rows": seed_rows,
            "final_documents": docs,
            "rejected_rows": rejected_total,
            "balanced": seed_rows == docs + rejected_total,
        },
        "audit": {
            "ok": all(a.ok for a in audits),
            "stages": [a.as_dict() for a in audits],
        },
    }


def check(summary: dict[str, Any]) -> None:
    """Raise if the audit found lost or doubled records."""
    problems = [f"{a['stage']}: {p}" for a in summary["audit"]["stages"] for p in a["problems"]]
    acc = summary["accounting"]
    if not acc["balanced"]:
        problems.append(
            f"{acc['seed_rows']} seed rows != {acc['final_documents']} documents "
            f"+ {acc['rejected_rows']} rejected rows"
        )
    if problems:
        raise AuditError("audit failed:\n  " + "\n  ".join(problems))
