"""The whole summary of a build (rule summarize): every stage audited and counted."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ..io import path_lists, read_json, write_json
from ..train.mixture import mixture_summary
from .audit import (
    AuditResult,
    audit_keys,
    audit_seed_counts,
    check,
    check_stats_agree,
)
from .corpus import (
    DUPLICATE_REASONS,
    corpus_summary,
    counts,
    cross_counts,
    duplicate_clusters,
    origin_shares,
    per_lang,
    relative_names,
    runtime,
)
from .files import FINAL_SCHEMA, Ids, read_ids, read_keyed, read_table
from .merge import aggregate
from .web_cleaning import WEB_STAGES, web_stage_summary

# What the clean stage changed (corpusforge.clean's stats), for the card and report.
CLEAN_KEYS = (
    "in",
    "kept",
    "not_cleaned",
    "rejected_by_reason",
    "garbled_by_measure",
    "documents_changed",
    "unicode_fixed",
    "whitespace_fixed",
    "convert",
    "converted_documents",
    "chars_converted",
    "boilerplate_lines",
    "boilerplate_documents",
    "boilerplate_lines_by_kind",
    "pii_mode",
    "pii_documents",
    "pii_by_type",
    "pinyin_mode",
    "pinyin_flagged",
    "flagged_words_found",
)

log = logging.getLogger("corpusforge.stats")


def _token_flow(
    inputs: tuple[Ids, pd.DataFrame], kept: pd.DataFrame, rejects: tuple[Ids, pd.Series]
) -> dict:
    """Tokens in, kept and rejected per reason of a stage that keeps document ids:
    ``inputs`` the ids and ``completion_tokens`` of what entered it, ``rejects`` the
    ids and reasons of its rejected rows (an id counted at its first row)."""
    ids, frame = inputs
    amounts = pd.to_numeric(frame["completion_tokens"], errors="coerce").fillna(0).to_numpy()
    hashes, first = np.unique(ids.hashes[ids.present], return_index=True)
    amounts = amounts[ids.present][first]
    rejected, reasons = rejects
    where = np.searchsorted(hashes, rejected.hashes)
    found = rejected.present & (where < len(hashes))
    found[found] = hashes[where[found]] == rejected.hashes[found]
    rows = pd.DataFrame({"reason": reasons.astype(str).to_numpy()[found]})
    rows["tokens"] = amounts[where[found]]
    by_reason = {
        str(reason): int(group["tokens"].sum())
        for reason, group in rows.groupby("reason", sort=True)
    }
    return {
        "tokens_in": int(amounts.sum()),
        "tokens_kept": int(pd.to_numeric(kept["completion_tokens"], errors="coerce").sum()),
        "tokens_rejected": int(sum(by_reason.values())),
        "tokens_rejected_by_reason": by_reason,
    }


def _duplicate_rows(paths: Sequence[str]) -> pd.DataFrame:
    """The rejected rows of duplicates (reason and detail), a file at a time."""
    frames = []
    for path in paths:
        rows = read_table([path], ["reason", "detail"])
        frames.append(rows[rows["reason"].isin(DUPLICATE_REASONS)])
    return pd.concat(frames, ignore_index=True) if frames else read_table([], ["reason", "detail"])


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


def index_summary(stages: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """What the dedup index removed: documents by earlier build and by match (exact,
    near), and lines (paragraph dedup's ``removed_lines_in_index``)."""
    index = stages["index"]
    return {
        "indexes": index.get("indexes", []),
        "checked": int(index.get("checked", 0)),
        "in": int(index.get("in", 0)),
        "documents_removed": int(index.get("rejected", 0)),
        "documents_removed_by_build": dict(index.get("seen_by_build") or {}),
        "documents_removed_by_match": dict(index.get("seen_by_match") or {}),
        "lines_removed": int(stages.get("paragraphs", {}).get("removed_lines_in_index", 0)),
    }


def topics_summary(stats: Mapping[str, Any]) -> dict[str, Any]:
    """Rule topic_labels' stats without the model's raw answers."""
    clusters = [{k: v for k, v in c.items() if k != "answer"} for c in stats["clusters"]]
    return {**stats, "clusters": clusters}


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
    ``final``, ``export_stats``, optionally ``perplexity_cutoffs`` and ``topics``).
    """
    stat_files = {"seed": files["seed_stats"]}
    if "prompts_stats" in files:
        stat_files["prompts"] = files["prompts_stats"]
    stat_files.update({stage: files[f"{stage}_stats"] for stage in doc_stages})
    stat_files["export"] = files["export_stats"]
    raw = {stage: [read_json(p) for p in paths] for stage, paths in stat_files.items()}
    stages = {stage: aggregate(stats) for stage, stats in raw.items()}

    seed_rows = sum(pq.ParquetFile(p).metadata.num_rows for p in files["seed_records"])
    audits = [audit_seed_counts(raw["seed"], seed_rows)]
    funnel = [_funnel_entry(audits[0], None)]
    funnel[0]["rejected_by_reason"] = stages["seed"].get("rejected_by_reason", {})

    # Ids are held as 64-bit hashes (stats.files.Ids), never as strings: the summary's
    # memory is about 40 bytes a document of the largest stage, not its ids' text.
    previous = None  # the ids and tokens of the records the next stage reads
    if "prompts" in files:
        prompt_seeds, _ = read_keyed(files.get("prompt_seeds", files["seed_records"]), "id")
        prompts, _ = read_ids(files["prompts"], ["id", "seed_id"])
        rejected, rejects = read_keyed(files["prompts_rejected"], "id", ["reason"])
        audit = audit_keys("prompts", prompt_seeds, prompts["seed_id"], rejected, rejects["reason"])
        audits.append(audit)
        funnel.append(_funnel_entry(audit, rejects))
        previous = (prompts["id"], pd.DataFrame({"completion_tokens": [None] * len(prompts["id"])}))

    duplicates = None
    origins: dict[str, Any] = {}
    for stage in doc_stages:
        keys = ["id", "prompt_id"] if stage == "generate" else ["id"]
        keyed, docs = read_ids(files[f"{stage}_docs"], keys, ["completion_tokens", "origin"])
        ids = keyed["id"]
        rejected, rejects = read_keyed(files[f"{stage}_rejected"], "id", ["reason"])
        if stage == "generate":
            inputs, parents = previous[0], keyed["prompt_id"]
        elif stage == "collect":
            document_seeds, _ = read_keyed(files["document_seeds"], "id")
            before = [] if previous is None else [previous[0]]
            inputs, parents = Ids.join([*before, document_seeds]), ids
        else:
            inputs, parents = previous[0], ids
        audit = audit_keys(stage, inputs, parents, rejected, rejects["reason"])
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
            entry.update(_token_flow(previous, docs, (rejected, rejects["reason"])))
        funnel.append(entry)
        if "collect" in doc_stages and doc_stages.index(stage) >= doc_stages.index("collect"):
            origins[stage] = origin_shares(docs, "completion_tokens")
        if rejects["reason"].isin(DUPLICATE_REASONS).any():
            rows = _duplicate_rows(files[f"{stage}_rejected"])
            duplicates = duplicate_clusters(stage, rows) or duplicates
        previous = (ids, docs)

    final_paths = list(files["final"])
    final_ids, final = read_keyed(final_paths, "id", FINAL_SCHEMA.names)
    audit = audit_keys("export", previous[0], final_ids, Ids.join([]))
    audits.append(audit)
    entry = _funnel_entry(audit, None)
    entry.update(
        rejected_by_reason={},
        tokens_in=int(pd.to_numeric(previous[1]["completion_tokens"], errors="coerce").sum()),
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
    if "clean" in stages:
        summary["clean"] = {k: stages["clean"][k] for k in CLEAN_KEYS if k in stages["clean"]}
    for stage in WEB_STAGES:  # url_filter, line_corrections, paragraphs (by shard, language)
        if stage in raw:
            summary[stage] = web_stage_summary(stage, raw[stage])
    if "index" in stages:  # dedup.index: removed against earlier builds
        summary["index"] = index_summary(stages)
    cutoffs = None
    if files.get("perplexity_cutoffs"):
        cutoffs = read_json(next(iter(files["perplexity_cutoffs"])))
    elif "perplexity" in stages:
        cutoffs = stages["perplexity"].get("cutoffs")
    if cutoffs is not None or final["perplexity"].notna().any():
        summary["perplexity"] = {"cutoffs": cutoffs, "by_lang": per_lang(final, "perplexity")}
    quality_buckets = stages.get("quality", {}).get("buckets")
    if quality_buckets:  # quality.buckets: final documents per language and quality bucket
        summary["quality_buckets"] = {
            "cutoffs": quality_buckets.get("cutoffs"),
            "by_lang": cross_counts(final, "lang", "quality_bucket"),
        }
    if files.get("topics"):  # prompts.topics: the clusters, their labels and what was kept
        summary["topics"] = topics_summary(read_json(next(iter(files["topics"]))))
    if duplicates:
        summary["dedup"] = duplicates
    if files.get("train_mixture"):  # rules/train.smk
        summary["train"] = mixture_summary(read_json(next(iter(files["train_mixture"]))))
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


def write_summary(
    inputs: Mapping[str, Any],
    out: str | os.PathLike[str],
    doc_stages: Sequence[str],
    **options: Any,
) -> dict[str, Any]:
    """The job of rule summarize: the summary of the named ``inputs`` (a path or a list
    of paths each; see ``summarize_workflow`` for them and ``options``), its audit
    logged and checked (``AuditError`` if a record is lost), written to ``out``."""
    summary = summarize_workflow(path_lists(inputs), doc_stages, **options)
    for audit in summary["audit"]["stages"]:
        log.info("audit %s", audit)
    check(summary)
    write_json(summary, out)
    return summary
