"""File input/output shared by every stage.

Every writer here is atomic: data goes to a temporary file in the destination
folder and is renamed into place only once it is complete, so a killed job never
leaves a file that looks finished. Writers are also deterministic (no pandas
index, sorted JSON keys, fixed compression), so the same records give the same
bytes on every run.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

# atomic_output lives apart so that jobs writing no table need not import pandas
from .atomic import PathLike, atomic_output


def write_parquet(frame: pd.DataFrame, path: PathLike, schema: pa.Schema | None = None) -> None:
    """Write ``frame`` as one Parquet file, atomically and reproducibly."""
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    # pandas metadata embeds the index layout and library versions; keep only data.
    write_table(table.replace_schema_metadata(None), path)


def write_table(table: pa.Table, path: PathLike) -> None:
    """Write an Arrow table as one Parquet file, atomically and reproducibly."""
    with atomic_output(path) as tmp:
        pq.write_table(table, tmp, compression="zstd", use_dictionary=False)


def read_parquet(path: PathLike, columns: list[str] | None = None) -> pd.DataFrame:
    """Read one Parquet file into a DataFrame with a fresh RangeIndex."""
    return pq.read_table(path, columns=columns).to_pandas().reset_index(drop=True)


def read_parquets(paths: Iterable[PathLike], columns: list[str] | None = None) -> pd.DataFrame:
    """Concatenate several Parquet files (in the given order)."""
    frames = [read_parquet(p, columns=columns) for p in paths]
    if not frames:
        return pd.DataFrame(columns=columns or [])
    return pd.concat(frames, ignore_index=True)


def dumps_json(obj: Any) -> str:
    """Canonical JSON text: sorted keys, two-space indent, UTF-8 characters kept."""
    return (
        json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, default=_json_default) + "\n"
    )


def write_json(obj: Any, path: PathLike) -> None:
    """Write ``obj`` as canonical JSON, atomically."""
    with atomic_output(path) as tmp:
        tmp.write_text(dumps_json(obj), encoding="utf-8")


def write_text(text: str, path: PathLike) -> None:
    """Write ``text`` as UTF-8, atomically."""
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def sha256_file(path: PathLike) -> str:
    """Hex SHA-256 digest of the file at ``path``, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def read_json(path: PathLike) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_jsonl(records: Iterable[Mapping[str, Any]], path: PathLike) -> int:
    """Write one JSON object per line (UTF-8, not ASCII-escaped), atomically.

    Returns the number of lines written.
    """
    count = 0
    with atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False, default=_json_default))
            handle.write("\n")
            count += 1
    return count


def _json_default(value: Any) -> Any:
    """Make numpy scalars and arrays JSON serialisable."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON")


def path_lists(named: Mapping[str, Any]) -> dict[str, list[str]]:
    """Named files (a rule's inputs: a path or a list of paths each) as lists of paths."""
    return {
        name: [str(value)] if isinstance(value, str | os.PathLike) else [str(v) for v in value]
        for name, value in named.items()
    }


StageStep = Callable[[pd.DataFrame], tuple[pd.DataFrame, pd.DataFrame, dict]]


def run_doc_stage(
    step: StageStep,
    docs_path: PathLike,
    out_docs: PathLike,
    out_rejected: PathLike,
    out_stats: PathLike,
    shard: str | None = None,
) -> dict:
    """The job of a per-shard document stage: read the shard's documents, run
    ``step`` (documents -> kept, rejected rows, stats) and write the three outputs."""
    from .records import REJECT_SCHEMA

    docs = read_parquet(docs_path)
    kept, rejects, stats = step(docs)
    write_parquet(kept, out_docs)
    write_parquet(rejects, out_rejected, schema=REJECT_SCHEMA)
    if shard is not None:
        stats = {**stats, "shard": shard}
    write_json(stats, out_stats)
    return stats
