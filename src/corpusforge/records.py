"""The data contract between stages: ids, shard assignment, rejected rows.

Records travel between rules as Parquet shards. Every record has a stable ``id``
(a hash of where it came from and what it says) and ``seed_id``, the id of the
seed row it descends from, so any final document can be traced back to its seed
and every seed row can be found either in the corpus or in a rejected file.

See ``docs/data-contract.md`` for the columns each stage adds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa

ID_HEX_CHARS = 16


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
    frame = pd.DataFrame(list(rows), columns=REJECT_COLUMNS)
    frame["row"] = frame["row"].astype("Int64")
    for column in REJECT_COLUMNS:
        if column != "row":
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame


def reject_records(
    frame: pd.DataFrame, stage: str, reason: str | pd.Series, detail: str | pd.Series = ""
) -> pd.DataFrame:
    """Turn records of a stage's input into rejected rows: one reason for all, or a
    reason (and detail) per record, as Series aligned with ``frame``'s index."""
    details = detail if isinstance(detail, pd.Series) else pd.Series(detail, index=frame.index)
    reasons = reason if isinstance(reason, pd.Series) else pd.Series(reason, index=frame.index)
    rows = [
        {
            "id": rec.get("id"),
            "seed_id": rec.get("seed_id"),
            "stage": stage,
            "reason": str(reasons.loc[idx]),
            "detail": str(details.loc[idx]),
            "source": rec.get("source"),
            "row": rec.get("row"),
            "text": rec.get("text"),
        }
        for idx, rec in zip(frame.index, frame.to_dict("records"), strict=True)
    ]
    return rejects_frame(rows)


def reason_counts(rejects: pd.DataFrame) -> dict[str, int]:
    """Rejected rows per reason, sorted by reason."""
    if rejects.empty:
        return {}
    counts = rejects["reason"].value_counts()
    return {str(k): int(counts[k]) for k in sorted(counts.index)}


def stage_stats(stage: str, n_in: int, kept: int, rejects: pd.DataFrame, **extra) -> dict:
    """The small stats record every per-shard job writes beside its outputs."""
    by_reason = reason_counts(rejects)
    return {
        "stage": stage,
        "in": int(n_in),
        "kept": int(kept),
        "rejected": int(sum(by_reason.values())),
        "rejected_by_reason": by_reason,
        **extra,
    }


def select_shard(frame: pd.DataFrame, shard: int, num_shards: int, key: str = "id") -> pd.DataFrame:
    """The rows of ``frame`` whose ``key`` hashes to ``shard``, sorted by id."""
    mask = frame[key].map(lambda value: shard_of(value, num_shards) == shard)
    return frame[mask].sort_values("id", kind="stable").reset_index(drop=True)
