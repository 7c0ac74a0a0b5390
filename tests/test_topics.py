"""Topic clusters (corpusforge.topics): answers parsed, clusters judged and balanced,
decisions applied to the prompts; embeddings and clusters of a seed of four clear
topics (en and zh) with the default model. The engine's labels are checked in the
one workflow build of tests/test_topics_workflow.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score
from topic_seed import SIZES, topic_rows

from corpusforge.engines import failed_output
from corpusforge.prompts import build_prompts as make_prompts
from corpusforge.prompts import load_template_dir
from corpusforge.schema import with_defaults
from corpusforge.topics import NOISE, TopicsError, settings
from corpusforge.topics.cluster import cluster_by_lang, cluster_vectors
from corpusforge.topics.embed import EncoderError, embed_texts
from corpusforge.topics.jobs import cluster_extracts
from corpusforge.topics.label import LabelParseError, label_clusters, label_prompt, parse_answer
from corpusforge.topics.select import quotas, select_extracts, topic_selector

ROOT = Path(__file__).resolve().parents[1]


def topics_cfg(**overrides) -> dict:
    """prompts.topics with the schema's defaults, as the rules hand it over."""
    prompts = with_defaults(
        "prompts",
        {
            "templates": ["x"],
            "formats": ["blogpost"],
            "audiences": ["general_public"],
            "topics": {"enabled": True, **overrides},
        },
    )
    return settings(prompts["topics"])


# ---------------------------------------------------------------- answers


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("Topic: Baking bread\nScore: 7", ("Baking bread", 7.0)),
        (
            '**Topic:** "Planets of the solar system".\n**Score:** 9/10',
            ("Planets of the solar system", 9.0),
        ),
        ('Sure! {"topic": "Football rules", "score": 4}', ("Football rules", 4.0)),
        ("主题：中国茶\n评分：8", ("中国茶", 8.0)),
        ("topic - tea culture\nEducational score: 6.5", ("tea culture", 6.5)),
        (
            "The Topic: **Echoes of the Past**\nI would rate it 4 out of 10.",
            ("Echoes of the Past", 4.0),
        ),
    ],
)
def test_answers_in_several_shapes_are_parsed(answer, expected):
    assert parse_answer(answer) == expected


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("I think these are about bread.", "no `Topic:` line"),
        ("Topic: bread", "no `Score:` line"),
        ("Topic: bread\nScore: 42", "outside 0-10"),
        ("Topic: ***\nScore: 5", "no `Topic:` line"),
        ("Topic: The topic in a few words\nScore: 5", "placeholder"),
    ],
)
def test_malformed_answers_name_what_is_missing(answer, reason):
    with pytest.raises(LabelParseError, match=reason):
        parse_answer(answer)


def test_a_long_topic_is_cut_at_a_word():
    topic, _ = parse_answer("Topic: " + "very " * 30 + "long\nScore: 5", max_topic_chars=20)
    assert len(topic) <= 20 and not topic.endswith(" ")


class ScriptedEngine:
    """An engine answering from a script, per cluster and attempt (the real engine's
    labels are tested in test_topics_workflow): for the retry bookkeeping only."""

    def __init__(self, answers: dict[str, dict]):
        self.answers, self.asked = answers, []

    def generate(self, prompts, prompt_ids):
        self.asked.append(list(prompt_ids))
        return [self.answers[pid] for pid in prompt_ids]


def test_unparsable_answers_are_retried_then_recorded_unlabelled():
    ok = {"text": "Topic: bread\nScore: 8", "error": None}
    bad = {"text": "bread bread bread", "error": None}
    engine = ScriptedEngine(
        {
            "topics-cluster-0-try-0": ok,
            "topics-cluster-1-try-0": bad,
            "topics-cluster-1-try-1": ok,
            "topics-cluster-2-try-0": bad,
            "topics-cluster-2-try-1": failed_output("HTTP 500: boom"),
        }
    )
    cfg = {"example_chars": 100, "retries": 1, "max_topic_chars": 60}
    labels = label_clusters(engine, {0: ["a"], 1: ["b"], 2: ["c"]}, cfg)
    assert engine.asked == [
        ["topics-cluster-0-try-0", "topics-cluster-1-try-0", "topics-cluster-2-try-0"],
        ["topics-cluster-1-try-1", "topics-cluster-2-try-1"],
    ]
    assert labels[0] == {**labels[0], "topic": "bread", "score": 8.0, "attempts": 1, "error": None}
    assert labels[1]["topic"] == "bread" and labels[1]["attempts"] == 2
    assert labels[2]["topic"] is None and labels[2]["score"] is None
    assert labels[2]["error"] == "request failed: HTTP 500: boom (after 2 attempts)"


def test_label_prompt_shows_each_example_cut():
    prompt = label_prompt(["word " * 200, "短文"], 60)
    assert "Extract 1:" in prompt and "Extract 2: 短文" in prompt
    assert "Topic:" in prompt and "Score:" in prompt
    assert len(prompt.split("Extract 1:")[1].split("\n")[0]) < 70


# ---------------------------------------------------------------- selection


def test_uniform_and_proportional_quotas():
    sizes = {0: 14, 1: 8, 2: 8, 3: 6}
    assert quotas(sizes, "uniform", None) == {0: 6, 1: 6, 2: 6, 3: 6}
    assert quotas(sizes, "uniform", 30) == {0: 8, 1: 8, 2: 8, 3: 6}
    assert quotas(sizes, "uniform", 27) == {0: 7, 1: 7, 2: 7, 3: 6}
    assert quotas(sizes, "proportional", None) == sizes
    assert quotas(sizes, "proportional", 18) == {0: 7, 1: 4, 2: 4, 3: 3}
    assert sum(quotas(sizes, "proportional", 17).values()) == 17
    assert quotas(sizes, "uniform", 1000) == sizes


def assigned_frame() -> pd.DataFrame:
    rows = topic_rows()
    clusters = {"bread": 0, "planets": 1, "football": 2, "tea": 3}
    frame = pd.DataFrame(
        {
            "seed_id": [r["id"] for r in rows],
            "lang": [r["lang"] for r in rows],
            "cluster": [clusters[r["truth"]] for r in rows],
        }
    )
    frame.loc[frame["seed_id"] == "bread-13", "cluster"] = NOISE
    return frame


LABELS = {
    0: {"topic": "Baking bread", "score": 6.0, "error": None},
    1: {"topic": "Planets", "score": 9.0, "error": None},
    2: {"topic": "Football", "score": 2.0, "error": None},
    3: {"topic": None, "score": None, "error": "unparsable answer: no `Topic:` line"},
}


def test_low_score_clusters_and_noise_are_dropped_and_the_rest_balanced():
    topics, clusters = select_extracts(assigned_frame(), LABELS, topics_cfg())
    by_reason = topics.groupby(topics["reason"].fillna("kept"))["seed_id"].count().to_dict()
    # bread 13 clustered, planets 8, tea 6 (unlabelled: kept, not judged): 6 each
    assert by_reason == {"kept": 18, "low_topic_score": 8, "topic_noise": 1, "topic_not_sampled": 9}
    kept = topics[topics["keep"]]
    assert kept.groupby("cluster").size().to_dict() == {0: 6, 1: 6, 3: 6}
    low = topics[topics["reason"] == "low_topic_score"]
    assert set(low["detail"]) == {"cluster 2 ('Football'): score 2 < min_score 3"}
    assert set(topics.loc[topics["cluster"] == 3, "topic"].dropna()) == set()
    summary = {c["cluster"]: c for c in clusters}
    assert summary[2]["kept"] == 0 and summary[2]["score"] == 2.0
    assert summary[3]["label_error"].startswith("unparsable")
    assert summary[NOISE]["size"] == 1
    # seeded: the same extracts every time, others with another seed
    again, _ = select_extracts(
        assigned_frame().sample(frac=1, random_state=1), LABELS, topics_cfg()
    )
    assert again.equals(topics)
    other, _ = select_extracts(assigned_frame(), LABELS, topics_cfg(seed=5))
    assert set(other.loc[other["keep"], "seed_id"]) != set(kept["seed_id"])


def test_noise_kept_and_proportional_keep_every_judged_extract():
    cfg = topics_cfg(noise="keep", balance="proportional", min_score=None)
    topics, _ = select_extracts(assigned_frame(), LABELS, cfg)
    assert topics["keep"].all()


def test_the_prompts_stage_rejects_dropped_extracts_and_names_the_topic():
    rows = topic_rows()
    seeds = pd.DataFrame(
        {
            "id": [r["id"] for r in rows],
            "seed_id": [r["id"] for r in rows],
            "source": "mixed",
            "row": range(1, len(rows) + 1),
            "kind": "extracts",
            "text": [r["text"] for r in rows],
            "lang": [r["lang"] for r in rows],
            "topic": None,
        }
    )
    topics, _ = select_extracts(assigned_frame(), LABELS, topics_cfg())
    templates = load_template_dir(
        [ROOT / "config/templates/en.yaml", ROOT / "config/templates/zh.yaml"]
    )
    cfg = {
        "formats": ["blogpost"],
        "audiences": ["general_public"],
        "max_extract_chars": 400,
        "topic_hint_rate": 0.0,
        "seed": 0,
    }
    prompts, rejects, stats = make_prompts(seeds, templates, cfg, topics=topic_selector(topics))
    assert len(prompts) + len(rejects) == len(seeds)
    assert set(rejects["reason"]) == {"low_topic_score", "topic_noise", "topic_not_sampled"}
    assert (rejects["stage"] == "prompts").all()
    assert stats["rejected_by_reason"]["low_topic_score"] == 8
    assert stats["topics"]["topics"] == {"Baking bread": 6, "Planets": 6}
    named = prompts[prompts["topic"].notna()]
    assert len(named) == 12  # topic_hint_rate 0: only the cluster labels are named
    assert all(t in p for t, p in zip(named["topic"], named["prompt"], strict=True))
    stale = topic_selector(topics[topics["seed_id"] != "tea-00"])
    with pytest.raises(TopicsError, match="1 extracts have no topic decision"):
        stale(seeds)


# ---------------------------------------------------------------- embeddings, clusters


@pytest.fixture(scope="module")
def seed_extracts() -> pd.DataFrame:
    rows = topic_rows()
    frame = pd.DataFrame(rows).rename(columns={"id": "seed_id"})
    return frame.sort_values("seed_id").reset_index(drop=True)


@pytest.fixture(scope="module")
def clustered(seed_extracts, smollm2_dir):
    return cluster_extracts(seed_extracts, topics_cfg(), str(smollm2_dir), threads=1, gpus=0)


def test_clusters_recover_the_topics_of_the_seed(clustered, seed_extracts):
    frame, stats = clustered
    truth = seed_extracts.set_index("seed_id")["truth"]
    found = frame.set_index("seed_id")["cluster"]
    clustered_rows = found[found != NOISE]
    assert stats["clusters"] == len(SIZES) and stats["device"] == "cpu"
    assert stats["noise"] <= 3
    assert adjusted_rand_score(truth[clustered_rows.index], clustered_rows) > 0.9
    # every found cluster is one topic, one language
    for _, group in frame[frame["cluster"] != NOISE].groupby("cluster"):
        assert truth[group["seed_id"]].nunique() == 1 and group["lang"].nunique() == 1


def test_two_runs_give_identical_clusters(clustered, seed_extracts, smollm2_dir):
    shuffled = seed_extracts.sample(frac=1, random_state=3).sort_values("seed_id")
    again, _ = cluster_extracts(shuffled, topics_cfg(), str(smollm2_dir), threads=1, gpus=0)
    assert again.equals(clustered[0])


def test_kmeans_gives_the_clusters_asked_for_seeded(seed_extracts):
    vectors = np.random.default_rng(0).normal(size=(len(seed_extracts), 8))
    cfg = topics_cfg(cluster={"algorithm": "kmeans", "n_clusters": 3})["cluster"]
    labels, _ = cluster_vectors(vectors, seed_extracts["seed_id"].tolist(), cfg)
    assert set(labels) == {0, 1, 2}
    assert (cluster_vectors(vectors, seed_extracts["seed_id"].tolist(), cfg)[0] == labels).all()


def test_a_seed_too_small_to_cluster_is_one_cluster_with_a_note():
    cfg = topics_cfg()["cluster"]
    labels, described = cluster_vectors(np.eye(5, dtype=np.float32), list("abcde"), cfg)
    assert labels.tolist() == [0] * 5
    assert "5 extracts are too few to cluster with hdbscan (at least 8 needed" in described["note"]


def test_an_encoder_that_cannot_be_loaded_is_named(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(EncoderError, match=f"cannot load the model folder {tmp_path}"):
        embed_texts(["text"], topics_cfg()["encoder"], str(tmp_path))
    encoder = topics_cfg(encoder={"kind": "sentence_transformers", "path": str(tmp_path)})[
        "encoder"
    ]
    with pytest.raises(EncoderError, match=r"prompts\.topics\.encoder"):
        embed_texts(["text"], encoder)


def test_a_sentence_transformers_encoder_needs_a_pinned_revision():
    with pytest.raises(TopicsError, match="repo_id` \\+ `revision"):
        topics_cfg(encoder={"kind": "sentence_transformers", "repo_id": "x/y"})


def test_each_language_is_clustered_apart_a_small_one_as_one_cluster():
    rng = np.random.default_rng(0)
    vectors = np.vstack(
        [
            rng.normal(0, 0.1, (10, 16)) + 5,
            rng.normal(0, 0.1, (10, 16)) - 5,
            rng.normal(size=(3, 16)),
        ]
    )
    keys, langs = [f"{i:03d}" for i in range(23)], ["en"] * 20 + ["zh"] * 3
    labels, described = cluster_by_lang(vectors, keys, langs, topics_cfg()["cluster"])
    assert labels.tolist() == [0] * 10 + [1] * 10 + [2] * 3
    assert described["notes"] == [
        "zh: 3 extracts are too few to cluster with hdbscan (at least 8 needed: "
        "prompts.topics.cluster); all in one cluster"
    ]
    # all together, the three zh extracts are too few for a cluster of their own: noise
    # or in an English cluster
    together, _ = cluster_by_lang(
        vectors, keys, langs, topics_cfg(cluster={"by_lang": False})["cluster"]
    )
    assert set(together[20:].tolist()) <= {NOISE, *together[:20].tolist()}
