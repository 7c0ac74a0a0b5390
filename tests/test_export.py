"""Export stage: jsonl records, field order, later-stage columns."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from corpusforge.export import FIELDS, ExportError, partition, to_records
from corpusforge.io import write_jsonl


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
            perplexity=[100.0, 200.0],
            bucket=["head", "tail"],
        )
    )
    assert records[0]["lang"] == "en"  # fastText's lang replaces the prompt language
    assert list(records[0])[-3:] == ["lang_score", "perplexity", "bucket"]
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
