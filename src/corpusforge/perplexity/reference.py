"""Reference text of a language: reading it (text, jsonl, parquet; compressed), repeats
dropped, and the held-out part kept for reference cutoffs."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

from ..records import stable_id, unit_hash
from .normalize import normalized_lines


def _open_text(path: Path) -> IO[str]:
    name = path.name.lower()
    if name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    if name.endswith(".xz"):
        return lzma.open(path, "rt", encoding="utf-8")
    if name.endswith(".bz2"):
        return bz2.open(path, "rt", encoding="utf-8")
    if name.endswith(".zst"):
        import zstandard

        raw = open(path, "rb")  # noqa: SIM115 - closed with the wrapper
        reader = zstandard.ZstdDecompressor().stream_reader(raw, closefd=True)
        return io.TextIOWrapper(io.BufferedReader(reader), encoding="utf-8")
    return open(path, encoding="utf-8")


def reference_format(path: str | os.PathLike, declared: str | None = None) -> str:
    """text, jsonl or parquet, from the config or the file name."""
    if declared and declared != "auto":
        return declared
    name = Path(path).name.lower()
    for suffix in (".gz", ".xz", ".bz2", ".zst"):
        name = name.removesuffix(suffix)
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    return "text"


def read_reference(
    path: str | os.PathLike, fmt: str | None = None, text_field: str = "text"
) -> list[list[str]]:
    """Documents of a reference corpus, each a list of its non-empty lines.

    text: paragraphs one per line, documents separated by empty lines; jsonl or
    parquet: one document per row in ``text_field``, lines split on newlines.
    """
    path = Path(path)
    fmt = reference_format(path, fmt)
    docs: list[list[str]] = []
    if fmt == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path, columns=[text_field])
        texts: Iterable[Any] = table.column(text_field).to_pylist()
    elif fmt == "jsonl":
        with _open_text(path) as handle:
            texts = [json.loads(line).get(text_field) for line in handle if line.strip()]
    elif fmt == "text":
        with _open_text(path) as handle:
            current: list[str] = []
            for raw in handle:
                line = raw.strip()
                if line:
                    current.append(line)
                elif current:
                    docs.append(current)
                    current = []
            if current:
                docs.append(current)
        return docs
    else:
        raise ValueError(f"unknown reference format {fmt!r} (text, jsonl, parquet)")
    for text in texts:
        if isinstance(text, str):
            lines = [line.strip() for line in text.split("\n") if line.strip()]
            if lines:
                docs.append(lines)
    return docs


def unique_documents(docs: Iterable[list[str]]) -> tuple[list[list[str]], int]:
    """The documents without repeats (same normalized text), in order; and the repeat count.

    A repeated document would otherwise land in both the training and held-out parts
    and make the held-out perplexities (reference cutoffs) look too good.
    """
    seen: set[str] = set()
    unique: list[list[str]] = []
    repeats = 0
    for doc in docs:
        key = stable_id(*normalized_lines("\n".join(doc)))
        if key in seen:
            repeats += 1
            continue
        seen.add(key)
        unique.append(doc)
    return unique, repeats


def split_heldout(
    docs: Sequence[list[str]], fraction: float, seed: int
) -> tuple[list[list[str]], list[list[str]]]:
    """(training, held-out) documents; membership depends on each document's text only."""
    train, heldout = [], []
    for doc in docs:
        key = stable_id("\n".join(doc))
        (heldout if unit_hash("heldout", seed, key) < fraction else train).append(doc)
    return train, heldout
