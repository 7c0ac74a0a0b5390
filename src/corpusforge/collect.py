"""Collect stage (web and mixed builds): seed documents join the document stream.

A build runs in one of three modes (config ``mode``):

* ``generate``: documents come from generation only (this stage does not run);
* ``web``: documents are the rows of the seeds of kind ``documents`` (web pages
  from WARC/WET files, or any text), straight from the seed stage;
* ``both``: the generated documents of a shard and the seed documents of the
  same shard, side by side.

Every document then carries ``origin`` (``generated`` or ``web``), which the
cleaning stages keep, the filters stage can select on and the summary counts by,
so the proportions of the mix are recorded at every stage and in the corpus.

Seed documents keep their seed id as document id (``seed_id`` = ``id``), their
``url``, ``warc_date`` and ``record_id``; ``prompt_lang`` is the seed's language
(its column, or the script guess) until language ID replaces it, and
``completion_tokens`` is their length in tokens of the generation model's
tokenizer (its files alone, corpusforge.tokenizer), so token counts of both
origins are comparable. Nothing is rejected
here: the stage only joins and labels.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pandas as pd
import pyarrow as pa

from .generate import DOC_COLUMNS
from .generate import ORIGIN as GENERATED
from .records import select_shard, stage_stats
from .stats import origin_shares
from .tokenizer import TokenCounter, token_counter

STAGE = "collect"
WEB = "web"
MODES = ("generate", "web", "both")
# Crawl provenance of seed documents (null on generated documents).
WEB_COLUMNS = ["url", "warc_date", "record_id"]
COLUMNS = DOC_COLUMNS + WEB_COLUMNS
SCHEMA = pa.schema(
    [(name, pa.int64() if name.endswith("_tokens") else pa.large_string()) for name in COLUMNS]
)

log = logging.getLogger("corpusforge.collect")


def seed_documents(
    seeds: pd.DataFrame, shard: int, num_shards: int, count_tokens: TokenCounter
) -> pd.DataFrame:
    """The seed rows of one shard as documents with the stage's columns."""
    rows = select_shard(seeds, shard, num_shards, "seed_id") if len(seeds) else seeds
    docs = pd.DataFrame(index=range(len(rows)), columns=COLUMNS, dtype=object)
    if rows.empty:
        return docs
    rows = rows.reset_index(drop=True)
    for column in ("id", "seed_id", "source", "text", "topic", *WEB_COLUMNS):
        if column in rows.columns:
            docs[column] = rows[column].astype(object).where(rows[column].notna(), None)
    docs["origin"] = WEB
    docs["prompt_lang"] = rows["lang"].astype(object) if "lang" in rows.columns else None
    docs["completion_tokens"] = count_tokens(rows["text"].tolist())
    return docs


def collect_shard(
    generated: pd.DataFrame | None,
    seeds: pd.DataFrame,
    shard: int,
    num_shards: int,
    count_tokens: TokenCounter,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """(documents, stats): the shard's generated documents (if any) and seed documents.

    ``seeds``: the records of every seed of kind ``documents`` (all shards); the
    rows whose ``seed_id`` hashes to ``shard`` are taken, like prompt construction
    takes its extracts.
    """
    parts = []
    n_generated = 0
    if generated is not None:
        gen = generated.reindex(columns=COLUMNS).astype(object)
        gen["origin"] = gen["origin"].where(gen["origin"].notna(), GENERATED)
        n_generated = len(gen)
        parts.append(gen)
    web = seed_documents(seeds, shard, num_shards, count_tokens)
    parts.append(web)
    docs = pd.concat([p for p in parts if len(p)] or [web], ignore_index=True)
    docs = docs[COLUMNS].sort_values("id", kind="stable").reset_index(drop=True)
    for column in ("prompt_tokens", "completion_tokens"):
        docs[column] = pd.array(docs[column].tolist(), dtype="Int64")
    dupes = docs["id"][docs["id"].duplicated()]
    if len(dupes):
        raise ValueError(f"collect: document ids seen twice: {sorted(dupes)[:5]}")
    stats = stage_stats(
        STAGE,
        n_generated + len(web),
        len(docs),
        pd.DataFrame(columns=["reason"]),
        **origin_stats(docs),
    )
    return docs, stats


def origin_stats(docs: pd.DataFrame) -> dict[str, Any]:
    """Documents and tokens by origin, with each origin's share."""
    return {"by_origin": origin_shares(docs, "completion_tokens")}


def collect_job(
    generated: str | None,
    seeds: Sequence[str],
    shard: str,
    shards: int,
    tokenizer: str,
    out_docs: str,
    out_rejected: str,
    out_stats: str,
    threads: int | None = None,
) -> dict[str, Any]:
    """The job of rule collect for one shard: the shard's generated documents (file
    ``generated``, None in a web build) and seed documents (of ``seeds``), token
    counts with the tokenizer folder ``tokenizer`` (corpusforge.tokenizer, in
    ``threads`` threads); nothing is rejected."""
    from .io import read_parquet, read_parquets, write_json, write_parquet
    from .records import REJECT_SCHEMA, rejects_frame

    docs, stats = collect_shard(
        read_parquet(generated) if generated else None,
        read_parquets(seeds),
        int(shard),
        shards,
        token_counter(tokenizer, threads),
    )
    write_parquet(docs, out_docs, schema=SCHEMA)
    write_parquet(rejects_frame([]), out_rejected, schema=REJECT_SCHEMA)
    stats = {**stats, "shard": shard}
    write_json(stats, out_stats)
    log.info("collect %s: %s", shard, stats["by_origin"])
    return stats
