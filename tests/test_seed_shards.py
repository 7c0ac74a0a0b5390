"""A seed read in parts and made shard by shard (corpusforge.seed_shards): the same
records and reasons as one pass over the whole seed, whatever the parts and shards."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import corpusforge.io as cio
from corpusforge.io import write_parquet
from corpusforge.records import REJECT_SCHEMA
from corpusforge.seed import SeedError, SeedSpec, ingest_file, pieces
from corpusforge.seed_shards import keys_job, part_job, seed_job, shard_job
from corpusforge.stats.audit import audit_seed_counts


def _outputs(folder: Path, **names: str) -> SimpleNamespace:
    folder.mkdir(parents=True, exist_ok=True)
    return SimpleNamespace(**{key: str(folder / name) for key, name in names.items()})


def run_seed(
    tmp: Path,
    cfg: dict,
    parts: list[tuple[str, Path, tuple | None]],
    shards: int,
    batch_rows: int = 7,
):
    """The seed's jobs in order, in this process, each part read ``batch_rows`` rows
    at a time: (records of every shard in shard order, the seed's rejected rows, its
    stats, the shards' record files)."""
    listed = all(piece is None for _, _, piece in parts)
    done = []
    for name, path, piece in parts:
        o = _outputs(
            tmp / "parts" / name,
            records="records.parquet",
            rejected="rejected.parquet",
            stats="stats.json",
        )
        part_job(str(path), name, "s", cfg, o, listed=listed, piece=piece, shards=shards,
                 batch_rows=batch_rows)  # fmt: skip
        done.append(o)
    records = [o.records for o in done]
    stats = [o.stats for o in done]
    keys = _outputs(tmp / "keys", repeated="keys.parquet", sample="sample.json")
    keys_job(records, stats, "s", cfg, keys.repeated, keys.sample, batch_rows=5)
    shard_outs = []
    for shard in range(shards):
        o = _outputs(
            tmp / "shards" / f"{shard:04d}",
            records="records.parquet",
            rejected="rejected.parquet",
            stats="stats.json",
        )
        shard_job(records, stats, keys.repeated, keys.sample, "s", cfg, f"{shard:04d}", shards, o,
                  batch_rows=6)  # fmt: skip
        shard_outs.append(o)
    seed = _outputs(tmp / "seed", rejected="rejected.parquet", stats="stats.json")
    seed_job(
        [o.rejected for o in done],
        stats,
        [o.rejected for o in shard_outs],
        [o.stats for o in shard_outs],
        "s",
        seed.rejected,
        seed.stats,
    )
    kept = pd.concat([pd.read_parquet(o.records) for o in shard_outs], ignore_index=True)
    rejects = pd.read_parquet(seed.rejected)
    return kept, rejects, json.loads(Path(seed.stats).read_text()), [o.records for o in shard_outs]


@contextmanager
def counting_spills() -> Iterator[list[int]]:
    """The chunks (their rows) the part jobs spill meanwhile as sorted runs, to be
    merged into their part files (corpusforge.io.ShardedWriter)."""
    spilled: list[int] = []
    real = cio._RunFile.add

    def add(self, table, counts):
        spilled.append(table.num_rows)
        real(self, table, counts)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cio._RunFile, "add", add)
        yield spilled


def assert_one_pass(tmp: Path, got: tuple, whole: tuple) -> None:
    """The seed's (records, rejected rows, stats) of run_seed are those of the
    one-pass reading ``whole`` (ingest_file): every column, dtypes too; each shard's
    records in id order."""
    records, rejects, stats, shard_files = got
    for path in shard_files:
        assert pd.read_parquet(path)["id"].is_monotonic_increasing
    whole_records, whole_rejects, whole_stats = whole
    pd.testing.assert_frame_equal(
        records.sort_values("id").reset_index(drop=True),
        whole_records.sort_values("id").reset_index(drop=True),
    )
    order = ["row", "reason"]
    write_parquet(whole_rejects, tmp / "whole.parquet", schema=REJECT_SCHEMA)
    pd.testing.assert_frame_equal(
        rejects.sort_values(order).reset_index(drop=True),
        pd.read_parquet(tmp / "whole.parquet").sort_values(order).reset_index(drop=True),
    )
    for key in ("in", "kept", "rejected", "rejected_by_reason", "blank_lines"):
        assert stats[key] == whole_stats[key], key


def write_jsonl(path: Path, rows: list) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_files_joined_as_one_seed(tmp_path):
    one = [{"text": f"Row {i} of the first file."} for i in range(4)]
    two = [{"text": "Row 1 of the first file."}, {"text": "Only in the second file."}, {}]
    files = [
        write_jsonl(tmp_path / n, rows) for n, rows in (("one.jsonl", one), ("two.jsonl", two))
    ]
    parts = [(p.name, p, None) for p in files]
    records, rejects, stats, shard_files = run_seed(tmp_path / "a", {}, parts, shards=3)
    assert len(records) == 5 and stats["in"] == 7 and stats["kept"] == 5
    assert dict(zip(rejects["reason"], rejects["detail"], strict=True)) == {
        "duplicate_text": "same text as one.jsonl row 2",
        "missing_text": "no 'text' field",
    }
    assert rejects["id"].is_unique and set(rejects["source"]) == {"s (two.jsonl)"}
    by_text = records.set_index("text")
    assert by_text.loc["Only in the second file.", "source_file"] == "two.jsonl"
    assert by_text.loc["Only in the second file.", "source_id"] == "two.jsonl:2"
    one_counts = dict(stats["files"]["one.jsonl"])
    assert len(one_counts.pop("sha256")) == 64
    assert one_counts == {"in": 4, "kept": 4, "rejected": 0, "rejected_by_reason": {}}
    assert stats["files"]["two.jsonl"]["rejected_by_reason"] == {
        "duplicate_text": 1,
        "missing_text": 1,
    }
    assert audit_seed_counts([stats], len(records)).ok
    # each shard's file holds its own rows, in id order
    from corpusforge.records import shard_of

    for shard, path in enumerate(shard_files):
        ids = pd.read_parquet(path)["id"]
        assert ids.is_monotonic_increasing and all(shard_of(i, 3) == shard for i in ids)
    # the sample is drawn over all files, whatever their order
    sampled = {"sample": {"n": 3, "seed": 1}}
    kept, rej, st, _ = run_seed(tmp_path / "b", sampled, parts, shards=2)
    again, _, _, _ = run_seed(tmp_path / "c", sampled, parts[::-1], shards=3)
    assert len(kept) == 3 and set(kept["id"]) == set(again["id"])
    assert (rej["reason"] == "not_sampled").sum() == 2 and audit_seed_counts([st], 3).ok


def _messy_rows(n: int) -> list:
    """Rows with every kind of trouble: repeats of texts and of ids, bad JSON, blanks."""
    rows: list = []
    for i in range(n):
        if i % 17 == 5:
            rows.append("{not json")
        elif i % 13 == 3:
            rows.append("")
        elif i % 11 == 7:
            rows.append({"text": f"Text number {i // 3}.", "key": f"k{i}"})  # a repeated text
        elif i % 19 == 2:
            rows.append({"text": f"A page of its own {i}.", "key": f"k{i - 1}"})  # a repeated id
        else:
            rows.append({"text": f"Text number {i}.", "key": f"k{i}"})
    return rows


@pytest.mark.parametrize(
    ("sample", "batch_rows"), [(None, 7), ({"n": 60, "seed": 3}, 7), (None, 3), (None, 1000)]
)
def test_a_file_read_in_pieces_gives_the_one_pass_records(tmp_path, sample, batch_rows):
    """A jsonl file read in 4 pieces (byte ranges) into 3 shards gives the records,
    and the reasons by row, of the one-pass reading of the whole file, whether each
    piece is read in chunks of a few rows (spilled as sorted runs) or at once."""
    path = write_jsonl(tmp_path / "big.jsonl", _messy_rows(300))
    cfg = {"columns": {"text": "text", "id": "key"}, **({"sample": sample} if sample else {})}
    whole = ingest_file(path, SeedSpec.from_config("s", cfg))
    with counting_spills() as spilled:
        got = run_seed(tmp_path / "run", cfg, [(f"piece{i:04d}", path, (i, 4)) for i in range(4)],
                       shards=3, batch_rows=batch_rows)  # fmt: skip
    assert_one_pass(tmp_path, got, whole)
    records, rejects, stats, _ = got
    by_row = dict(zip(rejects["row"], rejects["reason"], strict=True))
    assert len(set(by_row.values())) == 3 + bool(sample)  # bad json, repeats, (not sampled)
    assert list(stats["files"]) == ["big.jsonl"] and audit_seed_counts([stats], len(records)).ok
    # a piece's ~75 lines: many chunks spilled, or none when read at once
    assert len(spilled) > 3 * 4 if batch_rows < 1000 else spilled == []


def test_a_parquet_file_read_in_pieces_by_row_groups(tmp_path):
    rows = [{"text": f"Line {i % 40}, the {i}th."} for i in range(100)]
    rows[33] = {"text": rows[12]["text"]}  # a repeat in another piece
    rows[50] = {"text": "  "}
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=9)
    whole = ingest_file(path, SeedSpec.from_config("s", {}))
    parts = [(f"piece{i:04d}", path, (i, 3)) for i in range(3)]
    for batch_rows in (3, 1000):
        with counting_spills() as spilled:
            got = run_seed(tmp_path / f"run{batch_rows}", {}, parts, 2, batch_rows=batch_rows)
        assert_one_pass(tmp_path, got, whole)
        assert got[2]["kept"] == 98 and got[2]["rejected_by_reason"] == {
            "duplicate_text": 1,
            "empty_text": 1,
        }
        assert (len(spilled) > 3) == (batch_rows == 3)
    # a file of fewer row groups than pieces: the pieces without a row group are empty
    parts = [(f"piece{i:04d}", path, (i, 20)) for i in range(20)]
    records, _, stats, _ = run_seed(tmp_path / "many", {}, parts, shards=2)
    assert sorted(records["row"]) == sorted(whole[0]["row"]) and stats["in"] == 100


def test_files_read_in_chunks_give_the_records_of_files_read_at_once(tmp_path):
    """A seed of three files whose rows repeat texts and ids within and across the
    files: their parts read 2 rows at a time (many sorted runs a shard) give the
    seed of the parts read whole (one run a shard)."""
    rows = _messy_rows(90)
    files = [write_jsonl(tmp_path / f"f{i}.jsonl", rows[i * 25 : i * 25 + 40]) for i in range(3)]
    parts = [(p.name, p, None) for p in files]
    cfg = {"columns": {"text": "text", "id": "key"}}
    with counting_spills() as spilled:
        chunked = run_seed(tmp_path / "chunked", cfg, parts, shards=3, batch_rows=2)
    assert len(spilled) > 3 * 3
    with counting_spills() as spilled:
        whole = run_seed(tmp_path / "whole", cfg, parts, shards=3, batch_rows=1000)
    assert spilled == []
    for got, want in zip(chunked[:2], whole[:2], strict=True):
        pd.testing.assert_frame_equal(got, want)
    assert chunked[2] == whole[2]
    reasons = chunked[2]["rejected_by_reason"]
    assert reasons["duplicate_text"] > 0 and reasons["duplicate_source_id"] > 0
    for chunked_file, whole_file in zip(chunked[3], whole[3], strict=True):  # rows, not bytes:
        # a shard's row groups follow the blocks its parts' runs merged in
        pd.testing.assert_frame_equal(pd.read_parquet(chunked_file), pd.read_parquet(whole_file))


def test_a_seed_of_more_parts_than_fan_in_is_merged_in_levels(tmp_path, monkeypatch):
    """Seven files whose rows repeat texts and ids across files, merged 2 at a time
    (sorted runs of runs, three levels) give the seed of the seven merged at once."""
    from corpusforge import io, seed_shards

    rows = _messy_rows(200)
    files = [write_jsonl(tmp_path / f"f{i}.jsonl", rows[i * 25 : i * 25 + 40]) for i in range(7)]
    parts = [(p.name, p, None) for p in files]
    cfg = {"columns": {"text": "text", "id": "key"}}
    at_once = run_seed(tmp_path / "once", cfg, parts, shards=2, batch_rows=8)
    runs: list[str] = []
    sink_init = io.ParquetSink.__init__

    def counting(self, path, *args, **kwargs):
        if Path(path).name.startswith("run-"):
            runs.append(Path(path).name)
        sink_init(self, path, *args, **kwargs)

    monkeypatch.setattr(io.ParquetSink, "__init__", counting)
    monkeypatch.setattr(seed_shards, "FAN_IN", 2)
    levels = run_seed(tmp_path / "levels", cfg, parts, shards=2, batch_rows=8)
    # per shard: 4 runs of the 7 parts, then 2 runs of those 4
    assert sorted({name.split("-")[1] for name in runs}) == ["0", "1"] and len(runs) == 12
    for got, want in zip(levels[:2], at_once[:2], strict=True):
        pd.testing.assert_frame_equal(got, want)
    assert levels[2] == at_once[2]
    assert levels[2]["rejected_by_reason"]["duplicate_text"] > 0
    for got, want in zip(levels[3], at_once[3], strict=True):
        pd.testing.assert_frame_equal(pd.read_parquet(got), pd.read_parquet(want))
    assert not list((tmp_path / "levels").rglob(".runs.*"))  # the spill is removed


def test_a_crawl_file_read_in_chunks_gives_the_one_pass_records(tmp_path):
    from web_pages import wet_file

    pages = {
        f"http://site{i}.example/": f"Page {i % 9} of the site, in a few words." for i in range(30)
    }
    pages["http://blank.example/"] = "   "
    pages["http://broken.example/"] = b"caf\xe9 \xff\xfe\xc3 broken"
    path = tmp_path / "crawl.warc.wet.gz"
    path.write_bytes(wet_file(pages))
    cfg = {"kind": "documents"}
    whole = ingest_file(path, SeedSpec.from_config("s", cfg), file_key=path.name)
    with counting_spills() as spilled:
        got = run_seed(tmp_path / "run", cfg, [(path.name, path, None)], shards=3, batch_rows=2)
    assert_one_pass(tmp_path, got, whole)
    # nine texts and the page decoded by detection kept; a blank page is no text
    assert got[2]["kept"] == 10 and got[2]["rejected_by_reason"] == {
        "duplicate_text": 21,
        "no_text": 1,
    }
    assert got[0]["charset_detected"].notna().sum() == 1
    assert got[2]["records_without_document"] == whole[2]["records_without_document"]
    assert len(spilled) > 3


def test_only_plain_jsonl_and_parquet_are_read_in_pieces(tmp_path):
    import gzip

    path = tmp_path / "rows.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"text": "a"}\n'))
    with pytest.raises(SeedError, match=r"rows\.jsonl\.gz: seeds\.s\.pieces: only plain"):
        ingest_file(path, SeedSpec(name="s"), piece=(0, 2))
    assert pieces(path, SeedSpec(name="s")) == 1  # auto: one piece


def test_auto_pieces_follow_the_size_of_a_local_plain_file(tmp_path, monkeypatch):
    import corpusforge.seed as seed

    path = write_jsonl(tmp_path / "big.jsonl", [{"text": "x" * 100}] * 50)
    monkeypatch.setattr(seed, "PIECE_BYTES", 1000)
    size = path.stat().st_size
    assert pieces(path, SeedSpec(name="s")) == -(-size // 1000) > 1
    assert pieces(path, SeedSpec(name="s", pieces=3)) == 3
    assert pieces(tmp_path / "not-yet-downloaded.jsonl", SeedSpec(name="s")) == 1
