"""Stats and audit: counts per stage, and proof that no record was lost.

Every per-shard job writes a small stats JSON (``records.stage_stats``). The
gather step (rule ``summarize``) sums them per stage and audits the ids: for
each stage, every id that entered it left it exactly once, either kept (as the
parent of an output record) or in that stage's rejected file with a reason. The
seed stage, whose input rows may have no id at all, is audited by row counts.

The audit is generic over the document stages (``DOC_STAGES`` in
rules/common.smk): generation maps a prompt id to a document (``prompt_id``),
every later stage keeps the document id. Besides the audit the summary holds,
per stage, documents and tokens in, kept and rejected by reason; corpus counts
per language, bucket and format x audience; generation totals; duplicate
clusters (from the rejected rows of any stage that rejects ``exact_duplicate`` /
``near_duplicate`` with a JSON detail naming ``kept_id``); perplexity cutoffs
and quantiles; and run time per rule from Snakemake's benchmark files.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from .io import read_json

# Fields of the final jsonl the summary and the plots read (others are ignored).
FINAL_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("lang", pa.string()),
        ("bucket", pa.string()),
        ("perplexity", pa.float64()),
        ("token_length", pa.int64()),
        ("format", pa.string()),
        ("audience", pa.string()),
        ("finish_reason", pa.string()),
        ("origin", pa.string()),
    ]
)
DUPLICATE_REASONS = ("exact_duplicate", "near_duplicate")
# Per-shard stats entries that describe settings, not counts: kept when every
# shard agrees (else the distinct values are listed), never summed.
SETTING_KEYS = frozenset(
    {"stage", "model", "engine", "settings", "params", "config", "cutoffs", "source", "file"}
)
SKIPPED_KEYS = frozenset({"shard"})
EXAMPLES = 5
QUANTILES = {
    "min": 0.0,
    "p10": 0.1,
    "p25": 0.25,
    "median": 0.5,
    "p75": 0.75,
    "p90": 0.9,
    "max": 1.0,
}
SHARD_NAME = re.compile(r"^\d{4}$")


class AuditError(RuntimeError):
    pass


# ---------------------------------------------------------------- reading


def read_table(paths: Iterable[str | os.PathLike[str]], columns: Sequence[str]) -> pd.DataFrame:
    """The given columns of Parquet or jsonl files, concatenated in order.

    A column a file does not have is all null there, so stages that add columns
    (``lang``, ``bucket``, ...) can be read the same way before and after they
    exist. jsonl is parsed by Arrow with the types of ``FINAL_SCHEMA`` (string
    for unknown fields); other fields of the lines are skipped.
    """
    parts = []
    for path in paths:
        path = str(path)
        if path.endswith(".jsonl"):
            schema = pa.schema(
                [
                    FINAL_SCHEMA.field(c) if c in FINAL_SCHEMA.names else pa.field(c, pa.string())
                    for c in columns
                ]
            )
            if os.path.getsize(path) == 0:
                table = schema.empty_table()
            else:
                options = pa_json.ParseOptions(
                    explicit_schema=schema, unexpected_field_behavior="ignore"
                )
                table = pa_json.read_json(path, parse_options=options).select(list(columns))
            frame = table.to_pandas()
        else:
            present = set(pq.read_schema(path).names)
            frame = pq.read_table(path, columns=[c for c in columns if c in present]).to_pandas()
            for column in columns:
                if column not in frame.columns:
                    frame[column] = None
            frame = frame[list(columns)]
        parts.append(frame)
    if not parts:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    return pd.concat(parts, ignore_index=True)


def read_column(paths: Iterable[str], column: str) -> pd.Series:
    """One column from Parquet or jsonl files, concatenated, as objects (None for missing)."""
    values = read_table(paths, [column])[column]
    return values.astype(object).where(values.notna(), None)


def read_final(paths: Iterable[str]) -> pd.DataFrame:
    """The fields of ``FINAL_SCHEMA`` of the final jsonl files."""
    return read_table(paths, FINAL_SCHEMA.names)


# ---------------------------------------------------------------- audit


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


def _examples(values: Iterable[Any]) -> str:
    shown = sorted(map(str, values))[:EXAMPLES]
    return ", ".join(shown)


def _dupes(series: pd.Series) -> list[str]:
    return sorted(map(str, series[series.duplicated()].unique()))


def audit_ids(
    stage: str,
    inputs: pd.Series,
    parents: pd.Series,
    rejected: pd.Series,
    reasons: pd.Series | None = None,
) -> AuditResult:
    """Check that ``inputs`` == ``parents`` + ``rejected``, each id exactly once.

    ``reasons`` (aligned with ``rejected``): every rejected row must name one.
    Each problem names the stage, how many ids and a few of them.
    """
    result = AuditResult(stage, len(inputs), len(parents), len(rejected))
    problems = result.problems
    for label, series in (("input", inputs), ("kept", parents), ("rejected", rejected)):
        missing = int(series.isna().sum())
        if missing:
            problems.append(f"{stage}: {missing} {label} rows have no id")
        dupes = _dupes(series.dropna())
        if dupes:
            problems.append(
                f"{stage}: {len(dupes)} {label} ids appear more than once, e.g. {_examples(dupes)}"
            )
    into, kept, rej = set(inputs.dropna()), set(parents.dropna()), set(rejected.dropna())
    lost = into - kept - rej
    if lost:
        problems.append(
            f"{stage}: {len(lost)} of {len(into)} ids that entered the stage were neither kept "
            f"nor rejected, e.g. {_examples(lost)}"
        )
    both = kept & rej
    if both:
        problems.append(
            f"{stage}: {len(both)} ids were both kept and rejected, e.g. {_examples(both)}"
        )
    unknown = (kept | rej) - into
    if unknown:
        problems.append(
            f"{stage}: {len(unknown)} kept or rejected ids never entered the stage, "
            f"e.g. {_examples(unknown)}"
        )
    if reasons is not None and len(reasons):
        text = reasons.astype(object).where(reasons.notna(), "").astype(str).str.strip()
        blank = rejected[(text == "").to_numpy()]
        if len(blank):
            problems.append(
                f"{stage}: {len(blank)} rejected rows have no reason, "
                f"e.g. {_examples(blank.dropna())}"
            )
    return result


def audit_stage(files: StageFiles) -> AuditResult:
    rejected = read_table(files.rejected, ["id", "reason"])
    return audit_ids(
        files.name,
        read_column(files.inputs, files.input_key),
        read_column(files.kept, files.kept_parent),
        rejected["id"].astype(object),
        rejected["reason"],
    )


def audit_seed_counts(seed_stats: Sequence[dict], records: int | None = None) -> AuditResult:
    """The seed stage reads rows that may have no id yet: check the counts.

    ``records``: rows in the ingested seed files, which must equal the kept count.
    """
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
    if records is not None and records != kept:
        result.problems.append(
            f"seed: the stats say {kept} rows kept, the seed files hold {records}"
        )
    return result


def check_stats_agree(result: AuditResult, stats: Mapping[str, Any]) -> None:
    """Add a problem when a stage's stats JSONs disagree with its files."""
    for key, found in (("in", result.n_in), ("kept", result.kept), ("rejected", result.rejected)):
        if key in stats and int(stats[key]) != found:
            result.problems.append(
                f"{result.stage}: the stats JSONs say {key}={stats[key]}, the files hold {found}"
            )


# ---------------------------------------------------------------- per-stage stats


def _same(values: Sequence[Any]) -> bool:
    first = json.dumps(values[0], sort_keys=True, default=str)
    return all(json.dumps(v, sort_keys=True, default=str) == first for v in values[1:])


def _distinct(values: Sequence[Any]) -> list[Any]:
    seen: dict[str, Any] = {}
    for value in values:
        seen.setdefault(json.dumps(value, sort_keys=True, default=str), value)
    return [seen[k] for k in sorted(seen)]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _merge_values(key: str, values: list[Any]) -> tuple[bool, Any]:
    """Merge one entry over shards; (False, None) drops it."""
    if key in SETTING_KEYS or key.endswith("_edges"):
        return True, values[0] if _same(values) else _distinct(values)
    if all(_is_int(v) for v in values):
        return True, int(sum(values))
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        if key.endswith("_sum"):
            return True, round(float(sum(values)), 6)
        return (True, values[0]) if _same(values) else (False, None)
    if all(isinstance(v, dict) for v in values):
        return True, merge_stats(values)
    if all(isinstance(v, list) for v in values):
        if all(all(_is_int(x) for x in v) for v in values) and len({len(v) for v in values}) == 1:
            return True, [int(x) for x in np.sum(np.array(values, dtype=np.int64), axis=0)]
        return (True, values[0]) if _same(values) else (False, None)
    return (True, values[0]) if _same(values) else (True, _distinct(values))


def merge_stats(per_shard: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Merge the stats of several shards of one stage, whatever their keys.

    Counts (integers, integer lists of one length, count tables) are summed;
    floats are kept when every shard agrees (``*_sum`` floats are summed) and
    dropped otherwise (a mean of shards is not the shard's mean); settings
    (``SETTING_KEYS``, ``*_edges``) and other values are kept when every shard
    agrees, else listed once each. ``shard`` is dropped.
    """
    keys = sorted({k for s in per_shard for k in s} - SKIPPED_KEYS)
    merged: dict[str, Any] = {}
    for key in keys:
        values = [s[key] for s in per_shard if key in s and s[key] is not None]
        if not values:
            continue
        keep, value = _merge_values(key, values)
        if keep:
            merged[key] = value
    return merged


def aggregate(per_shard: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Merge the per-shard stats of one stage, with the number of shards."""
    return {"shards": len(per_shard), **merge_stats(per_shard)}


# ---------------------------------------------------------------- pieces of the summary


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


def _per_lang(frame: pd.DataFrame, column: str) -> dict[str, Any]:
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
        "token_length": _per_lang(final, "token_length"),
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


def read_benchmark(path: str | os.PathLike[str]) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", na_values=["NA", "-", ""])


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


# ---------------------------------------------------------------- the whole summary


def _tokens_by_id(frame: pd.DataFrame) -> pd.Series:
    return pd.Series(
        pd.to_numeric(frame["completion_tokens"], errors="coerce").fillna(0).to_numpy(),
        index=frame["id"].astype(object).to_numpy(),
    )


def _token_flow(inputs: pd.DataFrame, kept: pd.DataFrame, rejects: pd.DataFrame) -> dict:
    """Tokens in, kept and rejected per reason of a stage that keeps document ids."""
    tokens = _tokens_by_id(inputs)
    tokens = tokens[~tokens.index.duplicated()]
    rej = rejects[rejects["id"].isin(tokens.index)]
    by_reason: dict[str, int] = {}
    for reason, group in rej.groupby(rej["reason"].astype(str), sort=True):
        by_reason[str(reason)] = int(tokens.loc[group["id"].astype(object)].sum())
    return {
        "tokens_in": int(tokens.sum()),
        "tokens_kept": int(pd.to_numeric(kept["completion_tokens"], errors="coerce").sum()),
        "tokens_rejected": int(sum(by_reason.values())),
        "tokens_rejected_by_reason": by_reason,
    }


def origin_shares(docs: pd.DataFrame, tokens: str) -> dict[str, dict[str, Any]]:
    """Documents and tokens by ``origin`` (``generated`` where unset), with shares."""
    origin = docs["origin"].astype(object).where(docs["origin"].notna(), "generated").astype(str)
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


def _funnel_entry(audit: AuditResult, rejects: pd.DataFrame | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "stage": audit.stage,
        "in": audit.n_in,
        "kept": audit.kept,
        "rejected": audit.rejected,
    }
    if rejects is not None:
        entry["rejected_by_reason"] = counts(rejects["reason"])
    return entry


def summarize_workflow(
    files: Mapping[str, Sequence[str]],
    doc_stages: Sequence[str],
    bench_dir: str | os.PathLike[str] | None = None,
    exclude_rules: Iterable[str] = (),
    shards: Iterable[str] | None = None,
    mode: str | None = None,
    unused_seeds: Sequence[str] = (),
) -> dict[str, Any]:
    """Audit every stage and gather the summary from the files rule summarize gets.

    ``files``: the named inputs of rules/common.smk's ``summary_inputs``
    (``seed_stats``, ``seed_records``, ``prompts``, ``prompts_rejected``,
    ``prompts_stats``, ``<stage>_docs|_rejected|_stats`` per document stage,
    ``final``, ``export_stats``, optionally ``perplexity_cutoffs``).
    """
    stat_files = {"seed": files["seed_stats"]}
    if "prompts_stats" in files:
        stat_files["prompts"] = files["prompts_stats"]
    stat_files.update({stage: files[f"{stage}_stats"] for stage in doc_stages})
    stat_files["export"] = files["export_stats"]
    raw = {stage: [read_json(p) for p in paths] for stage, paths in stat_files.items()}
    stages = {stage: aggregate(stats) for stage, stats in raw.items()}

    seed_ids = read_column(files["seed_records"], "id")
    audits = [audit_seed_counts(raw["seed"], len(seed_ids))]
    funnel = [_funnel_entry(audits[0], None)]
    funnel[0]["rejected_by_reason"] = stages["seed"].get("rejected_by_reason", {})

    previous = None  # the records the next stage reads
    if "prompts" in files:
        prompt_seed_ids = read_column(files.get("prompt_seeds", files["seed_records"]), "id")
        prompts = read_table(files["prompts"], ["id", "seed_id"])
        rejects = read_table(files["prompts_rejected"], ["id", "reason", "detail"])
        audit = audit_ids(
            "prompts", prompt_seed_ids, prompts["seed_id"], rejects["id"], rejects["reason"]
        )
        audits.append(audit)
        funnel.append(_funnel_entry(audit, rejects))
        previous = prompts.assign(completion_tokens=None, origin=None)

    duplicates = None
    origins: dict[str, Any] = {}
    for stage in doc_stages:
        docs = read_table(
            files[f"{stage}_docs"], ["id", "prompt_id", "completion_tokens", "origin"]
        )
        rejects = read_table(files[f"{stage}_rejected"], ["id", "reason", "detail"])
        if stage == "generate":
            inputs, parents = previous["id"], docs["prompt_id"]
        elif stage == "collect":
            document_seeds = read_column(files["document_seeds"], "id")
            before = [] if previous is None else [previous["id"].astype(object)]
            inputs = pd.concat([*before, document_seeds], ignore_index=True)
            parents = docs["id"]
        else:
            inputs, parents = previous["id"], docs["id"]
        audit = audit_ids(stage, inputs, parents, rejects["id"], rejects["reason"])
        audits.append(audit)
        entry = _funnel_entry(audit, rejects)
        if stage == "generate":
            stats = stages[stage]
            generated, kept = stats.get("completion_tokens"), stats.get("kept_tokens")
            entry.update(
                tokens_in=stats.get("prompt_tokens"),  # prompt tokens read by the model
                tokens_generated=generated,
                tokens_kept=kept,
                tokens_rejected=None if generated is None or kept is None else generated - kept,
            )
        elif stage == "collect":
            tokens = int(pd.to_numeric(docs["completion_tokens"], errors="coerce").sum())
            entry.update(tokens_in=tokens, tokens_kept=tokens, tokens_rejected=0)
        else:
            entry.update(_token_flow(previous, docs, rejects))
        funnel.append(entry)
        if "collect" in doc_stages and doc_stages.index(stage) >= doc_stages.index("collect"):
            origins[stage] = origin_shares(docs, "completion_tokens")
        duplicates = duplicate_clusters(stage, rejects) or duplicates
        previous = docs

    final_paths = list(files["final"])
    final = read_final(final_paths)
    audit = audit_ids("export", previous["id"], final["id"].astype(object), pd.Series([]))
    audits.append(audit)
    entry = _funnel_entry(audit, None)
    entry.update(
        rejected_by_reason={},
        tokens_in=int(pd.to_numeric(previous["completion_tokens"], errors="coerce").sum()),
        tokens_kept=int(pd.to_numeric(final["token_length"], errors="coerce").sum()),
    )
    funnel.append(entry)
    for audit in audits:
        if audit.stage != "seed":
            check_stats_agree(audit, stages.get(audit.stage, {}))

    summary: dict[str, Any] = {
        "mode": mode,
        "unused_seeds": list(unused_seeds),
        "doc_stages": list(doc_stages),
        "stages": stages,
        "funnel": funnel,
        "seeds": {
            s["source"]: {
                k: s[k]
                for k in (
                    "in",
                    "kept",
                    "rejected",
                    "rejected_by_reason",
                    "file",
                    "format",
                    "records_without_document",
                    "blank_lines",
                )
                if k in s
            }
            for s in raw["seed"]
        },
        "corpus": corpus_summary(final, relative_names(final_paths)),
    }
    if "collect" in doc_stages:
        summary["origins"] = {
            "by_stage": origins,
            "corpus": origin_shares(final, "token_length"),
        }
        if "mix" in stages:
            summary["origins"]["target"] = {
                k: stages["mix"].get(k) for k in ("web_share", "unit", "unreachable")
            }
    if "generate" in stages:
        gen = stages["generate"]
        summary["generation"] = {
            key: gen[key]
            for key in (
                "model",
                "engine",
                "in",
                "kept",
                "failed",
                "prompt_tokens",
                "completion_tokens",
                "kept_tokens",
                "finish_reasons",
            )
            if key in gen
        }
    cutoffs = None
    if files.get("perplexity_cutoffs"):
        cutoffs = read_json(next(iter(files["perplexity_cutoffs"])))
    elif "perplexity" in stages:
        cutoffs = stages["perplexity"].get("cutoffs")
    if cutoffs is not None or final["perplexity"].notna().any():
        summary["perplexity"] = {"cutoffs": cutoffs, "by_lang": _per_lang(final, "perplexity")}
    if duplicates:
        summary["dedup"] = duplicates
    summary["runtime"] = runtime(bench_dir, exclude_rules, shards)
    rejected_total = sum(a.rejected for a in audits)
    summary["accounting"] = {
        "seed_rows": audits[0].n_in,
        "final_documents": len(final),
        "rejected_rows": rejected_total,
        "balanced": audits[0].n_in == len(final) + rejected_total,
    }
    summary["audit"] = {"ok": all(a.ok for a in audits), "stages": [a.as_dict() for a in audits]}
    return summary


def check(summary: Mapping[str, Any]) -> None:
    """Raise if the audit found lost, doubled or invented records.

    The message lists every problem: the stage, how many ids, examples.
    """
    problems = [p for a in summary["audit"]["stages"] for p in a["problems"]]
    acc = summary["accounting"]
    if not acc["balanced"]:
        problems.append(
            f"{acc['seed_rows']} seed rows != {acc['final_documents']} documents "
            f"+ {acc['rejected_rows']} rejected rows"
        )
    if problems:
        raise AuditError(
            "audit failed: records are unaccounted for (every id entering a stage must leave "
            "it kept or in the stage's rejected file with a reason):\n  " + "\n  ".join(problems)
        )
