"""The data contract between stages: ids, shard assignment, rejected rows.

Records travel between rules as Parquet shards. Every record has a stable ``id``
(a hash of where it came from and what it says) and ``seed_id``, the id of the
seed row it descends from, so any final document can be traced back to its seed
and every seed row can be found either in the corpus or in a rejected file.

See ``docs/data-contract.md`` for the columns each stage adds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa

ID_HEX_CHARS = 16
# A document's ``origin``: written by the model (corpusforge.generate), or taken from
# a seed file or crawl (corpusforge.collect). A record without one is generated.
GENERATED = "generated"
WEB = "web"


def stable_id(*parts: object) -> str:
    """A 64-bit hex id from the parts, stable across runs, machines and Python versions."""
    digest = hashlib.blake2b(digest_size=ID_HEX_CHARS // 2)
    for part in parts:
        data = str(part).encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def unit_hash(*parts: object) -> float:
    """A deterministic number in [0, 1) from the parts (for seeded sampling)."""
    return int(stable_id(*parts), 16) / float(1 << (4 * ID_HEX_CHARS))


def shard_of(record_id: str, num_shards: int) -> int:
    """The shard a record id belongs to: uniform, stable, independent of row order."""
    return int(record_id[-8:], 16) % num_shards


def shard_name(index: int) -> str:
    return f"{index:04d}"


# Columns of every rejected file, whatever the stage.
REJECT_SCHEMA = pa.schema(
    [
        ("id", pa.string()),  # id of the record as it entered the stage
        ("seed_id", pa.string()),  # seed row it descends from (null if the row was unreadable)
        ("stage", pa.string()),
        ("reason", pa.string()),  # short machine-readable code, e.g. empty_text
        ("detail", pa.string()),  # human-readable explanation
        ("source", pa.string()),  # seed name (and file) the row came from
        ("row", pa.int64()),  # row number in the seed file, where known
        ("text", pa.string()),  # the text that was rejected, where there was one
    ]
)
REJECT_COLUMNS = [field.name for field in REJECT_SCHEMA]


@dataclass
class RawRow:
    """One row as a reader gives it (seed files, crawl files), before it is a record:
    its fields, or why they could not be read."""

    row: int  # 1-based: line number for jsonl, data row for csv and parquet
    fields: dict[str, Any] | None = None
    error: str | None = None  # reason code when the row could not be parsed
    detail: str = ""
    raw: str | None = None  # the row's text (undecodable bytes replaced) when unparsable


def rejects_frame(rows: Iterable[dict]) -> pd.DataFrame:
    """Build a rejected-rows frame with exactly the contract's columns."""
    return _reject_types(pd.DataFrame(list(rows), columns=REJECT_COLUMNS))


def _reject_types(frame: pd.DataFrame) -> pd.DataFrame:
    frame["row"] = frame["row"].astype("Int64")
    for column in REJECT_COLUMNS:
        if column != "row":
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame


def _per_record(value: str | pd.Series | Sequence[str], index: pd.Index) -> list[str]:
    if isinstance(value, (list, tuple)):
        if len(value) != len(index):
            raise ValueError(f"{len(value)} values for {len(index)} rejected records")
        return [str(item) for item in value]
    if not isinstance(value, pd.Series):
        return [str(value)] * len(index)
    if not value.index.equals(index):
        value = value.loc[index]
    return [str(item) for item in value.to_numpy()]


def reject_records(
    frame: pd.DataFrame,
    stage: str,
    reason: str | pd.Series | Sequence[str],
    detail: str | pd.Series | Sequence[str] = "",
) -> pd.DataFrame:
    """Turn records of a stage's input into rejected rows: one reason for all, or a
    reason (and detail) per record, as Series aligned with ``frame``'s index or as a
    list in the order of its rows."""
    n = len(frame)

    def column(name: str) -> list:
        return frame[name].to_numpy(dtype=object).tolist() if name in frame.columns else [None] * n

    columns = {
        "id": column("id"),
        "seed_id": column("seed_id"),
        "stage": [stage] * n,
        "reason": _per_record(reason, frame.index),
        "detail": _per_record(detail, frame.index),
        "source": column("source"),
        "row": column("row"),
        "text": column("text"),
    }
    return _reject_types(pd.DataFrame(columns, columns=REJECT_COLUMNS))


def reason_counts(rejects: pd.DataFrame) -> dict[str, int]:
    """Rejected rows per reason, sorted by reason."""
    if rejects.empty:
        return {}
    counts = rejects["reason"].value_counts()
    return {str(k): int(counts[k]) for k in sorted(counts.index)}


def stage_stats(
    stage: str, n_in: int, kept: int, rejects: pd.DataFrame | Mapping[str, int], **extra
) -> dict:
    """The small stats record every per-shard job writes beside its outputs;
    ``rejects``: the rejected rows, or their counts by reason."""
    if isinstance(rejects, pd.DataFrame):
        by_reason = reason_counts(rejects)
    else:
        by_reason = {str(k): int(rejects[k]) for k in sorted(rejects) if rejects[k]}
    return {
        "stage": stage,
        "in": int(n_in),
        "kept": int(kept),
        "rejected": int(sum(by_reason.values())),
        "rejected_by_reason": by_reason,
        **extra,
    }


def stage_outcome(
    stage: str, docs: pd.DataFrame, kept: pd.DataFrame, rejects: pd.DataFrame, **extra
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """What a per-shard job of ``stage`` returns for its input ``docs``: the kept
    records and the rejected rows, each sorted by id (index reset), and its stats."""
    kept = sort_by_id(kept)
    rejects = sort_by_id(rejects)
    return kept, rejects, stage_stats(stage, len(docs), len(kept), rejects, **extra)


def sort_by_id(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by ``id`` (stable; kept as they are without one), index reset."""
    if "id" in frame.columns:
        frame = frame.sort_values("id", kind="stable")
    return frame.reset_index(drop=True)


def origins(docs: pd.DataFrame) -> pd.Series:
    """Each record's ``origin`` as a string: GENERATED where the column or value is missing."""
    if "origin" not in docs.columns:
        return pd.Series(GENERATED, index=docs.index, dtype=object)
    return docs["origin"].astype(object).where(docs["origin"].notna(), GENERATED).astype(str)


def select_shard(frame: pd.DataFrame, shard: int, num_shards: int, key: str = "id") -> pd.DataFrame:
    """The rows of ``frame`` whose ``key`` hashes to ``shard``, sorted by id."""
    mask = frame[key].map(lambda value: shard_of(value, num_shards) == shard)
    return frame[mask].sort_values("id", kind="stable").reset_index(drop=True)
