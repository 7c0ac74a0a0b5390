"""Export stage: jsonl records, field order, later-stage columns."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from corpusforge.export import (
    FIELDS,
    ExportError,
    export_shard,
    partition,
    to_records,
    with_source_ids,
)
from corpusforge.io import write_jsonl, write_parquet


def docs(**extra):
    base = {
        "id": ["b2", "a1"],
        "seed_id": ["s2", "s1"],
        "prompt_id": ["p2", "p1"],
        "source": ["default", "default"],
        "prompt": ["Write…", "写…"],
        "prompt_lang": ["en", "zh"],
        "format": ["story", "blogpost"],
        "audience": ["general_public", "young_children"],
        "seed_data": ["extract", "摘录"],
        "topic": [None, "潮汐"],
        "text": ["Once upon a time.", "从前有一座山。"],
        "model": ["m", "m"],
        "engine": ["vllm", "vllm"],
        "finish_reason": ["stop", "length"],
        "prompt_tokens": [10, 12],
        "completion_tokens": [5, 7],
    }
    base.update(extra)
    return pd.DataFrame(base)


def test_records_are_sorted_with_fixed_fields(tmp_path):
    records = to_records(docs())
    assert [r["id"] for r in records] == ["a1", "b2"]
    assert list(records[0]) == list(FIELDS)
    assert records[0]["lang"] == "zh" and records[0]["token_length"] == 7
    assert records[1]["topic"] is None
    write_jsonl(records, tmp_path / "c.jsonl")
    raw = (tmp_path / "c.jsonl").read_text(encoding="utf-8")
    assert "从前有一座山" in raw  # not ASCII-escaped
    assert [json.loads(line)["id"] for line in raw.splitlines()] == ["a1", "b2"]


def test_language_id_and_quality_columns_win_when_present():
    records = to_records(
        docs(
            lang=["en", "en"],
            lang_score=[0.9, 0.7],
            quality_score=[0.25, 0.75],
            quality_label=["cc", "hq"],
            perplexity=[100.0, 200.0],
            bucket=["head", "tail"],
        )
    )
    assert records[0]["lang"] == "en"  # fastText's lang replaces the prompt language
    assert list(records[0])[-5:] == [
        "lang_score",
        "quality_score",
        "quality_label",
        "perplexity",
        "bucket",
    ]
    assert records[0]["quality_label"] == "hq" and records[1]["quality_score"] == 0.25
    assert records[0]["bucket"] == "tail" and isinstance(records[0]["perplexity"], float)


def test_partition_by_language_and_bucket():
    records = to_records(docs(lang=["en", "zh"], bucket=["head", "tail"]))
    parts = partition(records, ["en", "zh"], ["head", "middle", "tail", "unscored"])
    assert len(parts) == 8  # every pair, empty or not
    assert [r["id"] for r in parts[("en", "head")]] == ["b2"]
    assert [r["id"] for r in parts[("zh", "tail")]] == ["a1"]
    assert sum(len(v) for v in parts.values()) == 2
    everything = partition(records, ["all"], ["all"])
    assert [r["id"] for r in everything[("all", "all")]] == ["a1", "b2"]
    with pytest.raises(ExportError, match="lang='zh'"):
        partition(records, ["en"], ["head", "tail"])


def test_the_users_id_and_seed_name_reach_the_corpus(tmp_path):
    """A document carries the seed name (`source`) and the row's own id (`source_id`)."""
    write_parquet(docs(lang=["en", "zh"]), tmp_path / "docs.parquet")
    seeds = pd.DataFrame({"seed_id": ["s1", "s2", "s3"], "source_id": ["doc-7", "12", "x"]})
    write_parquet(seeds.iloc[:2], tmp_path / "default.parquet")
    write_parquet(seeds.iloc[2:], tmp_path / "other.parquet")
    paths = [tmp_path / "en.jsonl", tmp_path / "zh.jsonl"]
    stats = export_shard(
        tmp_path / "docs.parquet",
        [tmp_path / "default.parquet", tmp_path / "other.parquet"],
        ["en", "zh"],
        ["all"],
        paths,
        tmp_path / "stats.json",
        "0000",
    )
    rows = [json.loads(line) for path in paths for line in path.read_text().splitlines()]
    assert [(r["id"], r["source"], r["source_id"]) for r in rows] == [
        ("b2", "default", "12"),
        ("a1", "default", "doc-7"),
    ]
    assert list(rows[0])[list(rows[0]).index("source") + 1] == "source_id"
    assert stats["kept"] == 2 and stats["partitions"] == {"en/all": 1, "zh/all": 1}


def test_a_document_without_its_seed_row_is_an_error():
    seeds = pd.DataFrame({"seed_id": ["s1"], "source_id": ["doc-7"]})
    with pytest.raises(ExportError, match="s2"):
        with_source_ids(docs(), seeds)


def test_a_shard_exported_a_batch_at_a_time_gives_the_same_bytes(tmp_path):
    """Streamed (batches of 2 documents) or whole: the same files, byte for byte,
    and a broken lineage still fails naming the seed_id."""
    n = 7
    shard = docs(
        id=[f"d{i}" for i in range(n)],
        seed_id=[f"s{i}" for i in range(n)],
        **{
            k: [v[i % 2] for i in range(n)] for k, v in docs().items() if k not in ("id", "seed_id")
        },
        lang=["en", "zh", "en", "en", "zh", "en", "zh"],
        url=[f"https://example.org/{i}" for i in range(n)],
    )
    write_parquet(shard, tmp_path / "docs.parquet")
    seeds = pd.DataFrame(
        {
            "seed_id": [f"s{i}" for i in range(n)],
            "source_id": [str(100 + i) for i in range(n)],
            "source_file": ["a.jsonl"] * n,
            "charset_detected": [None, "cp1252"] + [None] * (n - 2),
        }
    )
    write_parquet(seeds.iloc[4:], tmp_path / "seeds-b.parquet")
    write_parquet(seeds.iloc[:4], tmp_path / "seeds-a.parquet")
    seed_paths = [tmp_path / "seeds-a.parquet", tmp_path / "seeds-b.parquet"]
    files = {}
    for batch_rows in (None, 2):
        out = tmp_path / str(batch_rows)
        paths = [out / "en.jsonl", out / "zh.jsonl"]
        stats = export_shard(
            tmp_path / "docs.parquet",
            seed_paths,
            ["en", "zh"],
            ["all"],
            paths,
            out / "stats.json",
            "0000",
            batch_rows,
        )
        files[batch_rows] = [p.read_bytes() for p in paths] + [(out / "stats.json").read_bytes()]
        assert stats["partitions"] == {"en/all": 4, "zh/all": 3} and stats["kept"] == n
    assert files[None] == files[2]
    rows = [json.loads(line) for line in files[2][0].decode().splitlines()]
    assert [r["source_id"] for r in rows] == ["100", "102", "103", "105"]
    assert rows[0]["charset_detected"] is None and rows[0]["source_file"] == "a.jsonl"
    with pytest.raises(ExportError, match="s5"):
        export_shard(
            tmp_path / "docs.parquet",
            seed_paths[:1],
            ["en", "zh"],
            ["all"],
            [tmp_path / "x-en.jsonl", tmp_path / "x-zh.jsonl"],
            tmp_path / "x.json",
            "0000",
            2,
        )
    assert not list(tmp_path.glob("*x*")), "a failed export leaves no file"
