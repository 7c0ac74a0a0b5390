"""Streaming job I/O (corpusforge.io): a shard read and written in batches gives the
documents of one pass over the whole shard, a seed written sharded gives each shard
its own rows, and sorted streams merge by id."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpusforge.io import (
    ParquetSink,
    ShardedWriter,
    iter_shard,
    merge_by_id,
    read_parquet,
    run_doc_stage,
    write_parquet,
    write_sharded,
)
from corpusforge.records import (
    REJECT_SCHEMA,
    reject_records,
    select_shard,
    stable_id,
    stage_outcome,
)


def frame(n: int, seed: str = "s") -> pd.DataFrame:
    ids = [stable_id(seed, i) for i in range(n)]
    return pd.DataFrame(
        {
            "id": ids,
            "text": [f"document {i} " + "word " * (i % 7) for i in range(n)],
            "n": range(n),
            # a column that is null in whole batches and a string elsewhere
            "note": [None if i < n // 2 else f"note {i}" for i in range(n)],
        }
    ).sort_values("id", kind="stable", ignore_index=True)


def step(docs: pd.DataFrame):
    """A per-document stage: drop every third document, add a column, count."""
    bad = docs["n"] % 3 == 0
    rejects = reject_records(docs[bad], "toy", "multiple_of_three", "n % 3 == 0")
    kept = docs[~bad].assign(length=docs.loc[~bad, "text"].str.len())
    return stage_outcome("toy", docs, kept, rejects, letters=int(kept["length"].sum()))


@pytest.mark.parametrize("batch_rows", [7, 50, 1000])
def test_a_batched_stage_writes_what_one_pass_over_the_shard_writes(tmp_path, batch_rows):
    docs = frame(120)
    write_parquet(docs, tmp_path / "in.parquet")
    whole = {k: tmp_path / f"whole.{k}" for k in ("docs", "rej", "stats")}
    batched = {k: tmp_path / f"batched.{k}" for k in ("docs", "rej", "stats")}
    run_doc_stage(step, tmp_path / "in.parquet", *whole.values(), shard="0001")
    stats = run_doc_stage(
        step, tmp_path / "in.parquet", *batched.values(), shard="0001", batch_rows=batch_rows
    )
    pd.testing.assert_frame_equal(read_parquet(batched["docs"]), read_parquet(whole["docs"]))
    pd.testing.assert_frame_equal(read_parquet(batched["rej"]), read_parquet(whole["rej"]))
    assert json.loads(whole["stats"].read_text()) == stats
    assert stats["in"] == 120 and stats["kept"] == 80 and stats["rejected"] == 40
    groups = pq.ParquetFile(batched["docs"]).metadata.num_row_groups
    assert groups == -(-120 // batch_rows)
    if batch_rows >= 120:  # one batch: the very bytes of the unbatched job
        assert batched["docs"].read_bytes() == whole["docs"].read_bytes()


def test_a_shard_out_of_id_order_is_read_whole(tmp_path):
    docs = frame(40).iloc[::-1].reset_index(drop=True)
    write_parquet(docs, tmp_path / "in.parquet")
    out = [tmp_path / f"out.{k}" for k in ("docs", "rej", "stats")]
    run_doc_stage(step, tmp_path / "in.parquet", *out, batch_rows=5)
    assert pq.ParquetFile(out[0]).metadata.num_row_groups == 1
    assert read_parquet(out[0])["id"].is_monotonic_increasing


def test_a_failed_batch_publishes_nothing(tmp_path):
    write_parquet(frame(30), tmp_path / "in.parquet")
    calls = []

    def failing(docs):
        calls.append(len(docs))
        if len(calls) == 3:
            raise RuntimeError("model crashed")
        return step(docs)

    out = [tmp_path / f"out.{k}" for k in ("docs", "rej", "stats")]
    with pytest.raises(RuntimeError, match="model crashed"):
        run_doc_stage(failing, tmp_path / "in.parquet", *out, batch_rows=10)
    assert not any(p.exists() for p in out)
    assert [p.name for p in tmp_path.iterdir()] == ["in.parquet"]  # no part files left


def test_an_empty_sink_writes_its_schema(tmp_path):
    with ParquetSink(tmp_path / "rej.parquet", REJECT_SCHEMA):
        pass
    table = pq.read_table(tmp_path / "rej.parquet")
    assert table.num_rows == 0 and table.schema.names == REJECT_SCHEMA.names


def test_a_sink_with_a_schema_writes_straight_what_the_part_files_would(tmp_path):
    """With a schema the batches go into the output as they come (no part files),
    and the bytes are those of the sink without one; killed, it publishes nothing."""
    records = frame(40).assign(note=lambda f: f["note"].fillna("none"))
    schema = pa.Table.from_pandas(records, preserve_index=False).schema.remove_metadata()
    outputs = {}
    for name, with_schema in (("direct", schema), ("parts", None)):
        sink = ParquetSink(tmp_path / f"{name}.parquet", with_schema)
        with sink:
            for lo in range(0, 40, 15):
                sink.add(records.iloc[lo : lo + 15])
            assert bool(sink.parts) == (with_schema is None)
        outputs[name] = (tmp_path / f"{name}.parquet").read_bytes()
    assert outputs["direct"] == outputs["parts"]
    assert pq.ParquetFile(tmp_path / "direct.parquet").metadata.num_row_groups == 3
    with (
        pytest.raises(RuntimeError, match="killed"),
        ParquetSink(tmp_path / "x.parquet", schema) as sink,
    ):
        sink.add(records.iloc[:15])
        raise RuntimeError("killed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["direct.parquet", "parts.parquet"]


@pytest.mark.parametrize("shards", [1, 3, 8])
def test_a_sharded_seed_gives_each_shard_its_rows_in_id_order(tmp_path, shards):
    records = frame(97)
    write_sharded(records, tmp_path / "seed.parquet", shards, batch_rows=6)
    seen = []
    for shard in range(shards):
        batches = list(iter_shard(tmp_path / "seed.parquet", shard, shards))
        assert all(len(b) <= 6 for b in batches)
        got = pd.concat(batches, ignore_index=True) if batches else records.iloc[0:0]
        want = select_shard(records, shard, shards)
        pd.testing.assert_frame_equal(got.reset_index(drop=True), want, check_dtype=False)
        seen += got["id"].tolist()
    assert sorted(seen) == sorted(records["id"])
    # a file written for another number of shards (or by anyone else) still reads right
    other = list(iter_shard(tmp_path / "seed.parquet", 1, shards + 1))
    assert len(other) == 1
    pd.testing.assert_frame_equal(other[0], select_shard(records, 1, shards + 1))


def test_write_sharded_is_reproducible_and_an_empty_seed_reads_empty(tmp_path):
    write_sharded(frame(50), tmp_path / "a.parquet", 4, 8)
    write_sharded(frame(50).sample(frac=1, random_state=3), tmp_path / "b.parquet", 4, 8)
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    write_sharded(frame(0), tmp_path / "empty.parquet", 4, 8)
    assert [len(b) for b in iter_shard(tmp_path / "empty.parquet", 2, 4)] == []


def test_records_written_sharded_in_chunks_make_the_file_of_all_at_once(tmp_path):
    """Chunks spilled as sorted runs and merged on close: the very bytes of the file
    of all the rows written at once, whose shards read back in id order; a column
    without a value anywhere is null-typed; a failed writer leaves nothing."""
    records = frame(96)
    records = pd.concat([records, records.iloc[[40]].assign(text="the same id again")])
    records = records.sample(frac=1, random_state=5, ignore_index=True)  # not in id order
    records["empty"] = None
    text = pa.large_string()
    schema = pa.schema(
        [("id", text), ("text", text), ("n", pa.int64()), ("note", text), ("empty", text)]
    )
    with ShardedWriter(tmp_path / "chunks.parquet", 3, 6, schema) as out:
        for lo in range(0, 97, 20):  # the note is null in whole chunks
            out.add(records.iloc[lo : lo + 20])
        spill = [p.name for p in tmp_path.iterdir() if p.name.startswith(".chunks")]
    write_sharded(records, tmp_path / "whole.parquet", 3, 6)
    assert len(spill) == 1  # the runs went to a spill beside the output, now gone
    assert (tmp_path / "chunks.parquet").read_bytes() == (tmp_path / "whole.parquet").read_bytes()
    assert pq.read_schema(tmp_path / "chunks.parquet").field("empty").type == pa.null()
    for shard in range(3):
        got = pd.concat(list(iter_shard(tmp_path / "chunks.parquet", shard, 3)), ignore_index=True)
        pd.testing.assert_frame_equal(got, select_shard(records, shard, 3))
    with (
        pytest.raises(RuntimeError, match="killed"),
        ShardedWriter(tmp_path / "x.parquet", 3, 6, schema) as out,
    ):
        out.add(records.iloc[:20])
        out.add(records.iloc[20:40])
        raise RuntimeError("killed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chunks.parquet", "whole.parquet"]


def test_sorted_streams_merge_by_id_in_stream_order_for_ties():
    a, b = frame(30, "a"), frame(25, "b")
    tie = a.iloc[[4]].assign(text="from b")
    b = pd.concat([b, tie]).sort_values("id", kind="stable", ignore_index=True)
    streams = [
        (a.iloc[i : i + 4] for i in range(0, len(a), 4)),
        (b.iloc[i : i + 9] for i in range(0, len(b), 9)),
        iter([]),
    ]
    merged = pd.concat(list(merge_by_id(streams)), ignore_index=True)
    want = pd.concat([a, b], ignore_index=True).sort_values("id", kind="stable", ignore_index=True)
    pd.testing.assert_frame_equal(merged, want)
    twice = merged[merged["id"] == tie["id"].iloc[0]]
    assert twice["text"].tolist()[1] == "from b"


@pytest.mark.parametrize("block_rows", [1, 5, 1000])
def test_equal_ids_merge_into_one_block_across_a_streams_frames(block_rows):
    """A stream whose frames go on with the same id (a run of merged parts): every row
    of an id is in one block, in stream order, whatever the blocks' size."""
    a = pd.DataFrame({"id": ["k1", "k2", "k2", "k2", "k5", "k7"], "src": "a"})
    b = pd.DataFrame({"id": ["k2", "k3", "k5", "k5"], "src": "b"})
    streams = [
        (a.iloc[i : i + 2] for i in range(0, len(a), 2)),  # k2 spans two frames
        (b.iloc[i : i + 3] for i in range(0, len(b), 3)),  # so does k5
    ]
    blocks = list(merge_by_id(streams, block_rows))
    merged = pd.concat(blocks, ignore_index=True)
    assert merged["id"].tolist() == ["k1", "k2", "k2", "k2", "k2", "k3", "k5", "k5", "k5", "k7"]
    assert merged.loc[merged["id"] == "k2", "src"].tolist() == ["a", "a", "a", "b"]
    assert merged.loc[merged["id"] == "k5", "src"].tolist() == ["a", "b", "b"]
    for key in ("k2", "k5"):
        assert sum(key in set(block["id"]) for block in blocks) == 1
    if block_rows == 1000:
        assert len(blocks) == 1
