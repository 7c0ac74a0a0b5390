"""Reading what the stages wrote: columns of many Parquet files, the final jsonl,
Snakemake's benchmark files."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import pandas as pd
import pyarrow as pa
import pyarrow.json as pa_json
import pyarrow.parquet as pq

# Fields of the final jsonl the summary and the plots read (others are ignored).
FINAL_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("lang", pa.string()),
        ("bucket", pa.string()),
        ("perplexity", pa.float64()),
        ("quality_bucket", pa.string()),
        ("token_length", pa.int64()),
        ("format", pa.string()),
        ("audience", pa.string()),
        ("finish_reason", pa.string()),
        ("origin", pa.string()),
    ]
)


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


def read_benchmark(path: str | os.PathLike[str]) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", na_values=["NA", "-", ""])
