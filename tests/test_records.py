"""The data contract: ids, shards, rejected rows; and atomic, reproducible io."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from collections import Counter

import pandas as pd
import pytest

from corpusforge.io import atomic_output, read_parquet, write_json, write_jsonl, write_parquet
from corpusforge.records import (
    GENERATED,
    REJECT_COLUMNS,
    REJECT_SCHEMA,
    WEB,
    origins,
    reject_records,
    select_shard,
    shard_of,
    stable_id,
    stage_outcome,
    stage_stats,
    unit_hash,
)


def test_stable_id_is_fixed_and_unambiguous():
    assert stable_id("seed", "hello") == stable_id("seed", "hello")
    assert len(stable_id("x")) == 16 and int(stable_id("x"), 16) >= 0
    # parts are length-prefixed: moving a boundary changes the id
    assert stable_id("ab", "c") != stable_id("a", "bc")
    # pinned value: ids must not change between releases or machines
    assert (
        stable_id("corpusforge", 1)
        == hashlib.blake2b(
            (11).to_bytes(8, "little") + b"corpusforge" + (1).to_bytes(8, "little") + b"1",
            digest_size=8,
        ).hexdigest()
    )
    assert 0 <= unit_hash("a") < 1


def test_shards_are_balanced_and_selection_is_exact():
    ids = [stable_id("doc", i) for i in range(4000)]
    counts = Counter(shard_of(i, 4) for i in ids)
    assert set(counts) == {0, 1, 2, 3} and min(counts.values()) > 850
    frame = pd.DataFrame({"id": ids, "seed_id": ids})
    parts = [select_shard(frame, k, 4, "seed_id") for k in range(4)]
    assert sum(len(p) for p in parts) == 4000
    assert set().union(*(set(p["id"]) for p in parts)) == set(ids)
    assert all(p["id"].is_monotonic_increasing for p in parts)


def test_reject_records_have_the_contract_columns(tmp_path):
    frame = pd.DataFrame({"id": ["a", "b"], "seed_id": ["s", "t"], "text": ["x", None]})
    rejects = reject_records(frame, "langid", "low_lang_score", "score 0.2")
    assert list(rejects.columns) == REJECT_COLUMNS
    assert list(rejects["reason"]) == ["low_lang_score"] * 2
    write_parquet(rejects, tmp_path / "r.parquet", schema=REJECT_SCHEMA)
    back = read_parquet(tmp_path / "r.parquet")
    assert list(back["id"]) == ["a", "b"] and back["row"].isna().all()
    stats = stage_stats("langid", 5, 3, rejects)
    assert stats["rejected"] == 2 and stats["rejected_by_reason"] == {"low_lang_score": 2}


def test_reasons_per_record_follow_the_frames_index():
    frame = pd.DataFrame(
        {"id": ["a", "b", "c"], "row": pd.array([3, None, 1], dtype="Int64"), "x": [1, 2, 3]},
        index=[10, 20, 30],
    )
    reasons = pd.Series(["r30", "r10", "r20"], index=[30, 10, 20])
    rejects = reject_records(frame, "filters", reasons, pd.Series([1.5, 2, 3], index=frame.index))
    assert list(rejects["reason"]) == ["r10", "r20", "r30"]
    assert list(rejects["detail"]) == ["1.5", "2.0", "3.0"]
    assert rejects["row"].tolist() == [3, pd.NA, 1] and rejects["source"].isna().all()
    assert rejects.loc[0, "seed_id"] is None and rejects.loc[0, "stage"] == "filters"


def test_stage_outcome_sorts_by_id_and_counts():
    docs = pd.DataFrame({"id": ["c", "a", "b", "d"], "text": ["3", "1", "2", "4"]})
    kept = docs.iloc[[0, 1]]
    rejects = reject_records(docs.iloc[[3, 2]], "mix", "gone")
    kept, rejects, stats = stage_outcome("mix", docs, kept, rejects, extra=1)
    assert list(kept["id"]) == ["a", "c"] and list(kept.index) == [0, 1]
    assert list(rejects["id"]) == ["b", "d"] and list(rejects.index) == [0, 1]
    assert stats == {
        "stage": "mix",
        "in": 4,
        "kept": 2,
        "rejected": 2,
        "rejected_by_reason": {"gone": 2},
        "extra": 1,
    }


def test_a_record_without_origin_is_generated():
    docs = pd.DataFrame({"origin": [WEB, None, GENERATED]})
    assert origins(docs).tolist() == [WEB, GENERATED, GENERATED]
    assert origins(pd.DataFrame({"id": ["a"]})).tolist() == [GENERATED]


def test_writers_are_reproducible(tmp_path):
    frame = pd.DataFrame({"id": ["b", "a"], "text": ["中文", "x"], "n": [1, 2]})
    write_parquet(frame, tmp_path / "1.parquet")
    write_parquet(frame.copy(), tmp_path / "2.parquet")
    assert (tmp_path / "1.parquet").read_bytes() == (tmp_path / "2.parquet").read_bytes()
    write_json({"b": 1, "a": "中"}, tmp_path / "s.json")
    assert (tmp_path / "s.json").read_text(encoding="utf-8") == '{\n  "a": "中",\n  "b": 1\n}\n'
    assert write_jsonl([{"text": "中文"}], tmp_path / "c.jsonl") == 1
    assert (tmp_path / "c.jsonl").read_text(encoding="utf-8") == '{"text": "中文"}\n'


def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_text("partial")
        raise RuntimeError("boom")
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_killed_writer_leaves_no_complete_looking_file(tmp_path):
    target = tmp_path / "big.jsonl"
    code = textwrap.dedent(
        f"""
        import os, signal, sys
        from corpusforge.io import write_jsonl
        def rows():
            for i in range(10_000_000):
                if i == 1000:
                    os.kill(os.getpid(), signal.SIGKILL)
                yield {{"i": i}}
        write_jsonl(rows(), {str(target)!r})
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], check=False)
    assert proc.returncode != 0
    assert not target.exists()
