"""Stats and audit: counts per stage, and proof that no record was lost.

Every per-shard job writes a small stats JSON (``records.stage_stats``). The
gather step (rule ``summarize``) sums them per stage and audits the ids: for
each stage, every id that entered it left it exactly once, either kept (as the
parent of an output record) or in that stage's rejected file with a reason. The
seed stage, whose input rows may have no id at all, is audited by row counts.
Ids are read a file at a time and held as 64-bit hashes (``files.Ids``), so the
audit of a million documents holds megabytes, not the ids' strings; a problem's
example ids are read again from the files.

The audit is generic over the document stages (``DOC_STAGES`` in
rules/common.smk): generation maps a prompt id to a document (``prompt_id``),
every later stage keeps the document id. Besides the audit the summary holds,
per stage, documents and tokens in, kept and rejected by reason; corpus counts
per language, bucket and format x audience; generation totals; duplicate
clusters (from the rejected rows of any stage that rejects ``exact_duplicate`` /
``near_duplicate`` with a JSON detail naming ``kept_id``); perplexity cutoffs
and quantiles; and run time per rule from Snakemake's benchmark files.

Modules: ``files`` (reading the stages' files), ``audit``, ``merge`` (per-shard
stats summed per stage), ``corpus`` (pieces of the summary), ``summary`` (the whole
summary, rule summarize's job).
"""

from .audit import (
    AuditError,
    AuditResult,
    StageFiles,
    audit_ids,
    audit_seed_counts,
    audit_stage,
    check,
)
from .corpus import corpus_summary, duplicate_clusters, origin_shares, relative_names, runtime
from .files import FINAL_SCHEMA, read_final
from .merge import aggregate, merge_stats
from .summary import summarize_workflow, write_summary

__all__ = [
    "FINAL_SCHEMA",
    "AuditError",
    "AuditResult",
    "StageFiles",
    "aggregate",
    "audit_ids",
    "audit_seed_counts",
    "audit_stage",
    "check",
    "corpus_summary",
    "duplicate_clusters",
    "merge_stats",
    "origin_shares",
    "read_final",
    "relative_names",
    "runtime",
    "summarize_workflow",
    "write_summary",
]
