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
from collections.abc import Iterable, Iterator, Sequence
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
    return web_documents(rows, count_tokens)


def web_documents(rows: pd.DataFrame, count_tokens: TokenCounter) -> pd.DataFrame:
    """Seed rows (of one shard, in id order) as documents with the stage's columns."""
    docs = pd.DataFrame(index=range(len(rows)), columns=COLUMNS, dtype=object)
    if rows.empty:
        return docs
    rows = rows.reset_index(drop=True)
    for column in ("id", "seed_id", "source", "text", "topic", *WEB_COLUMNS):
        if column in rows.columns:
            docs[column] = _strings(rows[column])
    docs["origin"] = WEB
    docs["prompt_lang"] = _strings(rows["lang"]) if "lang" in rows.columns else None
    # the counter takes the texts a slice at a time: as Python strings, a slice alone
    docs["completion_tokens"] = count_tokens(rows["text"].array)
    return docs


def _strings(column: pd.Series) -> pd.Series:
    """A column of strings as it is when pandas holds it in Arrow (no Python string
    per value), else as objects with None for missing values."""
    if isinstance(column.dtype, pd.StringDtype):
        return column
    return column.astype(object).where(column.notna(), None)


def generated_documents(generated: pd.DataFrame) -> pd.DataFrame:
    """A shard's generated documents with the stage's columns and their origin."""
    gen = generated.reindex(columns=COLUMNS).astype(object)
    gen["origin"] = gen["origin"].where(gen["origin"].notna(), GENERATED)
    return gen


def _finish(docs: pd.DataFrame) -> pd.DataFrame:
    docs = docs[COLUMNS]
    if not docs["id"].is_monotonic_increasing:
        docs = docs.sort_values("id", kind="stable")
    docs = docs.reset_index(drop=True)
    for column in ("prompt_tokens", "completion_tokens"):
        docs[column] = pd.array(docs[column].tolist(), dtype="Int64")
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
        gen = generated_documents(generated)
        n_generated = len(gen)
        parts.append(gen)
    web = seed_documents(seeds, shard, num_shards, count_tokens)
    parts.append(web)
    docs = _finish(pd.concat([p for p in parts if len(p)] or [web], ignore_index=True))
    _check_unique(docs["id"])
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


def _check_unique(ids: pd.Series, before: str | None = None) -> None:
    """Ids in order must be unique (``before``: the last id of the previous batch)."""
    dupes = ids[ids.duplicated()].tolist()
    if before is not None and len(ids) and ids.iloc[0] == before:
        dupes.append(before)
    if dupes:
        raise ValueError(f"collect: document ids seen twice: {sorted(set(dupes))[:5]}")


def shard_stream(
    generated: pd.DataFrame | None,
    seeds: Sequence[str],
    count_tokens: TokenCounter,
    batch_rows: int,
) -> Iterator[pd.DataFrame]:
    """The documents of :func:`collect_shard`, in the same order, as a stream of
    batches: each seed's rows of the shard (``seeds``: each seed's records of this
    shard, in id order, as rule seed_shard writes them) are read ``batch_rows`` at a
    time, their tokens counted, and the seeds and the shard's generated documents
    merged by id."""
    from .io import iter_parquet_frames, merge_by_id

    streams: list[Iterable[pd.DataFrame]] = []
    if generated is not None and len(generated):
        gen = generated_documents(generated).sort_values("id", kind="stable")
        streams.append(gen.iloc[lo : lo + batch_rows] for lo in range(0, len(gen), batch_rows))
    for path in seeds:
        streams.append(
            web_documents(rows, count_tokens) for rows in iter_parquet_frames(path, batch_rows)
        )
    for block in merge_by_id(streams, batch_rows):
        yield _finish(block)


def collect_job(
    generated: str | None,
    seeds: Sequence[str],
    shard: str,
    tokenizer: str,
    out_docs: str,
    out_rejected: str,
    out_stats: str,
    threads: int | None = None,
    batch_rows: int = 2_000,
    count: TokenCounter | None = None,
) -> dict[str, Any]:
    """The job of rule collect for one shard: the shard's generated documents (file
    ``generated``, None in a web build) and seed documents (``seeds``: each seed's
    records of the shard, rule seed_shard), token
    counts with the tokenizer folder ``tokenizer`` (corpusforge.tokenizer, in
    ``threads`` threads); nothing is rejected. Streamed: the job holds a batch of
    each seed's rows (and the shard's generated documents), not the seeds.
    ``count``: a token counter to use instead of the tokenizer's."""
    from .io import ParquetSink, read_parquet, write_json, write_parquet
    from .records import REJECT_SCHEMA, rejects_frame

    gen = read_parquet(generated) if generated else None
    count = count or token_counter(tokenizer, threads)
    amounts, last = [], None
    with ParquetSink(out_docs, schema=SCHEMA) as sink:
        for docs in shard_stream(gen, seeds, count, batch_rows):
            _check_unique(docs["id"], last)
            last = docs["id"].iloc[-1]
            sink.add(docs)
            amounts.append(docs[["origin", "completion_tokens"]])
        if last is None:
            sink.add(_finish(pd.DataFrame(columns=COLUMNS)))
    kept = pd.concat(amounts, ignore_index=True) if amounts else pd.DataFrame(columns=COLUMNS)
    # nothing is rejected here: every document in is kept
    stats = stage_stats(
        STAGE, len(kept), len(kept), pd.DataFrame(columns=["reason"]), **origin_stats(kept)
    )
    write_parquet(rejects_frame([]), out_rejected, schema=REJECT_SCHEMA)
    stats = {**stats, "shard": shard}
    write_json(stats, out_stats)
    log.info("collect %s: %s", shard, stats["by_origin"])
    return stats
