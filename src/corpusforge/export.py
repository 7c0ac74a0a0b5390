"""Export stage: the final corpus as jsonl, one JSON object per document.

Rows are written sorted by id, with a fixed field order, so the same documents
always give the same bytes. Field names follow Cosmopedia's rows (``prompt``,
``text``, ``token_length``, ``audience``, ``format``, ``seed_data``) plus our
lineage and provenance fields: ``seed_id`` (the seed row's id), ``source`` (the
seed's name) and ``source_id`` (the row's own id in the user's file, from the
seed's ``columns.id``, the WARC-Record-ID of a crawl record, else its row number)
and ``source_file`` (the name of the seed's file the row was read from; a seed may
be many files), looked up in the seed records by ``seed_id``; web documents also
carry ``charset_detected`` (the charset detection chose, null when the page
decoded as declared).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .atomic import atomic_output
from .io import (
    PathLike,
    ids_sorted,
    iter_parquet_frames,
    open_parquet,
    write_json,
    write_json_lines,
)
from .records import stage_stats

STAGE = "export"
# output field -> source column
FIELDS = {
    "id": "id",
    "text": "text",
    "lang": "prompt_lang",
    "format": "format",
    "audience": "audience",
    "prompt": "prompt",
    "seed_data": "seed_data",
    "topic": "topic",
    "token_length": "completion_tokens",
    "finish_reason": "finish_reason",
    "model": "model",
    "seed_id": "seed_id",
    "prompt_id": "prompt_id",
    "source": "source",
    "source_id": "source_id",
    "source_file": "source_file",
    "origin": "origin",
}
# Crawl provenance of web documents (columns added by the collect stage).
WEB_FIELDS = ("url", "warc_date", "record_id", "charset_detected")
# Columns added by the cleaning stages, exported when present.
LATER_FIELDS = (
    "lang_score",
    "quality_score",
    "quality_label",
    "quality_bucket",
    "perplexity",
    "bucket",
    "dup_count",
    # what the cleaning stages changed in the text (counts, never the values)
    "clean",
    "pii",
    "corrected_lines",
    "corrected_chars",
    "removed_lines",
    "removed_chars",
)


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and pd.isna(value):
        return None
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    return value


def to_records(docs: pd.DataFrame) -> list[dict[str, Any]]:
    """Documents -> JSON-ready dicts in the export field order, sorted by id.

    Once language ID has run, its ``lang`` replaces the prompt language, and the
    columns of later stages (``lang_score``, ``quality_score``, ``bucket``, ...)
    are appended in the order of ``LATER_FIELDS`` when present, after the crawl
    provenance fields of a build with web documents (``WEB_FIELDS``).
    """
    fields = dict(FIELDS)
    if "lang" in docs.columns:
        fields["lang"] = "lang"
    if "url" in docs.columns:
        fields.update({name: name for name in WEB_FIELDS})
    fields.update({name: name for name in LATER_FIELDS if name in docs.columns})
    ordered = docs.sort_values("id", kind="stable")
    return [
        {name: _plain(rec.get(column)) for name, column in fields.items()}
        for rec in ordered.to_dict("records")
    ]


class ExportError(ValueError):
    pass


# Columns of the seed records every document gets, by its seed_id.
SEED_LOOKUP = ("source_id", "source_file", "charset_detected")


class SeedLookup:
    """``source_id`` (and ``source_file``, ``charset_detected`` where the seed
    records have them) of the seed rows documents descend from, by ``seed_id``.

    ``seeds``: ``seed_id`` and those columns of every seed record of the shard, as
    Arrow (a few short strings a row, indexed once).
    """

    def __init__(self, seeds: pa.Table) -> None:
        self.columns = [c for c in SEED_LOOKUP if c in seeds.column_names]
        self.values = seeds.select(self.columns)
        self.index = pd.Index(seeds.column("seed_id").to_pandas())

    def attach(self, docs: pd.DataFrame) -> pd.DataFrame:
        """The documents with the looked-up columns. A document whose ``seed_id`` is
        in no seed record is an error (its lineage is broken)."""
        at = self.index.get_indexer(docs["seed_id"])
        if (at < 0).any():
            missing = sorted(set(docs["seed_id"][at < 0]), key=str)
            raise ExportError(
                f"{len(missing)} document seed_id(s) in no seed's records, e.g. {missing[:5]}"
            )
        rows = self.values.take(pa.array(at))
        return docs.assign(
            **{
                column: pd.Series(rows.column(column).to_pylist(), index=docs.index, dtype=object)
                for column in self.columns
            }
        )


def with_source_ids(docs: pd.DataFrame, seeds: pd.DataFrame) -> pd.DataFrame:
    """The documents with the seed columns of :class:`SeedLookup` (``seeds`` as a
    DataFrame)."""
    return SeedLookup(pa.Table.from_pandas(seeds, preserve_index=False)).attach(docs)


def partition(
    records: list[dict[str, Any]], langs: list[str], buckets: list[str]
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Group records by (lang, bucket); ``all`` as the only value takes everything.

    Every (lang, bucket) pair gets an entry, empty or not, so each shard writes
    the same set of files. A record that fits no partition is an error: the
    cleaning stages decide what is kept, export never drops silently.
    """
    parts: dict[tuple[str, str], list[dict[str, Any]]] = {
        (lang, bucket): [] for lang in langs for bucket in buckets
    }
    for record in records:
        lang = "all" if langs == ["all"] else record.get("lang")
        bucket = "all" if buckets == ["all"] else record.get("bucket")
        if (lang, bucket) not in parts:
            raise ExportError(
                f"document {record.get('id')}: no partition for lang={lang!r} bucket={bucket!r} "
                f"(partitions: languages {langs}, buckets {buckets})"
            )
        parts[(lang, bucket)].append(record)
    return parts


def export_stats(n_in: int, n_out: int) -> dict:
    return stage_stats(STAGE, n_in, n_out, pd.DataFrame(columns=["reason"]))


def _seed_columns(seed_paths: Sequence[PathLike]) -> list[str]:
    """``seed_id`` and the columns of ``SEED_LOOKUP`` every seed file has."""
    names = [set(pq.read_schema(path).names) for path in seed_paths]
    common = set.intersection(*names) if names else set()
    return ["seed_id", *[column for column in SEED_LOOKUP if column in common]]


def read_seed_lookup(seed_paths: Sequence[PathLike]) -> SeedLookup:
    """The lookup of a shard's seed records (their key columns alone)."""
    columns = _seed_columns(seed_paths)
    tables = [open_parquet(path).read(columns=columns) for path in seed_paths]
    schema = pa.schema([pa.field(c, pa.string()) for c in columns])
    seeds = pa.concat_tables(
        [t.select(columns).cast(schema) for t in tables] or [schema.empty_table()]
    )
    return SeedLookup(seeds)


def export_shard(
    docs_path: PathLike,
    seed_paths: Sequence[PathLike],
    langs: list[str],
    buckets: list[str],
    jsonl_paths: Sequence[PathLike],
    stats_path: PathLike,
    shard: str,
    batch_rows: int | None = None,
) -> dict:
    """The whole job of rule ``export_jsonl``: one jsonl file per (lang, bucket), in
    the order of ``langs`` x ``buckets``, and the job's stats.

    With ``batch_rows``, ``batch_rows`` documents at a time: a shard's documents are
    in id order (a shard whose ids are not is read whole), so the files get the
    bytes of one pass over the shard. Every file is published only once all are
    written.
    """
    seeds = read_seed_lookup(seed_paths)
    if batch_rows is not None and not ids_sorted(docs_path):
        batch_rows = None
    keys = [(lang, bucket) for lang in langs for bucket in buckets]
    counts = dict.fromkeys(keys, 0)
    n_in = 0
    with contextlib.ExitStack() as stack:
        tmps = [stack.enter_context(atomic_output(path)) for path in jsonl_paths]
        handles = {
            key: stack.enter_context(open(tmp, "w", encoding="utf-8", newline="\n"))
            for key, tmp in zip(keys, tmps, strict=True)
        }
        for docs in iter_parquet_frames(docs_path, batch_rows):
            n_in += len(docs)
            parts = partition(to_records(seeds.attach(docs)), langs, buckets)
            for key, records in parts.items():
                write_json_lines(records, handles[key])
                counts[key] += len(records)
    stats = {
        **export_stats(n_in, sum(counts.values())),
        "shard": shard,
        "partitions": {f"{k[0]}/{k[1]}": v for k, v in sorted(counts.items())},
    }
    write_json(stats, stats_path)
    return stats
