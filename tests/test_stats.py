"""Stats and audit: the run fails when a record is lost, doubled or invented."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from corpusforge.io import write_json, write_jsonl, write_parquet
from corpusforge.records import REJECT_SCHEMA, reject_records
from corpusforge.stats import (
    AuditError,
    StageFiles,
    aggregate,
    audit_ids,
    audit_seed_counts,
    audit_stage,
    check,
    duplicate_clusters,
    merge_stats,
    read_final,
    runtime,
    summarize_workflow,
)


def s(*values):
    return pd.Series(list(values), dtype=object)


def test_balanced_stage_passes():
    assert audit_ids("x", s("a", "b", "c"), s("a", "c"), s("b"), s("too_short")).ok


@pytest.mark.parametrize(
    "kept, rejected, problem",
    [
        (
            s("a"),
            s("b"),
            "x: 1 of 3 ids that entered the stage were neither kept nor rejected, e.g. c",
        ),
        (s("a", "b"), s("b", "c"), "x: 1 ids were both kept and rejected, e.g. b"),
        (s("a", "a", "b"), s("c"), "x: 1 kept ids appear more than once, e.g. a"),
        (s("a", "b", "c", "z"), s(), "x: 1 kept or rejected ids never entered the stage, e.g. z"),
        (s("a", None, "b"), s("c"), "x: 1 kept rows have no id"),
    ],
)
def test_unbalanced_stage_is_caught(kept, rejected, problem):
    result = audit_ids("x", s("a", "b", "c"), kept, rejected)
    assert not result.ok
    assert problem in result.problems, result.problems


def test_a_rejected_row_without_reason_is_caught():
    result = audit_ids("x", s("a", "b", "c"), s("a"), s("b", "c"), s("too_short", " "))
    assert result.problems == ["x: 1 rejected rows have no reason, e.g. c"]


def test_lost_ids_are_counted_and_a_few_are_named():
    ids = [f"id{i:03d}" for i in range(40)]
    result = audit_ids("langid", s(*ids), s(*ids[:10]), s())
    (problem,) = result.problems
    assert problem.startswith("langid: 30 of 40 ids that entered the stage were neither kept")
    assert problem.endswith("e.g. id010, id011, id012, id013, id014")


def test_seed_counts():
    good = {"source": "a", "in": 5, "kept": 3, "rejected": 2}
    bad = {"source": "b", "in": 5, "kept": 3, "rejected": 1}
    assert audit_seed_counts([good], records=3).ok
    assert "seed b" in audit_seed_counts([good, bad]).problems[0]
    assert "the seed files hold 2" in audit_seed_counts([good], records=2).problems[0]


def test_merge_sums_counts_and_keeps_settings():
    shard = {
        "stage": "langid",
        "shard": "0000",
        "in": 3,
        "kept": 2,
        "rejected_by_reason": {"x": 1},
        "finish_reasons": {"stop": 2},
        "model": {"name": "lid.176.ftz", "top_k": 3},
        "score_hist_edges": [0.0, 0.5, 1.0],
        "langs": {"en": {"docs": 2, "score_hist": [0, 2], "score_sum": 1.5, "score_mean": 0.75}},
        "ratio": 0.5,
    }
    other = {
        **shard,
        "shard": "0001",
        "in": 4,
        "kept": 4,
        "rejected_by_reason": {},
        "finish_reasons": {"length": 4},
        "langs": {
            "en": {"docs": 1, "score_hist": [1, 0], "score_sum": 0.25, "score_mean": 0.25},
            "zh": {"docs": 3, "score_hist": [0, 3], "score_sum": 2.9, "score_mean": 0.97},
        },
        "ratio": 1.0,
    }
    total = aggregate([shard, other])
    assert total["shards"] == 2 and total["in"] == 7 and total["kept"] == 6
    assert total["rejected_by_reason"] == {"x": 1}
    assert total["finish_reasons"] == {"length": 4, "stop": 2}
    # settings are not summed, histograms are, a mean of shards is dropped
    assert total["model"] == {"name": "lid.176.ftz", "top_k": 3}
    assert total["score_hist_edges"] == [0.0, 0.5, 1.0]
    assert total["langs"]["en"] == {"docs": 3, "score_hist": [1, 2], "score_sum": 1.75}
    assert total["langs"]["zh"]["docs"] == 3
    assert "ratio" not in total and "shard" not in total and total["stage"] == "langid"
    assert merge_stats([{"model": "a"}, {"model": "b"}]) == {"model": ["a", "b"]}


def test_runtime_from_benchmark_files(tmp_path):
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    files = {
        "generate/0000.tsv": "104.30\t0:01:44\t4902.93\t1\t1\t1\t1\t1\t1\t1\n",
        "generate/0001.tsv": "100.00\t0:01:40\t4970.50\t1\t1\t1\t1\t1\t1\t1\n",
        "generate/0002.tsv": "999\t0\t99999\t1\t1\t1\t1\t1\t1\t1\n",  # a shard of an older run
        "ingest_seed/default.tsv": "0.40\t0:00:00\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\n",
        "download_seed/web/web.jsonl.tsv": "1.5\t0\t10\t1\t1\t1\t1\t1\t1\t1\n",
        "summarize/summary.tsv": "3\t0\t100\t1\t1\t1\t1\t1\t1\t1\n",
    }
    for name, row in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(header + row)
    result = runtime(tmp_path, exclude=["summarize"], shards=["0000", "0001"])
    assert result["rules"] == {
        "download_seed": {"jobs": 1, "s": 1.5, "max_rss_mb": 10.0},
        "generate": {"jobs": 2, "s": 204.3, "max_rss_mb": 4970.5},
        "ingest_seed": {"jobs": 1, "s": 0.4, "max_rss_mb": None},
    }
    assert result["total_s"] == 206.2
    assert runtime(tmp_path / "missing") == {"rules": {}, "total_s": 0.0}


def test_duplicate_clusters_from_rejected_details():
    docs = pd.DataFrame({"id": ["b", "c", "e"], "seed_id": ["sb", "sc", "se"]})
    detail = pd.Series(
        [
            json.dumps({"cluster_id": "exact:1", "kept_id": "a"}),
            json.dumps({"cluster_id": "near:a", "kept_id": "a", "jaccard": 0.9}),
            json.dumps({"cluster_id": "near:d", "kept_id": "d"}),
        ]
    )
    rejects = pd.concat(
        [
            reject_records(docs.iloc[:1], "dedup", "exact_duplicate", detail.iloc[:1]),
            reject_records(docs.iloc[1:], "dedup", "near_duplicate", detail.iloc[1:]),
        ],
        ignore_index=True,
    )
    clusters = duplicate_clusters("dedup", rejects)
    assert clusters["clusters"] == 2 and clusters["removed"] == 3
    assert clusters["removed_by_reason"] == {"exact_duplicate": 1, "near_duplicate": 2}
    assert clusters["cluster_sizes"] == [{"size": 2, "clusters": 1}, {"size": 3, "clusters": 1}]
    assert clusters["largest_cluster"] == 3 and clusters["documents_in_clusters"] == 5
    other = reject_records(docs, "langid", "low_lang_score", "0.2")
    assert duplicate_clusters("langid", other) is None


# ---------------------------------------------------------------- a small build, end to end


def _stats(stage: str, n_in: int, kept: int, rejects: pd.DataFrame, **extra) -> dict:
    from corpusforge.records import stage_stats

    return stage_stats(stage, n_in, kept, rejects, **extra)


def mini_build(root: Path) -> dict[str, list[str]]:
    """The files rule summarize gets, for 6 seed rows, stages generate, langid, dedup.

    seed: 6 rows read, 1 rejected -> 5 records; prompts: 5; generate: 1 too_short;
    langid: 1 lang_not_kept; dedup: 1 near duplicate -> 2 documents, partitioned
    as final/{lang}/{bucket}/corpus-0000.jsonl.
    """
    r = root / "results"
    files: dict[str, list[str]] = {}

    def parquet(name, frame, key, schema=None):
        path = r / name
        write_parquet(frame, path, schema=schema)
        files.setdefault(key, []).append(str(path))

    def stats(stage, data):
        path = r / f"stats/{stage}/0000.json"
        write_json(data, path)
        files.setdefault(f"{stage}_stats" if stage != "seed" else "seed_stats", []).append(
            str(path)
        )

    seeds = pd.DataFrame({"id": [f"s{i}" for i in range(5)]})
    seeds["seed_id"] = seeds["id"]
    parquet("seed/default.parquet", seeds, "seed_records")
    stats("seed", {"source": "default", "in": 6, "kept": 5, "rejected": 1, "blank_lines": 2})
    prompts = pd.DataFrame({"id": [f"p{i}" for i in range(5)], "seed_id": seeds["id"]})
    parquet("prompts/0000.parquet", prompts, "prompts")
    empty = reject_records(prompts.iloc[:0], "prompts", "")
    parquet("rejected/prompts/0000.parquet", empty, "prompts_rejected", REJECT_SCHEMA)
    stats("prompts", _stats("prompts", 5, 5, empty))

    gen = prompts.iloc[1:].rename(columns={"id": "prompt_id"})
    gen.insert(0, "id", [f"d{i}" for i in range(1, 5)])
    gen["completion_tokens"] = [100, 200, 300, 400]
    short = reject_records(prompts.iloc[:1], "generate", "too_short", "3 tokens < 8")
    parquet("docs/generate/0000.parquet", gen, "generate_docs")
    parquet("rejected/generate/0000.parquet", short, "generate_rejected", REJECT_SCHEMA)
    stats(
        "generate",
        _stats(
            "generate",
            5,
            4,
            short,
            prompt_tokens=50,
            completion_tokens=1003,
            kept_tokens=1000,
            finish_reasons={"length": 2, "stop": 3},
        ),
    )

    lid = gen[gen["id"] != "d4"].assign(lang=["en", "zh", "en"], lang_score=0.9)
    wrong = reject_records(gen[gen["id"] == "d4"], "langid", "lang_not_kept", "lang=fr")
    parquet("docs/langid/0000.parquet", lid, "langid_docs")
    parquet("rejected/langid/0000.parquet", wrong, "langid_rejected", REJECT_SCHEMA)
    stats("langid", _stats("langid", 4, 3, wrong, kept_by_lang={"en": 2, "zh": 1}))

    dup = lid[lid["id"] == "d3"]
    detail = pd.Series([json.dumps({"cluster_id": "near:d1", "kept_id": "d1"})], index=dup.index)
    near = reject_records(dup, "dedup", "near_duplicate", detail)
    kept = lid[lid["id"] != "d3"].assign(perplexity=[120.0, 900.0], bucket=["head", "tail"])
    parquet("docs/dedup/0000.parquet", kept, "dedup_docs")
    parquet("rejected/dedup/0000.parquet", near, "dedup_rejected", REJECT_SCHEMA)
    stats("dedup", _stats("dedup", 3, 2, near))

    for row in kept.to_dict("records"):
        path = r / f"final/{row['lang']}/{row['bucket']}/corpus-0000.jsonl"
        write_jsonl(
            [
                {
                    "id": row["id"],
                    "text": "文本" if row["lang"] == "zh" else "text",
                    "lang": row["lang"],
                    "format": "story",
                    "audience": "general_public",
                    "token_length": row["completion_tokens"],
                    "finish_reason": "stop",
                    "perplexity": row["perplexity"],
                    "bucket": row["bucket"],
                }
            ],
            path,
        )
        files.setdefault("final", []).append(str(path))
    stats("export", _stats("export", 2, 2, empty))
    cutoffs = r / "stats/perplexity_cutoffs.json"
    write_json({"en": [300.0, 600.0], "zh": [1400.0, 1900.0]}, cutoffs)
    files["perplexity_cutoffs"] = [str(cutoffs)]
    return files


STAGES = ["generate", "langid", "dedup"]


def test_summary_of_a_small_build(tmp_path):
    files = mini_build(tmp_path)
    summary = summarize_workflow(files, STAGES)
    check(summary)
    funnel = {e["stage"]: e for e in summary["funnel"]}
    assert [e["stage"] for e in summary["funnel"]] == [
        "seed",
        "prompts",
        "generate",
        "langid",
        "dedup",
        "export",
    ]
    assert funnel["generate"]["rejected_by_reason"] == {"too_short": 1}
    assert funnel["generate"]["tokens_generated"] == 1003
    assert funnel["generate"]["tokens_rejected"] == 3
    assert funnel["langid"] == {
        "stage": "langid",
        "in": 4,
        "kept": 3,
        "rejected": 1,
        "rejected_by_reason": {"lang_not_kept": 1},
        "tokens_in": 1000,
        "tokens_kept": 600,
        "tokens_rejected": 400,
        "tokens_rejected_by_reason": {"lang_not_kept": 400},
    }
    assert funnel["dedup"]["tokens_rejected_by_reason"] == {"near_duplicate": 300}
    corpus = summary["corpus"]
    assert corpus["documents"] == 2 and corpus["tokens"] == 300
    assert corpus["by_lang_bucket"] == {"en": {"head": 1}, "zh": {"tail": 1}}
    assert corpus["files"] == ["en/head/corpus-0000.jsonl", "zh/tail/corpus-0000.jsonl"]
    assert corpus["format_audience"] == {"story": {"general_public": 2}}
    assert summary["generation"]["finish_reasons"] == {"length": 2, "stop": 3}
    assert summary["perplexity"]["cutoffs"]["zh"] == [1400.0, 1900.0]
    assert summary["perplexity"]["by_lang"]["zh"]["median"] == 900.0
    assert summary["dedup"]["clusters"] == 1 and summary["dedup"]["removed"] == 1
    assert summary["accounting"] == {
        "seed_rows": 6,
        "final_documents": 2,
        "rejected_rows": 4,
        "balanced": True,
    }
    assert summary["stages"]["langid"]["kept_by_lang"] == {"en": 2, "zh": 1}
    assert read_final(files["final"])["lang"].tolist() == ["en", "zh"]
    # blank lines of a seed file are no rows, but the summary says how many there were
    assert summary["seeds"]["default"]["blank_lines"] == 2


def test_a_broken_shard_fails_the_audit_naming_stage_count_and_ids(tmp_path):
    files = mini_build(tmp_path)
    # a language-ID job that silently dropped a document: neither kept nor rejected
    path = files["langid_docs"][0]
    docs = pd.read_parquet(path)
    write_parquet(docs[docs["id"] != "d2"], path)
    summary = summarize_workflow(files, STAGES)
    assert not summary["audit"]["ok"]
    with pytest.raises(AuditError) as caught:
        check(summary)
    message = str(caught.value)
    assert "langid: 1 of 4 ids that entered the stage were neither kept nor rejected, e.g. d2" in (
        message
    )
    assert "dedup: 1 kept or rejected ids never entered the stage, e.g. d2" in message
    assert "langid: the stats JSONs say kept=3, the files hold 2" in message


def test_audit_from_files(tmp_path):
    write_parquet(pd.DataFrame({"id": ["p1", "p2", "p3"]}), tmp_path / "in.parquet")
    write_parquet(
        pd.DataFrame({"id": ["d1", "d2"], "prompt_id": ["p1", "p3"]}), tmp_path / "k.parquet"
    )
    rejects = reject_records(pd.DataFrame({"id": ["p2"]}), "generate", "empty_generation")
    write_parquet(rejects, tmp_path / "r.parquet", schema=REJECT_SCHEMA)
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
