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
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

# atomic_output lives apart so that jobs writing no table need not import pandas
from .atomic import PathLike, atomic_output, temp_beside


def write_parquet(frame: pd.DataFrame, path: PathLike, schema: pa.Schema | None = None) -> None:
    """Write ``frame`` as one Parquet file, atomically and reproducibly."""
    write_table(_arrow(frame, schema), path)


def _arrow(frame: pd.DataFrame, schema: pa.Schema | None = None) -> pa.Table:
    """A DataFrame as an Arrow table without pandas metadata (the index layout and
    library versions would make the bytes depend on the machine)."""
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    return table.replace_schema_metadata(None)


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
    with atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as handle:
        return write_json_lines(records, handle)


def write_json_lines(records: Iterable[Mapping[str, Any]], handle: Any) -> int:
    """Write one JSON object per line to an open text file; the number written."""
    count = 0
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


class _Spilling:
    """An output written through files beside it, as a context manager: published
    by ``close`` when the block succeeds; its files removed (``_cleanup``) always."""

    def close(self) -> None:
        raise NotImplementedError

    def _cleanup(self) -> None:
        raise NotImplementedError

    def discard(self) -> None:
        """Remove the spilled files; what ``close`` published stays."""
        self._cleanup()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        try:
            if exc_type is None:
                self.close()
        finally:
            self._cleanup()


class ParquetSink(_Spilling):
    """One Parquet output written a batch at a time, atomically, with memory bounded
    by the batch.

    Either way the file holds a row group per batch, as :func:`write_parquet` writes
    a frame (a single batch: the same bytes). With ``schema`` every batch takes its
    columns and types, and goes straight into the output (beside it until ``close``
    publishes it). Without, the types come from the batches: they go to part files
    beside the output first; at the end their schemas are unified (a column that is
    all null in one batch takes the type it has in the others, ints meeting floats
    become floats, as one frame of all the rows would have it) and the parts are
    copied into the output. Use as a context manager: on an exception nothing is
    published.
    """

    def __init__(self, path: PathLike, schema: pa.Schema | None = None) -> None:
        self.path = Path(path)
        self.schema = schema.remove_metadata() if schema is not None else None
        self.parts: list[Path] = []
        self.first: pa.Table | None = None
        self.rows = 0
        self._dir: tempfile.TemporaryDirectory | None = None
        self._writer: pq.ParquetWriter | None = None
        self._tmp: Path | None = None

    def add(self, frame: pd.DataFrame | pa.Table) -> None:
        """Add a batch: a DataFrame, or an Arrow table (as it is, or in ``schema``)."""
        table = frame if isinstance(frame, pa.Table) else _arrow(frame, self.schema)
        self.rows += table.num_rows
        if self.schema is not None:
            self._write(table)
            return
        if self.first is None and not self.parts:
            self.first = table
            return
        if self._dir is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._dir = tempfile.TemporaryDirectory(
                prefix=f".{self.path.name}.", dir=self.path.parent
            )
        if self.first is not None:
            self._spill(self.first)
            self.first = None
        self._spill(table)

    def _write(self, table: pa.Table) -> None:
        if not table.schema.equals(self.schema):
            table = _conform(table, self.schema)
        if self._writer is None:
            self._tmp = temp_beside(self.path)
            self._writer = pq.ParquetWriter(
                self._tmp, self.schema, compression="zstd", use_dictionary=False
            )
        self._writer.write_table(table)

    def _spill(self, table: pa.Table) -> None:
        part = Path(self._dir.name) / f"{len(self.parts):06d}.parquet"
        # a part is read back once, by close: a fast codec (zstd is the output's)
        pq.write_table(table, part, compression="lz4", use_dictionary=False)
        self.parts.append(part)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            os.replace(self._tmp, self.path)
            self._tmp = None
            return
        if not self.parts:
            if self.first is None:  # nothing added: no rows, the schema's columns
                empty = self.schema or pa.schema([])
                self.first = empty.empty_table().replace_schema_metadata(None)
            write_table(self.first, self.path)
            return
        schemas = [pq.read_schema(part).remove_metadata() for part in self.parts]
        unified = pa.unify_schemas(schemas, promote_options="permissive")
        with (
            atomic_output(self.path) as tmp,
            pq.ParquetWriter(tmp, unified, compression="zstd", use_dictionary=False) as out,
        ):
            for part in self.parts:
                out.write_table(_conform(pq.read_table(part), unified))
        self._cleanup()

    def _cleanup(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
            self._tmp = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with ``schema``'s columns in its order and types (missing ones null)."""
    columns = [
        table.column(field.name).cast(field.type)
        if field.name in table.column_names
        else pa.nulls(table.num_rows, field.type)
        for field in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def open_parquet(path: PathLike) -> pq.ParquetFile:
    """A Parquet file to read a row group or batch at a time. Without pre-buffering:
    with it (Arrow's default here), the reader keeps what it has read of the file
    until it is closed, so a job streaming a shard of 250,000 documents grew to
    ~700 MB where it holds ~130 MB without."""
    return pq.ParquetFile(path, pre_buffer=False)


def iter_parquet_frames(path: PathLike, batch_rows: int | None) -> Iterator[pd.DataFrame]:
    """The rows of a Parquet file as DataFrames of at most ``batch_rows`` rows (None:
    the whole file as one), in file order, each with a fresh RangeIndex; a file
    without rows gives one empty frame with its columns."""
    handle = open_parquet(path)
    if batch_rows is None or handle.metadata.num_rows <= batch_rows:
        yield handle.read().to_pandas().reset_index(drop=True)
        return
    for batch in handle.iter_batches(batch_size=batch_rows, use_threads=False):
        yield pa.Table.from_batches([batch]).to_pandas().reset_index(drop=True)


# Key of the file metadata that maps each shard to its row groups (ShardedWriter).
SHARD_ROW_GROUPS = b"corpusforge.shard_row_groups"
# Rows of a row group of the runs a ShardedWriter spills: a shard's runs are merged
# side by side, and Arrow reads a row group whole.
RUN_GROUP_ROWS = 256


class ShardedWriter(_Spilling):
    """Records written sharded from the start, a chunk at a time, atomically, with
    memory bounded by the chunk (and, while merging, a row group of each chunk's
    run): the file :func:`write_sharded` writes of all the chunks' rows at once
    (the same bytes), so a shard's job reads its own rows alone, a row group at a
    time, in id order (:func:`iter_shard`).

    The first chunk is held; from the second on, each chunk is sorted by (shard,
    ``id``) and spilled beside the output as a sorted run of each shard's rows (in
    row groups of ``RUN_GROUP_ROWS``). On close each shard's runs are merged by id
    into the output's row groups of ``group_rows``. The columns' types are
    ``schema``'s (or the first chunk's), a column without a value in any chunk
    Arrow's null type, as a frame of all the rows would have it. Use as a context
    manager: on an exception nothing is published.
    """

    def __init__(
        self, path: PathLike, shards: int, group_rows: int, schema: pa.Schema | None = None
    ):
        self.path = Path(path)
        self.shards = shards
        self.group_rows = group_rows
        self.schema = schema
        self.counts = [0] * shards  # rows of each shard
        self.filled: set[str] = set()  # the columns with a value
        self.first: tuple[pa.Table, list[int]] | None = None
        self._spill: tempfile.TemporaryDirectory | None = None
        self._runs: _RunFile | None = None

    def add(self, frame: pd.DataFrame) -> None:
        ordered, counts = _by_shard(frame, self.shards)
        table = _arrow(ordered, self.schema)
        if self.schema is None:
            self.schema = table.schema
        table = _conform(table, self.schema)
        self.counts = [a + b for a, b in zip(self.counts, counts, strict=True)]
        self.filled.update(
            name
            for name, column in zip(table.column_names, table.columns, strict=True)
            if column.null_count < len(column)
        )
        if self.first is None and self._runs is None:
            self.first = (table, counts)
            return
        if self._runs is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._spill = tempfile.TemporaryDirectory(
                prefix=f".{self.path.name}.", dir=self.path.parent
            )
            self._runs = _RunFile(Path(self._spill.name) / "runs.parquet", self.schema)
            self._runs.add(*self.first)
            self.first = None
        self._runs.add(table, counts)

    def close(self) -> None:
        schema = self.schema or pa.schema([])
        schema = pa.schema(
            [f if f.name in self.filled else pa.field(f.name, pa.null()) for f in schema]
        )
        groups, start = [], 0
        for rows in self.counts:
            groups.append([start, start + -(-rows // self.group_rows)])
            start = groups[-1][1]
        layout = {"shards": self.shards, "row_groups": groups}
        schema = schema.with_metadata({SHARD_ROW_GROUPS: json.dumps(layout).encode()})
        with (
            atomic_output(self.path) as tmp,
            pq.ParquetWriter(tmp, schema, compression="zstd", use_dictionary=False) as out,
        ):
            if self._runs is None:  # one chunk: its rows as they are
                table, counts = self.first or (schema.empty_table(), [0] * self.shards)
                shard_tables = [[piece] for piece in _slices(table, counts)]
            else:
                shard_tables = self._runs.merged(self.group_rows)
            for tables in shard_tables:
                _write_groups(out, (_nulls(t, schema) for t in tables), self.group_rows)
            if not start:  # no rows: the columns alone
                out.write_table(schema.empty_table())
        self._cleanup()

    def _cleanup(self) -> None:
        if self._runs is not None and self._runs.writer.is_open:
            self._runs.writer.close()
        if self._spill is not None:
            self._spill.cleanup()
            self._spill = None


class _RunFile:
    """The spill of a :class:`ShardedWriter`: each chunk a sorted run of each
    shard's rows, in row groups of ``RUN_GROUP_ROWS`` (lz4, not zstd: it is read
    back once, soon), merged by id shard by shard (:meth:`merged`)."""

    def __init__(self, path: Path, schema: pa.Schema):
        self.path = path
        self.runs: list[list[range]] = []  # per shard, each run's row groups
        self.groups = 0
        self.writer = pq.ParquetWriter(path, schema, compression="lz4", use_dictionary=False)

    def add(self, table: pa.Table, counts: list[int]) -> None:
        if not self.runs:
            self.runs = [[] for _ in counts]
        for shard, piece in enumerate(_slices(table, counts)):
            first = self.groups
            for lo in range(0, piece.num_rows, RUN_GROUP_ROWS):
                self.writer.write_table(piece.slice(lo, RUN_GROUP_ROWS))
                self.groups += 1
            if self.groups > first:
                self.runs[shard].append(range(first, self.groups))

    def merged(self, group_rows: int) -> Iterator[Iterator[pa.Table]]:
        """Per shard, its rows merged by id (ties in run order), ``group_rows`` at a
        time."""
        self.writer.close()
        handle = open_parquet(self.path)
        for runs in self.runs:
            yield _merge_runs(handle, runs, group_rows)


def _merge_runs(handle: pq.ParquetFile, runs: list[range], group_rows: int) -> Iterator[pa.Table]:
    """The rows of sorted ``runs`` (ranges of row groups of ``handle``) merged by id,
    ``group_rows`` at a time. The order comes from the runs' ids alone (read first:
    16 bytes a row); a block's rows are then a stretch of each run, read a row
    group at a time, put in id order."""
    import pyarrow.compute as pc

    ids = [handle.read_row_groups(list(run), columns=["id"]).column("id") for run in runs]
    sizes = [len(column) for column in ids]
    if not sum(sizes):
        return
    order = pc.sort_indices(pa.chunked_array(ids, type=ids[0].type)).to_numpy()
    run_of = np.repeat(np.arange(len(runs)), sizes)[order]
    readers = [_RunReader(handle, run) for run in runs]
    for lo in range(0, len(order), group_rows):
        counts = np.bincount(run_of[lo : lo + group_rows], minlength=len(runs))
        block = pa.concat_tables(
            readers[r].take(int(n)) for r, n in enumerate(counts) if n
        ).combine_chunks()
        yield block.take(pc.sort_indices(block, [("id", "ascending")]))


class _RunReader:
    """A sorted run's rows, read on from where the last :meth:`take` ended."""

    def __init__(self, handle: pq.ParquetFile, groups: range):
        self.handle = handle
        self.groups = iter(groups)
        self.table: pa.Table | None = None
        self.at = 0

    def take(self, rows: int) -> pa.Table:
        pieces = []
        while rows:
            if self.table is None or self.at == self.table.num_rows:
                self.table, self.at = self.handle.read_row_group(next(self.groups)), 0
            piece = self.table.slice(self.at, rows)
            pieces.append(piece)
            self.at += piece.num_rows
            rows -= piece.num_rows
        return pa.concat_tables(pieces)


def _by_shard(frame: pd.DataFrame, shards: int) -> tuple[pd.DataFrame, list[int]]:
    """``frame``'s rows in (shard, id) order, and how many each shard has."""
    from .records import shard_of

    shard = frame["id"].map(lambda rid: shard_of(rid, shards)) if len(frame) else []
    ordered = frame.assign(_shard=shard).sort_values(["_shard", "id"], kind="stable")
    counts = ordered["_shard"].value_counts().to_dict() if len(frame) else {}
    return ordered.drop(columns="_shard"), [int(counts.get(i, 0)) for i in range(shards)]


def _slices(table: pa.Table, counts: list[int]) -> list[pa.Table]:
    """The consecutive slices of ``table`` of ``counts`` rows each."""
    starts = [sum(counts[:i]) for i in range(len(counts))]
    return [table.slice(start, rows) for start, rows in zip(starts, counts, strict=True)]


def _nulls(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` as ``schema`` has it: its null-typed columns all nulls."""
    columns = [
        pa.nulls(table.num_rows) if field.type == pa.null() else table.column(field.name)
        for field in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def _write_groups(out: pq.ParquetWriter, tables: Iterable[pa.Table], group_rows: int) -> None:
    """Write the rows of ``tables`` as row groups of ``group_rows`` (the last: the rest)."""
    held: list[pa.Table] = []
    rows = 0
    for table in tables:
        held.append(table)
        rows += table.num_rows
        while rows >= group_rows:
            joined = pa.concat_tables(held)
            group = joined.slice(0, group_rows).combine_chunks()  # pages as from one table
            out.write_table(group, row_group_size=group_rows)
            held, rows = [joined.slice(group_rows)], rows - group_rows
    if rows:
        out.write_table(pa.concat_tables(held).combine_chunks(), row_group_size=rows)


def write_sharded(
    frame: pd.DataFrame,
    path: PathLike,
    shards: int,
    batch_rows: int,
    schema: pa.Schema | None = None,
) -> None:
    """Write records sharded from the start: rows in (shard, id) order, each shard's
    rows in row groups of at most ``batch_rows``, and the file's metadata naming
    each shard's row groups, so a shard's job reads its own rows alone
    (:func:`iter_shard`), a batch at a time, already in id order."""
    with ShardedWriter(path, shards, batch_rows, schema) as out:
        out.add(frame)


def iter_shard(
    path: PathLike, shard: int, shards: int, batch_rows: int | None = None
) -> Iterator[pd.DataFrame]:
    """The rows of ``shard`` (of ``shards``) in a Parquet file of records, in id order:
    a row group at a time (or ``batch_rows`` rows at a time) from a file
    :func:`write_sharded` wrote for that many shards; from any other file, its rows
    of the shard selected and sorted (the shard read whole)."""
    from .records import select_shard

    handle = open_parquet(path)
    meta = handle.schema_arrow.metadata or {}
    layout = json.loads(meta[SHARD_ROW_GROUPS]) if SHARD_ROW_GROUPS in meta else None
    if layout and layout["shards"] == shards:
        first, end = layout["row_groups"][shard]
        for group in range(first, end):
            if batch_rows is None:
                yield _frame(handle.read_row_group(group))
                continue
            for batch in handle.iter_batches(
                batch_size=batch_rows, row_groups=[group], use_threads=False
            ):
                yield _frame(pa.Table.from_batches([batch]))
        return
    frame = _frame(handle.read())
    yield select_shard(frame, shard, shards) if len(frame) else frame


def _frame(table: pa.Table) -> pd.DataFrame:
    return table.replace_schema_metadata(None).to_pandas().reset_index(drop=True)


def merge_by_id(
    streams: Sequence[Iterable[pd.DataFrame]], block_rows: int = 1
) -> Iterator[pd.DataFrame]:
    """Merge streams of frames, each in ``id`` order, into one stream in ``id`` order
    (equal ids in stream order), holding one frame per stream.

    Each round takes from every stream the rows up to the smallest last id among the
    streams' current frames, reading on into a stream's next frames while they go on
    with that id (so equal ids are taken together); the rounds are gathered into
    blocks of at least ``block_rows`` rows. A round takes only ids above the last
    round's bound, so a block is its streams' taken rows sorted by (id, stream). A
    round costs a binary search per stream: what a stream gives a block is noted as
    row ranges of its frames (one range per frame) and cut once, when the block is
    made, so many streams of small frames (a seed of many parts) merge in time that
    follows the rows, not rounds x streams."""
    iters = [iter(stream) for stream in streams]
    heads: list[pd.DataFrame | None] = [None] * len(iters)
    ids: list[np.ndarray] = [np.zeros(0, dtype=object)] * len(iters)
    pos = [0] * len(iters)
    # per stream, the ranges of its frames taken into the coming block: [frame, start, stop]
    taken: list[list[list]] = [[] for _ in iters]

    def pull(i: int) -> bool:
        for frame in iters[i]:
            if len(frame):
                heads[i] = frame.reset_index(drop=True)
                ids[i], pos[i] = heads[i]["id"].to_numpy(dtype=object), 0
                return True
        heads[i] = None
        return False

    def block() -> pd.DataFrame:
        # rows of one stream are in order already: no sort (and no copy of the rows)
        alone = sum(1 for ranges in taken if ranges) == 1
        chunks = [
            frame.iloc[start:stop] if alone else frame.iloc[start:stop].assign(_stream=i)
            for i, ranges in enumerate(taken)
            for frame, start, stop in ranges
        ]
        for ranges in taken:
            ranges.clear()
        out = pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]
        if not alone:
            out = out.sort_values(["id", "_stream"], kind="stable").drop(columns="_stream")
        return out.reset_index(drop=True)

    live = [i for i in range(len(iters)) if pull(i)]
    held = 0
    while live:
        bound = min(ids[i][-1] for i in live)
        for i in live:
            while True:  # a stream's next frame may go on with the bound's id
                cut = int(np.searchsorted(ids[i], bound, side="right"))
                if cut > pos[i]:
                    ranges = taken[i]
                    if ranges and ranges[-1][0] is heads[i]:
                        ranges[-1][2] = cut
                    else:
                        ranges.append([heads[i], pos[i], cut])
                    held += cut - pos[i]
                    pos[i] = cut
                if pos[i] < len(ids[i]) or not pull(i):
                    break
        live = [i for i in live if pos[i] < len(ids[i]) or pull(i)]
        if held and (held >= block_rows or not live):
            yield block()
            held = 0


def ids_sorted(path: PathLike, batch_rows: int = 1 << 16) -> bool:
    """Whether the ``id`` column of a Parquet file is in ascending order (streamed)."""
    import pyarrow.compute as pc

    last = None
    for batch in open_parquet(path).iter_batches(batch_size=batch_rows, columns=["id"]):
        ids = batch.column(0)
        if len(ids) == 0:
            continue
        if last is not None and pc.less(ids[0], last).as_py():
            return False
        if len(ids) > 1 and not pc.all(pc.less_equal(ids[:-1], ids[1:])).as_py():
            return False
        last = ids[len(ids) - 1]
    return True


def run_doc_stage(
    step: StageStep,
    docs_path: PathLike,
    out_docs: PathLike,
    out_rejected: PathLike,
    out_stats: PathLike,
    shard: str | None = None,
    batch_rows: int | None = None,
) -> dict:
    """The job of a per-shard document stage: read the shard's documents, run
    ``step`` (documents -> kept, rejected rows, stats) and write the three outputs.

    With ``batch_rows`` the shard is streamed: ``step`` runs on batches of at most
    that many documents, in id order, and the outputs are written batch by batch,
    so the job's memory follows the batch, not the shard. Every step handed here
    treats each document on its own and returns its rows sorted by id, so the
    documents and rejected rows are those of one call over the whole shard; the
    batches' stats are merged as shards' are (``stats.merge``: counts summed). A
    shard whose ids are out of order (none a stage writes) is read whole.
    """
    from .records import REJECT_SCHEMA
    from .stats.merge import merge_stats

    if batch_rows is not None and not ids_sorted(docs_path):
        batch_rows = None
    per_batch = []
    with ParquetSink(out_docs) as kept_sink, ParquetSink(out_rejected, REJECT_SCHEMA) as rej_sink:
        for docs in iter_parquet_frames(docs_path, batch_rows):
            kept, rejects, stats = step(docs)
            kept_sink.add(kept)
            rej_sink.add(rejects)
            per_batch.append(stats)
    stats = per_batch[0] if len(per_batch) == 1 else merge_stats(per_batch)
    if shard is not None:
        stats = {**stats, "shard": shard}
    write_json(stats, out_stats)
    return stats
