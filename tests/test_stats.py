"""Stats and audit: the run fails when a record is lost, doubled or invented."""

from __future__ import annotations

import pandas as pd
import pytest

from corpusforge.io import write_jsonl, write_parquet
from corpusforge.stats import (
    AuditError,
    StageFiles,
    aggregate,
    audit_ids,
    audit_seed_counts,
    audit_stage,
    check,
    summarize,
)


def s(*values):
    return pd.Series(list(values), dtype=object)


def test_balanced_stage_passes():
    assert audit_ids("x", s("a", "b", "c"), s("a", "c"), s("b")).ok


@pytest.mark.parametrize(
    "kept, rejected, problem",
    [
        (s("a"), s("b"), "neither kept nor rejected"),
        (s("a", "b"), s("b", "c"), "both kept and rejected"),
        (s("a", "a", "b"), s("c"), "kept ids repeated"),
        (s("a", "b", "c", "z"), s(), "did not enter the stage"),
        (s("a", None, "b"), s("c"), "have no id"),
    ],
)
def test_unbalanced_stage_is_caught(kept, rejected, problem):
    result = audit_ids("x", s("a", "b", "c"), kept, rejected)
    assert not result.ok
    assert any(problem in p for p in result.problems), result.problems


def test_seed_counts_and_aggregate():
    good = {"source": "a", "in": 5, "kept": 3, "rejected": 2}
    bad = {"source": "b", "in": 5, "kept": 3, "rejected": 1}
    assert audit_seed_counts([good]).ok
    assert "seed b" in audit_seed_counts([good, bad]).problems[0]
    total = aggregate(
        [
            {
                "in": 3,
                "kept": 2,
                "rejected": 1,
                "rejected_by_reason": {"x": 1},
                "finish_reasons": {"stop": 2},
            },
            {
                "in": 4,
                "kept": 4,
                "rejected": 0,
                "rejected_by_reason": {},
                "finish_reasons": {"length": 4},
            },
        ]
    )
    assert total["in"] == 7 and total["kept"] == 6 and total["shards"] == 2
    assert total["rejected_by_reason"] == {"x": 1}
    assert total["finish_reasons"] == {"length": 4, "stop": 2}


def test_audit_from_files_and_summary_accounting(tmp_path):
    write_parquet(pd.DataFrame({"id": ["p1", "p2", "p3"]}), tmp_path / "in.parquet")
    write_parquet(
        pd.DataFrame({"id": ["d1", "d2"], "prompt_id": ["p1", "p3"]}), tmp_path / "k.parquet"
    )
    write_parquet(pd.DataFrame({"id": ["p2"]}), tmp_path / "r.parquet")
    files = StageFiles(
        "generate",
        [tmp_path / "in.parquet"],
        [tmp_path / "k.parquet"],
        [tmp_path / "r.parquet"],
        "id",
        "prompt_id",
    )
    result = audit_stage(files)
    assert result.ok and (result.n_in, result.kept, result.rejected) == (3, 2, 1)
    write_jsonl([{"id": "d1", "lang": "en"}, {"id": "d2", "lang": "zh"}], tmp_path / "c.jsonl")
    stats_file = tmp_path / "g.json"
    stats_file.write_text(
        '{"in": 3, "kept": 2, "rejected": 1, "rejected_by_reason": {"empty_generation": 1}}'
    )
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(
        '{"source": "x", "file": "f", "in": 3, "kept": 3, "rejected": 0, "rejected_by_reason": {}}'
    )
    summary = summarize(
        {"seed": [seed_file], "generate": [stats_file]}, [result], [tmp_path / "c.jsonl"]
    )
    assert summary["corpus"]["documents"] == 2 and summary["corpus"]["by_lang"] == {
        "en": 1,
        "zh": 1,
    }
    assert summary["accounting"]["balanced"]
    check(summary)
    # a document that vanished breaks the accounting and fails the run
    write_jsonl([{"id": "d1", "lang": "en"}], tmp_path / "c.jsonl")
    broken = summarize(
        {"seed": [seed_file], "generate": [stats_file]}, [result], [tmp_path / "c.jsonl"]
    )
    with pytest.raises(AuditError, match="3 seed rows != 1 documents"):
        check(broken)
