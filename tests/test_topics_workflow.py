"""prompts.topics end to end: one real build (one shard, the default model from the
test cache) over a seed of mixed extracts on four clear topics, two English, two
Chinese, of uneven size (tests/topic_seed.py). The clusters are labelled by the real
engine (vLLM, the small default model): the checks are on structure, not wording."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from topic_seed import SIZES, write_seed
from workflow_util import copy_repo, final_docs, smk

pytestmark = [pytest.mark.workflow, pytest.mark.vllm]

MIN_SCORE = 5


@pytest.fixture(scope="module")
def build(tmp_path_factory, smollm2_dir):
    workdir = copy_repo(tmp_path_factory.mktemp("topics"))
    write_seed(workdir / "seed/mixed.jsonl")
    config = {
        "shards": 1,
        "model": {"name": "smollm2", "source": "local", "path": str(smollm2_dir)},
        "seeds": {
            "mixed": {
                "kind": "extracts",
                "source": {"path": "seed/mixed.jsonl"},
                "columns": {"text": "text", "id": "id", "lang": "lang"},
            }
        },
        "prompts": {"topics": {"enabled": True, "min_score": MIN_SCORE}},
        "generation": {"sampling": {"max_tokens": 48}},
        "quality": {"enabled": False},
        "decontam": {"benchmarks": {}},
    }
    (workdir / "topics.yaml").write_text(yaml.safe_dump(config))
    proc = smk(workdir, "--cores", "2", "--configfile", "topics.yaml")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    return workdir


def read(build, path):
    return json.loads((build / "results" / path).read_text(encoding="utf-8"))


def test_clusters_are_labelled_by_the_engine_or_unlabelled_with_a_reason(build):
    clusters = read(build, "stats/topics/clusters.json")
    # which topics the clusters recover is test_topics' (threads change the last bits)
    assert clusters["clusters"] >= 2 and clusters["device"] == "cpu"
    assert clusters["reduced"] == "pca 5"
    stats = read(build, "stats/topics/topics.json")
    labelled = [c for c in stats["clusters"] if c["cluster"] >= 0]
    assert len(labelled) == clusters["clusters"]
    assert stats["labelled"] + stats["unlabelled"] == clusters["clusters"]
    for entry in labelled:
        assert entry["answer"]  # the engine answered something
        if entry["label_error"] is None:
            assert isinstance(entry["topic"], str) and 0 < len(entry["topic"]) <= 60
            assert 0 <= entry["score"] <= 10
        else:
            assert entry["topic"] is None and entry["score"] is None
            assert "(after 3 attempts)" in entry["label_error"]


def test_low_score_clusters_are_rejected_with_reasons_and_the_rest_balanced(build):
    stats = read(build, "stats/topics/topics.json")
    topics = pd.read_parquet(build / "results/topics/topics.parquet")
    rejected = pd.read_parquet(build / "results/rejected/prompts/0000.parquet")
    prompts = pd.read_parquet(build / "results/prompts/0000.parquet")
    assert len(prompts) + len(rejected) == sum(SIZES.values())
    reasons = rejected.set_index("id")["reason"]
    kept_sizes = []
    for entry in stats["clusters"]:
        members = topics.loc[topics["cluster"] == entry["cluster"], "seed_id"]
        if entry["cluster"] < 0:
            assert set(reasons[members]) == {"topic_noise"}
        elif entry["score"] is not None and entry["score"] < MIN_SCORE:
            assert set(reasons[members]) == {"low_topic_score"}
            details = rejected.set_index("id").loc[members, "detail"]
            assert details.str.startswith(f"cluster {entry['cluster']} (").all()
            assert entry["kept"] == 0
        else:
            assert set(reasons.reindex(members).dropna()) <= {"topic_not_sampled"}
            kept_sizes.append(entry["kept"])
    # uniform with total null: the smallest kept cluster's size from each
    assert len(set(kept_sizes)) <= 1
    assert set(prompts["seed_id"]) == set(topics.loc[topics["keep"], "seed_id"])


def test_the_topic_reaches_the_prompt_the_corpus_the_summary_and_the_card(build):
    stats = read(build, "stats/topics/topics.json")
    kept_topics = {c["topic"] for c in stats["clusters"] if c["kept"] and c["topic"]}
    prompts = pd.read_parquet(build / "results/prompts/0000.parquet")
    named = prompts[prompts["topic"].notna()]
    assert set(named["topic"]) == kept_topics
    assert all(t in p for t, p in zip(named["topic"], named["prompt"], strict=True))
    docs = final_docs(build)
    assert set(docs["topic"].dropna()) <= kept_topics
    summary = read(build, "stats/summary.json")
    assert summary["audit"]["ok"] and summary["accounting"]["balanced"]
    assert [c["cluster"] for c in summary["topics"]["clusters"]] == [
        c["cluster"] for c in stats["clusters"]
    ]
    assert (build / "results/report/topics.png").stat().st_size > 10_000
    card = (build / "results/final/README.md").read_text(encoding="utf-8")
    assert "### Topics" in card
    assert all(topic in card for topic in kept_topics)


def test_nothing_is_left_to_do_and_a_label_setting_reruns_only_from_the_labels(build):
    assert "Nothing to be done" in smk(build, "-n", "--configfile", "topics.yaml").stdout
    config = yaml.safe_load((build / "topics.yaml").read_text())
    config["prompts"]["topics"]["balance"] = "proportional"
    (build / "changed.yaml").write_text(yaml.safe_dump(config))
    proc = smk(build, "-n", "--configfile", "changed.yaml")
    text = proc.stdout + proc.stderr
    assert "topic_labels" in text and "topic_clusters" not in text
