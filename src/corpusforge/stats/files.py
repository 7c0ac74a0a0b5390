"""Reading what the stages wrote: columns of many Parquet files, the final jsonl,
Snakemake's benchmark files."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.json as pa_json
import pyarrow.parquet as pq

# Fields of the final jsonl the summary and the plots read (others are ignored; the
# summary reads the ids apart, as hashes).
FINAL_SCHEMA = pa.schema(
    [
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


def id_hashes(values: pd.Series) -> np.ndarray:
    """64-bit hashes of ids (pandas' ``hash_array``: SipHash with a fixed key, the same
    on every run and machine)."""
    return pd.util.hash_array(values.astype(str).to_numpy(dtype=object), categorize=False)


@dataclass
class Ids:
    """A column of ids as 64-bit hashes (8 bytes an id, in row order; ``present``:
    rows that have an id): what the audit compares, so that a build-wide audit
    holds no id strings. Two different ids of a build share a hash with odds of
    about n^2 / 2^65 (3 in 100 million at a million ids). The ids themselves are read
    again (``sources``) only to name examples of a problem."""

    hashes: np.ndarray
    present: np.ndarray
    sources: list[Callable[[], Iterable[pd.Series]]] = field(default_factory=list)

    @classmethod
    def of(cls, values: pd.Series) -> Ids:
        """The ids of a Series (held for the examples)."""
        present = values.notna().to_numpy(dtype=bool)
        hashes = np.zeros(len(values), dtype=np.uint64)
        hashes[present] = id_hashes(values[present])
        return cls(hashes, present, [lambda: [values]])

    @classmethod
    def join(cls, parts: Sequence[Ids]) -> Ids:
        """The ids of several columns, one after another."""
        if not parts:
            return cls.of(pd.Series([], dtype=object))
        return cls(
            np.concatenate([p.hashes for p in parts]),
            np.concatenate([p.present for p in parts]),
            [source for p in parts for source in p.sources],
        )

    def __len__(self) -> int:
        return len(self.hashes)

    @property
    def missing(self) -> int:
        return int(len(self.present) - self.present.sum())

    def unique(self) -> np.ndarray:
        return np.unique(self.hashes[self.present])

    def repeated(self) -> np.ndarray:
        """The hashes of ids that appear more than once."""
        values, n = np.unique(self.hashes[self.present], return_counts=True)
        return values[n > 1]

    def named(self, wanted: np.ndarray, limit: int) -> list[str]:
        """The first ``limit`` (sorted) of the ids whose hashes are ``wanted``."""
        found: set[str] = set()
        for source in self.sources:
            for values in source():
                values = values.dropna().astype(str)
                found.update(values[np.isin(id_hashes(values), wanted)])
        return sorted(found)[:limit]


def read_keyed(
    paths: Iterable[str | os.PathLike[str]], key: str, columns: Sequence[str] = ()
) -> tuple[Ids, pd.DataFrame]:
    """Column ``key`` of Parquet or jsonl files as :class:`Ids` and ``columns`` as a
    frame (as :func:`read_table` reads them): :func:`read_ids` of one key."""
    ids, frame = read_ids(paths, [key], columns)
    return ids[key], frame


def read_ids(
    paths: Iterable[str | os.PathLike[str]], keys: Sequence[str], columns: Sequence[str] = ()
) -> tuple[dict[str, Ids], pd.DataFrame]:
    """Columns ``keys`` of Parquet or jsonl files as :class:`Ids` each and ``columns``
    as a frame, read once, a file at a time: the keys' strings are never held for
    more than one file."""
    paths = [str(p) for p in paths]
    parts: dict[str, list[Ids]] = {key: [] for key in keys}
    frames = []
    for path in paths:
        frame = read_table([path], [*keys, *columns])
        for key in keys:
            parts[key].append(Ids.of(frame[key].astype(object).where(frame[key].notna(), None)))
        frames.append(frame[list(columns)])
    ids = {}
    for key in keys:
        ids[key] = Ids.join(parts[key])
        ids[key].sources = [lambda key=key: (read_column([p], key) for p in paths)]
    if not frames:
        return ids, read_table([], columns)
    return ids, pd.concat(frames, ignore_index=True)
