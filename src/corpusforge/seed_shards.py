"""A seed read sharded from the first byte, with memory bounded by the batch.

A seed is read in parts: each file of a seed of many files, or each piece of a
seed of one file (``seeds.<name>.pieces``), is one ``ingest_seed_file`` job
(:func:`part_job`). A part is read as a stream, ``batch_rows`` rows at a time
(``seed.SeedRows``), its records written already split by shard as they come
(``io.ShardedWriter``: each shard's rows in id order, in row groups), so no job
ever holds the seed, nor a part:

1. ``seed_keys`` (:func:`keys_job`, one per seed) reads the key columns of every
   part alone (``id``, ``source_id``, ``row``: about 28 bytes a record, never the
   text) to make the two choices that need the whole seed: which rows repeat the
   ``source_id`` of an earlier row (``duplicate_source_id``) and the cut of the
   seed's sample (``sample.n`` rows by a seeded hash of their ids);
2. ``seed_shard`` (:func:`shard_job`, one per seed and shard) merges the shard's
   rows of every part by id, a batch per part at a time: a text seen in an earlier
   part (the same id: ids are hashes of the text) is rejected as ``duplicate_text``
   naming the file and row it repeats, then the keys' choices are applied. Its
   output is the shard's seed records in id order, which the shard's first stage
   (prompts, collect) streams;
3. ``ingest_seed`` (:func:`seed_job`) writes the seed's rejected rows (streamed)
   and its stats, every file's counts after the cross-file choices.

The result is the one a single pass over the whole seed gives: the same records,
the same reasons (tests/test_seed_shards.py compares them).
"""

from __future__ import annotations

import logging
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from .records import REJECT_SCHEMA, rejects_frame, stable_id, stage_stats
from .seed import SEED_COLUMNS, SEED_SCHEMA, STAGE, SeedFile, SeedSpec, sample_key

log = logging.getLogger("corpusforge.seed")

# Rows a shard job reads from each part at a time at least, however many parts.
MIN_PART_BATCH = 16
# Rows of a part file's row groups at most: a shard job reads parts side by side,
# and Arrow decodes a row group whole, so it holds a row group of each.
PART_GROUP_ROWS = 256
# Parts a shard job merges at once: a seed of more (a crawl of thousands of files) is
# merged FAN_IN parts at a time into sorted runs first, then the runs (one more read
# and write of the shard's rows per level), so a job holds FAN_IN row groups at most.
FAN_IN = 64
KEY_COLUMNS = ["id", "source_id", "row"]
# rule seed_keys' list of rows that repeat an earlier row's id
KEYS_SCHEMA = pa.schema([("id", pa.string()), ("detail", pa.string())])


def _id_number(ids: Sequence[str]) -> np.ndarray:
    """Record ids (16 hex digits) as unsigned 64-bit numbers, in the same order."""
    return np.fromiter((int(rid, 16) for rid in ids), dtype=np.uint64, count=len(ids))


def _id_text(number: int) -> str:
    return f"{int(number):016x}"


def by_source_id(spec: SeedSpec, part_stats: Sequence[Mapping[str, Any]]) -> bool:
    """Whether rows are named by an id of the user's (``columns.id``) or a crawl
    file's WARC-Record-ID, so a repeated id is a duplicate across files too."""
    return bool(spec.columns.get("id")) or any(s.get("format") for s in part_stats)


# --------------------------------------------------------------------------- parts


def part_job(
    path: str,
    name: str,
    seed: str,
    cfg: Mapping[str, Any],
    outputs: Any,
    *,
    listed: bool,
    piece: tuple[int, int] | None,
    shards: int,
    batch_rows: int,
) -> dict:
    """The job of rule ingest_seed_file: one file of a seed of many (``listed``; its
    sha256 in the stats), or one ``piece`` (i, n) of a seed's one file, read and
    checked, not sampled, its records written sharded. Streamed: rows are checked
    ``batch_rows`` at a time and written as they come (``io.ShardedWriter`` spills
    each chunk as sorted runs and merges them on close), so memory follows the
    batch (and the ids of the part's kept rows, for its repeats), not the part."""
    from .io import ParquetSink, ShardedWriter, sha256_file, write_json

    spec = replace(SeedSpec.from_config(seed, dict(cfg)), sample=None)
    seed_file = SeedFile(path, spec, file_key=name if listed else None, piece=piece)
    # a row number names a row of one file: in a seed of many, the file's name with it
    prefix = name + ":" if listed and not by_source_id(seed_file.spec, []) else ""
    with (
        ShardedWriter(
            outputs.records, shards, min(batch_rows, PART_GROUP_ROWS), SEED_SCHEMA
        ) as records_out,
        ParquetSink(outputs.rejected, REJECT_SCHEMA) as rejected_out,
    ):
        for records, rejects in seed_file.chunks(batch_rows):
            if len(records):
                if prefix:
                    records["source_id"] = prefix + records["source_id"]
                records_out.add(records)
            if rejects:
                rejected_out.add(rejects_frame(rejects))
    stats = seed_file.stats()
    if listed:
        stats["files"][name]["sha256"] = sha256_file(path)
    if piece is not None:
        stats["piece"] = list(piece)
    write_json(stats, outputs.stats)
    log.info(
        "seed %s (%s): %d rows read, %d kept, %d rejected",
        seed,
        name,
        stats["in"],
        stats["kept"],
        stats["rejected"],
    )
    return stats


def part_file(stats: Mapping[str, Any]) -> str:
    """The name of the file a part was read from (its key in the stats' ``files``)."""
    return next(iter(stats["files"]))


@dataclass
class Parts:
    """How rows of a seed's parts are named in rejected rows: by file and row for a
    seed of many files, by row alone (as one reading of the file names them) for
    the pieces of a seed's one file."""

    seed: str
    files: list[str]  # per part, the name of its file
    sources: list[str]  # per part, what its rejected rows give as ``source``
    one_file: bool
    id_label: str  # how a repeated id is named

    @classmethod
    def of(cls, spec: SeedSpec, stats: Sequence[Mapping[str, Any]]) -> Parts:
        one_file = all("piece" in s for s in stats)
        files = [part_file(s) for s in stats]
        shown = (
            [s.get("file") or f for s, f in zip(stats, files, strict=True)] if one_file else files
        )
        label = repr(spec.columns.get("id")) if one_file else "id"
        return cls(spec.name, files, [f"{spec.name} ({f})" for f in shown], one_file, label)

    def row_id(self, part: int, row: int) -> str:
        """The id of a rejected row that has no record id of its own."""
        if self.one_file:
            return stable_id(self.seed, "row", row)
        return stable_id(self.seed, self.files[part], "row", row)

    def where(self, part: int, row: int) -> str:
        return f"row {row}" if self.one_file else f"{self.files[part]} row {row}"


# --------------------------------------------------------------------------- keys


def keys_job(
    parts: Sequence[str],
    part_stats: Sequence[str],
    seed: str,
    cfg: Mapping[str, Any],
    out_keys: str,
    out_sample: str,
    batch_rows: int = 2_000,
) -> dict:
    """The job of rule seed_keys: the rows of later parts whose ``source_id`` an
    earlier kept row has (``out_keys``: id, detail) and the seed's sample cut
    (``out_sample``: the last kept (hash, id), or null: no sample)."""
    from .io import open_parquet, read_json, write_json, write_parquet

    spec = SeedSpec.from_config(seed, dict(cfg))
    stats = [read_json(path) for path in part_stats]
    parts_of = Parts.of(spec, stats)
    check_sources = by_source_id(spec, stats)
    ids, sources, part, row = [], [], [], []
    for index, path in enumerate(parts):
        columns = KEY_COLUMNS if check_sources else ["id", "row"]
        for batch in open_parquet(path).iter_batches(batch_size=batch_rows, columns=columns):
            ids.append(_id_number(batch.column("id").to_pylist()))
            if check_sources:
                values = batch.column("source_id").to_pandas().astype(str).to_numpy(object)
                sources.append(pd.util.hash_array(values))
            part.append(np.full(batch.num_rows, index, dtype=np.int32))
            row.append(batch.column("row").to_numpy().astype(np.int64))
    idn = np.concatenate(ids) if ids else np.zeros(0, np.uint64)
    part_of = np.concatenate(part) if part else np.zeros(0, np.int32)
    row_of = np.concatenate(row) if row else np.zeros(0, np.int64)
    # a text's first row in file order is kept; its later rows are dropped by the shards
    order = np.lexsort((row_of, part_of, idn))
    first = np.ones(len(order), dtype=bool)
    first[1:] = idn[order][1:] != idn[order][:-1]
    alive = np.zeros(len(idn), dtype=bool)
    alive[order[first]] = True
    dropped: list[dict] = []
    if check_sources and len(idn):
        src = np.concatenate(sources)
        live = np.flatnonzero(alive)
        order = live[np.lexsort((row_of[live], part_of[live], src[live]))]
        later = np.zeros(len(order), dtype=bool)
        later[1:] = src[order][1:] == src[order][:-1]
        head = order[np.maximum.accumulate(np.where(~later, np.arange(len(order)), 0))]
        for at in np.flatnonzero(later):
            was = head[at]
            dropped.append(
                {
                    "id": _id_text(idn[order[at]]),
                    "detail": f"same {parts_of.id_label} as "
                    + parts_of.where(part_of[was], row_of[was]),
                }
            )
            alive[order[at]] = False
    keys = pd.DataFrame(dropped, columns=["id", "detail"]).sort_values("id", kind="stable")
    write_parquet(keys.reset_index(drop=True), out_keys, schema=KEYS_SCHEMA)
    cut = sample_cut(idn[alive], spec)
    write_json({"sample": cut, "kept": int(min(alive.sum(), _sample_n(spec)))}, out_sample)
    log.info("seed %s: %d records, %d repeated ids", seed, len(idn), len(dropped))
    return {"records": len(idn), "duplicate_source_id": len(dropped), "sample": cut}


def _sample_n(spec: SeedSpec) -> float:
    return spec.sample["n"] if spec.sample and spec.sample.get("n") is not None else np.inf


def sample_cut(ids: np.ndarray, spec: SeedSpec) -> list | None:
    """The (hash, id) of the last row of the sample among ``ids`` (the seed's rows
    after duplicates), or None when the seed keeps every row: rows rank by a seeded
    hash of their ids, then the ids, as ``seed.apply_sample`` ranks them."""
    n = _sample_n(spec)
    if len(ids) <= n:
        return None
    text = [_id_text(v) for v in ids]
    hashes = np.array([sample_key(spec, rid) for rid in text])
    last = np.lexsort((ids, hashes))[int(n) - 1]
    return [float(hashes[last]), text[last]]


# --------------------------------------------------------------------------- shards


def _part_stream(path: str, index: int, shard: int, shards: int, rows: int) -> Iterator:
    from .io import iter_shard

    for frame in iter_shard(path, shard, shards, batch_rows=rows):
        yield frame.assign(_part=index)


Source = Callable[[int], Iterable[pd.DataFrame]]  # rows at a time -> frames in id order


def merged(sources: Sequence[Source], batch_rows: int, spill: Path) -> Iterator[pd.DataFrame]:
    """The rows of ``sources`` merged by id (ties in source order), in blocks of about
    ``batch_rows``: at most ``FAN_IN`` sources are read side by side, each
    ``batch_rows // FAN_IN`` rows (at least ``MIN_PART_BATCH``) at a time; more are
    merged ``FAN_IN`` at a time into sorted runs in the folder ``spill`` first."""
    from .io import ParquetSink, iter_parquet_frames, merge_by_id

    def side_by_side(group: Sequence[Source], block_rows: int) -> Iterator[pd.DataFrame]:
        rows = max(MIN_PART_BATCH, batch_rows // max(1, len(group)))
        return merge_by_id([source(rows) for source in group], block_rows)

    level = 0
    while len(sources) > FAN_IN:
        runs = []
        for start in range(0, len(sources), FAN_IN):
            path = spill / f"run-{level}-{start // FAN_IN:06d}.parquet"
            with ParquetSink(path) as sink:
                for block in side_by_side(sources[start : start + FAN_IN], PART_GROUP_ROWS):
                    sink.add(block)
            if sink.rows:
                runs.append(path)
        sources = [lambda rows, path=path: iter_parquet_frames(path, rows) for path in runs]
        level += 1
    yield from side_by_side(sources, batch_rows)


def shard_job(
    parts: Sequence[str],
    part_stats: Sequence[str],
    keys: str,
    sample: str,
    seed: str,
    cfg: Mapping[str, Any],
    shard: str,
    shards: int,
    outputs: Any,
    batch_rows: int = 2_000,
) -> dict:
    """The job of rule seed_shard: the shard's seed records of every part merged by
    id (``outputs.records``, in id order), the rows dropped across parts
    (``outputs.rejected``) and stats with the counts by file. Memory: a row group
    of each of at most ``FAN_IN`` parts (or runs of parts) at a time (:func:`merged`)."""
    from .io import ParquetSink, read_json, read_parquet, write_json
    from .records import shard_of

    spec = SeedSpec.from_config(seed, dict(cfg))
    parts_of = Parts.of(spec, [read_json(path) for path in part_stats])
    files = parts_of.files
    dropped = read_parquet(keys)
    mine = dropped["id"].map(lambda rid: shard_of(rid, shards) == int(shard)).astype(bool)
    dropped = dropped[mine]
    repeated_id = dict(zip(dropped["id"], dropped["detail"], strict=True))
    cut = read_json(sample)["sample"]
    sources = [partial(_part_stream, path, i, int(shard), shards) for i, path in enumerate(parts)]
    kept_by_file: Counter = Counter()
    rejected_by_file: dict[str, Counter] = defaultdict(Counter)
    n_in = n_kept = 0
    Path(outputs.records).parent.mkdir(parents=True, exist_ok=True)
    with (
        ParquetSink(outputs.records) as kept_sink,
        ParquetSink(outputs.rejected, REJECT_SCHEMA) as rejected_sink,
        tempfile.TemporaryDirectory(prefix=".runs.", dir=Path(outputs.records).parent) as spill,
    ):
        for block in merged(sources, batch_rows, Path(spill)):
            n_in += len(block)
            kept, rejects = _choose(block, parts_of, repeated_id, cut, spec)
            for name, count in kept["_part"].map(files.__getitem__).value_counts().items():
                kept_by_file[name] += int(count)
            for name, reason in zip(rejects.pop("_file"), rejects["reason"], strict=True):
                rejected_by_file[name][reason] += 1
            n_kept += len(kept)
            if len(kept):
                kept_sink.add(kept.drop(columns="_part").reset_index(drop=True))
            if len(rejects):
                rejected_sink.add(rejects_frame(rejects.to_dict("records")))
        if not n_kept:  # no records: the columns alone
            kept_sink.add(pd.DataFrame(columns=SEED_COLUMNS))
    stats = stage_stats(
        STAGE,
        n_in,
        n_kept,
        sum(rejected_by_file.values(), Counter()),
        source=spec.name,
        shard=shard,
        kept_by_file=dict(sorted(kept_by_file.items())),
        rejected_by_file={k: dict(sorted(v.items())) for k, v in sorted(rejected_by_file.items())},
    )
    write_json(stats, outputs.stats)
    log.info("seed %s shard %s: %d of %d kept", spec.name, shard, n_kept, n_in)
    return stats


def _choose(
    block: pd.DataFrame,
    parts: Parts,
    repeated_id: Mapping[str, str],
    cut: list | None,
    spec: SeedSpec,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(kept rows, rejected rows with ``_file``) of a block of rows in (id, part) order."""
    again = block["id"].duplicated()
    first = block[~again].set_index("id")
    rejected = []

    def reject(rows: pd.DataFrame, reason: str, details: Sequence[str], sampled: bool = False):
        for rec, detail in zip(rows.to_dict("records"), details, strict=True):
            part, row = rec["_part"], int(rec["row"])
            rejected.append(
                {
                    "id": rec["id"] if sampled else parts.row_id(part, row),
                    "seed_id": rec["id"] if sampled else None,
                    "stage": STAGE,
                    "reason": reason,
                    "detail": detail,
                    "source": parts.sources[part],
                    "row": row,
                    "text": None if sampled else rec["text"],
                    "_file": parts.files[part],
                }
            )

    later = block[again]
    reject(
        later,
        "duplicate_text",
        [
            "same text as " + parts.where(first.at[rid, "_part"], first.at[rid, "row"])
            for rid in later["id"]
        ],
    )
    rest = block[~again]
    repeated = rest["id"].isin(repeated_id.keys())
    reject(rest[repeated], "duplicate_source_id", [repeated_id[r] for r in rest["id"][repeated]])
    rest = rest[~repeated]
    if cut is not None:
        hashes = rest["id"].map(lambda rid: sample_key(spec, rid))
        inside = (hashes < cut[0]) | ((hashes == cut[0]) & (rest["id"] <= cut[1]))
        out = rest[~inside]
        note = f"not in the sample of {spec.sample['n']} rows"
        reject(out, "not_sampled", [note] * len(out), True)
        rest = rest[inside]
    columns = ["id", "reason", "detail", "stage", "seed_id", "source", "row", "text", "_file"]
    return rest, pd.DataFrame(rejected, columns=columns)


# --------------------------------------------------------------------------- the seed


def seed_job(
    part_rejected: Sequence[str],
    part_stats: Sequence[str],
    shard_rejected: Sequence[str],
    shard_stats: Sequence[str],
    seed: str,
    out_rejected: str,
    out_stats: str,
) -> dict:
    """The job of rule ingest_seed: the seed's rejected rows (every part's, then the
    shards', a file at a time) and its stats, with every file's rows read, kept and
    rejected by reason after the choices across files."""
    from .io import ParquetSink, iter_parquet_frames, read_json, write_json

    with ParquetSink(out_rejected, REJECT_SCHEMA) as sink:
        for path in [*part_rejected, *shard_rejected]:
            for frame in iter_parquet_frames(path, 10_000):
                if len(frame):
                    sink.add(frame)
    parts = [read_json(path) for path in part_stats]
    shards = [read_json(path) for path in shard_stats]
    stats = seed_stats(seed, parts, shards)
    write_json(stats, out_stats)
    log.info(
        "seed %s: %d rows read, %d kept, %d rejected",
        seed,
        stats["in"],
        stats["kept"],
        stats["rejected"],
    )
    return stats


def seed_stats(
    seed: str, parts: Sequence[Mapping[str, Any]], shards: Sequence[Mapping[str, Any]]
) -> dict:
    """A seed's stats from its parts' and shards' stats."""
    from .stats.merge import merge_stats

    # every file's counts over its parts (the pieces of a seed's one file), then the
    # rows the shards dropped across parts
    by_file: dict[str, list] = defaultdict(list)
    for part in parts:
        for name, counts in part["files"].items():
            by_file[name].append(counts)
    files = {name: merge_stats(counts) for name, counts in by_file.items()}
    by_reason: Counter = Counter()
    for name, counts in files.items():
        reasons = Counter(counts.get("rejected_by_reason") or {})
        for shard in shards:
            reasons.update(shard["rejected_by_file"].get(name) or {})
        counts["kept"] = sum(int(s["kept_by_file"].get(name, 0)) for s in shards)
        counts["rejected"] = int(sum(reasons.values()))
        counts["rejected_by_reason"] = {k: int(reasons[k]) for k in sorted(reasons)}
        by_reason.update(reasons)
    n_in = sum(part["in"] for part in parts)
    kept = sum(shard["kept"] for shard in shards)
    stats = stage_stats(
        STAGE,
        n_in,
        kept,
        by_reason,
        source=seed,
        blank_lines=sum(part.get("blank_lines", 0) for part in parts),
        files=files,
    )
    formats = sorted({part["format"] for part in parts if part.get("format")})
    if formats:
        stats["format"] = formats[0] if len(formats) == 1 else formats
        without: Counter = Counter()
        for part in parts:
            without.update(part.get("records_without_document") or {})
        stats["records_without_document"] = {k: int(without[k]) for k in sorted(without)}
    return stats
