"""Export stage: the final corpus as jsonl, one JSON object per document.

Rows are written sorted by id, with a fixed field order, so the same documents
always give the same bytes. Field names follow Cosmopedia's rows (``prompt``,
``text``, ``token_length``, ``audience``, ``format``, ``seed_data``) plus our
lineage and provenance fields: ``seed_id`` (the seed row's id), ``source`` (the
seed's name) and ``source_id`` (the row's own id in the user's file, from the
seed's ``columns.id``, the WARC-Record-ID of a crawl record, else its row number),
looked up in the seed records by ``seed_id``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from .io import PathLike, read_parquet, read_parquets, write_json, write_jsonl
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
    "origin": "origin",
}
# Crawl provenance of web documents (columns added by the collect stage).
WEB_FIELDS = ("url", "warc_date", "record_id")
# Columns added by the cleaning stages, exported when present.
LATER_FIELDS = (
    "lang_score",
    "quality_score",
    "quality_label",
    "perplexity",
    "bucket",
    "dup_count",
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
    fields.update({name: name for name in WEB_FIELDS if name in docs.columns})
    fields.update({name: name for name in LATER_FIELDS if name in docs.columns})
    ordered = docs.sort_values("id", kind="stable")
    return [
        {name: _plain(rec.get(column)) for name, column in fields.items()}
        for rec in ordered.to_dict("records")
    ]


class ExportError(ValueError):
    pass


def with_source_ids(docs: pd.DataFrame, seeds: pd.DataFrame) -> pd.DataFrame:
    """The documents with ``source_id``: that of the seed row each descends from.

    ``seeds``: ``seed_id`` and ``source_id`` of every seed record of the build. A
    document whose ``seed_id`` is in none is an error (its lineage is broken).
    """
    lookup = dict(zip(seeds["seed_id"], seeds["source_id"], strict=True))
    missing = sorted(set(docs["seed_id"]) - lookup.keys(), key=str)
    if missing:
        raise ExportError(
            f"{len(missing)} document seed_id(s) in no seed's records, e.g. {missing[:5]}"
        )
    return docs.assign(source_id=docs["seed_id"].map(lookup).astype(object))


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


def export_shard(
    docs_path: PathLike,
    seed_paths: Sequence[PathLike],
    langs: list[str],
    buckets: list[str],
    jsonl_paths: Sequence[PathLike],
    stats_path: PathLike,
    shard: str,
) -> dict:
    """The whole job of rule ``export_jsonl``: one jsonl file per (lang, bucket), in
    the order of ``langs`` x ``buckets``, and the job's stats."""
    docs = read_parquet(docs_path)
    seeds = read_parquets(seed_paths, columns=["seed_id", "source_id"])
    parts = partition(to_records(with_source_ids(docs, seeds)), langs, buckets)
    keys = [(lang, bucket) for lang in langs for bucket in buckets]
    written = sum(
        write_jsonl(parts[key], path) for key, path in zip(keys, jsonl_paths, strict=True)
    )
    stats = {
        **export_stats(len(docs), written),
        "shard": shard,
        "partitions": {f"{k[0]}/{k[1]}": len(v) for k, v in sorted(parts.items())},
    }
    write_json(stats, stats_path)
    return stats
