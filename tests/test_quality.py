"""Model-based quality stage: both engines for real, training, thresholds, seed choice.

- the schema fills the section's defaults (corpusforge.schema, as the workflow's validate does);
- fastText classifiers trained from the shipped references: twice -> the same bytes,
  and they tell textbook prose from spam and garbled text;
- the stage step: scores, labels, ``low_quality`` and ``no_quality_model`` rejections
  with the score and bound, stats that add up;
- a given fastText model with other labels (DCLM's hq / cc style);
- ``prompts.seed_quality``: threshold and score-weighted sampling through build_prompts;
- the hf engine on tiny BERT classifiers this test creates (regression and labels),
  loaded from a folder and downloaded from a fake Hub on 127.0.0.1 by the project's
  download code, batched scores equal one-by-one scores.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from workflow_util import assert_lint_clean, copy_repo, planned_jobs, refused, smk

from corpusforge.prompts import build_prompts, load_template_dir
from corpusforge.quality import (
    QualityError,
    QualityStage,
    load_scorer,
    select_seeds,
    settings,
    train_from_references,
)
from corpusforge.quality.fasttext_model import prepare_line, train_in_fresh_process
from corpusforge.quality.jobs import seed_selector
from corpusforge.schema import full_config

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = yaml.safe_load((ROOT / "config/config.yaml").read_text())

GOOD_EN = (
    "A fraction names a part of a whole. The bottom number says how many equal parts the "
    "whole was cut into, and the top number says how many of those parts are meant. Two "
    "fractions are equal when they name the same amount on the number line."
)
SPAM_EN = (
    "Home | Shop | Cart (0) | Login\nbest cheap watches online buy watches now discount "
    "watches free shipping\nCLICK HERE to win a FREE phone!!! Limited time offer, act now!!!"
)
GOOD_ZH = (
    "水在自然界中不断循环。太阳把海洋和湖泊中的水加热，一部分水蒸发成水蒸气进入空气。"
    "水蒸气上升后遇冷凝结成小水滴，形成云，再变成雨或雪落回地面。"
)
SPAM_ZH = (
    "首页 | 联系我们 | 购物车\n代开发票 联系电话13800000000 诚信经营\n"
    "免费领取手机壳！！！限时优惠，马上抢购！！！"
)


def validated(overrides: dict | None = None, prompts: dict | None = None) -> dict:
    """The default config with changes, validated: schema defaults filled in."""
    config = copy.deepcopy(DEFAULT)
    config["quality"] = {**config["quality"], **(overrides or {})}
    config["prompts"].update(prompts or {})
    return full_config(config)


def quality_cfg(**overrides) -> dict:
    return settings(validated(overrides)["quality"])


def references(lang: str, group: str) -> list[tuple[str, str, str]]:
    return [(str(ROOT / f"resources/quality/{lang}.{group}.txt"), "auto", "text")]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    """The default en and zh classifiers, trained from the shipped references."""
    folder = tmp_path_factory.mktemp("quality")
    cfg = quality_cfg()
    models = {}
    for lang in ("en", "zh"):
        models[lang] = folder / f"{lang}.bin"
        meta = train_from_references(
            lang, references(lang, "positive"), references(lang, "negative"), models[lang], cfg
        )
        (folder / f"{lang}.json").write_text(json.dumps(meta))
    return models


# ---------------------------------------------------------------- config


def test_schema_fills_defaults_and_settings_check_ranges():
    config = validated({"min_score": None})
    q = config["quality"]
    assert q["enabled"] is True and q["engine"] == "fasttext" and q["unscored"] == "keep"
    assert q["fasttext"]["training"] == {
        "epoch": 20,
        "lr": 0.5,
        "word_ngrams": 2,
        "dim": 32,
        "min_count": 1,
        "bucket": 100000,
        "loss": "softmax",
        "seed": 0,
        "heldout_fraction": 0.1,
    }
    assert q["fasttext"]["models"]["en"]["label"] == "hq"
    assert q["hf"]["score"] == "regression" and q["hf"]["device"] == "auto"
    assert config["prompts"]["seed_quality"]["mode"] == "none"
    assert settings(q)["scale"] == 1.0
    with pytest.raises(QualityError, match=r"quality.min_score_by_lang.en"):
        settings({**q, "min_score_by_lang": {"en": 3}})  # fastText scores are in [0, 1]
    hf = {**q, "engine": "hf", "hf": {**q["hf"], "path": "x", "score": "label"}}
    with pytest.raises(QualityError, match=r"quality.hf.label"):
        settings(hf)
    with pytest.raises(QualityError, match="repo_id"):
        settings({**q, "engine": "hf"})


# ---------------------------------------------------------------- fastText engine


def test_training_is_deterministic_and_separates_the_classes(trained, tmp_path):
    cfg = quality_cfg()
    again = tmp_path / "en.bin"
    meta = train_from_references(
        "en", references("en", "positive"), references("en", "negative"), again, cfg
    )
    assert again.read_bytes() == trained["en"].read_bytes()  # same bytes on a second run
    first = json.loads(trained["en"].with_suffix(".json").read_text())
    assert meta == first and meta["counts"]["positive"] > 100 and meta["counts"]["negative"] > 100
    assert meta["heldout_accuracy"] >= 0.7
    zh_meta = json.loads(trained["zh"].with_suffix(".json").read_text())
    assert zh_meta["split_cjk"] is True and zh_meta["heldout_accuracy"] >= 0.8
    scorer = load_scorer(cfg, {k: str(v) for k, v in trained.items()})
    scores, labels, _ = scorer.score_texts(
        [GOOD_EN, SPAM_EN, GOOD_ZH, SPAM_ZH], ["en", "en", "zh", "zh"]
    )
    assert scores[0] > 0.5 > scores[1] and scores[2] > 0.5 > scores[3], scores
    assert labels == ["hq", "lq", "hq", "lq"]


def test_cjk_text_is_split_into_characters_for_fasttext():
    assert prepare_line("Linux 系统\n很好", True, True, None) == "linux 系 统 很 好"
    assert prepare_line("Linux 系统\n很好", False, False, 10) == "Linux 系统 很"


def test_stage_rejects_below_the_bound_and_counts_every_document(trained):
    cfg = quality_cfg(min_score=0.5, min_score_by_lang={"zh": 0.2})
    docs = pd.DataFrame(
        {
            "id": [f"{i:016x}" for i in range(5)],
            "seed_id": [f"s{i}" for i in range(5)],
            "text": [GOOD_EN, SPAM_EN, GOOD_ZH, SPAM_ZH, "Bonjour, ceci est un texte."],
            "lang": ["en", "en", "zh", "zh", "fr"],
        }
    )
    models = {k: str(v) for k, v in trained.items()}
    kept, rejects, stats = QualityStage(cfg, {"models": models})(docs)
    assert list(rejects["reason"]) == ["low_quality"] * (1 + (rejects["id"] == docs["id"][3]).sum())
    assert docs["id"][1] in set(rejects["id"]) and docs["id"][0] in set(kept["id"])
    spam = rejects.set_index("id").loc[docs["id"][1]]
    assert spam["stage"] == "quality" and spam["detail"].endswith("< 0.5 (en)")
    assert len(kept) + len(rejects) == 5 and stats["in"] == 5
    french = kept[kept["lang"] == "fr"].iloc[0]
    assert np.isnan(french["quality_score"]) and french["quality_label"] is None  # unscored, kept
    assert kept[kept["lang"] == "en"]["quality_label"].tolist() == ["hq"]
    assert stats["unscored"] == 1 and stats["engine"] == "fasttext"
    assert stats["by_lang"]["en"]["min_score"] == 0.5 and stats["by_lang"]["zh"]["min_score"] == 0.2
    assert sum(stats["by_lang"]["en"]["score_hist"]) == 2 and "fr" not in stats["by_lang"]
    assert stats["by_lang"]["en"]["rejected"] == 1
    assert len(stats["score_edges"]) == len(stats["by_lang"]["en"]["score_hist"]) + 1
    assert set(stats["models"]) == {"en", "zh"} and stats["models"]["en"]["kind"] == "trained"
    # unscored: drop rejects the language without a model, by name
    drop = quality_cfg(min_score=None, unscored="drop")
    kept, rejects, _ = QualityStage(drop, {"models": models})(docs)
    assert list(rejects["reason"]) == ["no_quality_model"] and "'fr'" in rejects["detail"][0]
    assert len(kept) == 4


def test_given_model_with_other_labels(tmp_path, trained):
    """A given model (like DCLM's, labels hq / cc): its positive label is configured."""
    data = tmp_path / "train.txt"
    lines = [f"__label__hq {prepare_line(GOOD_EN, True, False, None)}"] * 20
    lines += [f"__label__cc {prepare_line(SPAM_EN, True, False, None)}"] * 20
    data.write_text("\n".join(lines) + "\n")
    path = tmp_path / "given.bin"
    train_in_fresh_process({"input": str(data), "epoch": 5, "thread": 1, "verbose": 0}, path)
    models = {"en": {"model": {"path": str(path)}, "label": "hq"}}
    cfg = quality_cfg(fasttext={"models": models})
    scorer = load_scorer(cfg, {"en": str(path)})
    scores, labels, _ = scorer.score_texts([GOOD_EN, SPAM_EN], ["en", "en"])
    assert scores[0] > scores[1] and labels == ["hq", "cc"]
    assert scorer.description["models"]["en"]["kind"] == "given"
    bad = quality_cfg(fasttext={"models": {"en": {**models["en"], "label": "good"}}})
    with pytest.raises(ValueError, match=r"no label 'good'.*'cc'"):
        load_scorer(bad, {"en": str(path)})


# ---------------------------------------------------------------- seeds for generation


def seeds_frame() -> pd.DataFrame:
    rows = [json.loads(line) for line in (ROOT / "resources/seed/extracts.jsonl").open()]
    rows += [
        {"id": "spam-en", "lang": "en", "text": SPAM_EN},
        {"id": "spam-zh", "lang": "zh", "text": SPAM_ZH},
    ]
    frame = pd.DataFrame(rows)
    frame["seed_id"] = frame["id"]
    frame["kind"] = "extracts"
    frame["source"] = "default"
    frame["row"] = range(1, len(frame) + 1)
    ready = {"id": "ready", "seed_id": "ready", "kind": "prompts", "text": "Write a poem."}
    return pd.concat([frame, pd.DataFrame([{**ready, "lang": "en", "source": "x"}])])


def test_seed_quality_threshold_through_build_prompts(trained):
    config = validated(prompts={"seed_quality": {"mode": "threshold", "min_score": 0.5}})
    models = {k: str(v) for k, v in trained.items()}
    select = seed_selector(config["prompts"]["seed_quality"], config["quality"], models)
    seeds = seeds_frame()
    templates = load_template_dir([ROOT / p for p in config["prompts"]["templates"]])
    prompts, rejects, stats = build_prompts(seeds, templates, config["prompts"], select)
    low = rejects[rejects["reason"] == "low_seed_quality"]
    assert set(low["id"]) >= {"spam-en", "spam-zh"}
    assert len(prompts) + len(rejects) == len(seeds) == stats["in"]  # every row accounted for
    assert stats["rejected_by_reason"]["low_seed_quality"] == len(low)
    assert "ready" in set(prompts["seed_id"])  # ready prompts are not scored
    sq = stats["seed_quality"]
    assert sq["mode"] == "threshold" and sq["scored"] == len(seeds) - 1
    assert sum(v["rejected"] for v in sq["by_lang"].values()) == len(low)
    assert seed_selector({"mode": "none"}, config["quality"], models) is None


def test_seed_quality_weighted_sampling_prefers_high_scores(trained):
    cfg = quality_cfg()
    scorer = load_scorer(cfg, {k: str(v) for k, v in trained.items()})
    seeds = seeds_frame()
    # many copies of one good and one spam extract: a weighted sample keeps more good ones
    many = pd.DataFrame(
        [
            {"id": f"{kind}{i}", "seed_id": f"{kind}{i}", "lang": "en", "kind": "extracts",
             "text": text, "source": "t", "row": i}
            for kind, text in (("good", GOOD_EN), ("spam", SPAM_EN))
            for i in range(100)
        ]
    )  # fmt: skip
    weighted = {"mode": "weighted", "fraction": 0.5, "seed": 3}
    kept, rejects, stats = select_seeds(many, scorer, weighted, 1.0, "prompts")
    assert len(kept) == 100 and set(rejects["reason"]) == {"seed_quality_not_sampled"}
    assert kept["id"].str.startswith("good").sum() > 70
    again, _, _ = select_seeds(many, scorer, weighted, 1.0, "prompts")
    assert again["id"].tolist() == kept["id"].tolist()  # the same rows on every run
    kept, rejects, stats = select_seeds(seeds, scorer, weighted, 1.0, "prompts")
    other, _, _ = select_seeds(seeds, scorer, {**weighted, "seed": 4}, 1.0, "prompts")
    assert other["id"].tolist() != kept["id"].tolist()  # a sample, not a ranking
    n_en = int(((seeds["lang"] == "en") & (seeds["kind"] == "extracts")).sum())
    assert (kept["lang"] == "en").sum() == int(np.ceil(n_en / 2)) + 1  # + the ready prompt
    assert stats["kept"] == len(kept)


# ---------------------------------------------------------------- hf engine

WORDS = [
    "the",
    "a",
    "fraction",
    "names",
    "part",
    "of",
    "whole",
    "water",
    "cycle",
    "sun",
    "rain",
    "click",
    "here",
    "free",
    "buy",
    "now",
    "cheap",
    "best",
    "offer",
    "deal",
    "spam",
    "home",
    "cart",
    "login",
]


def make_tiny_classifier(folder: Path, num_labels: int) -> Path:
    """A tiny BERT sequence classifier and a word-level tokenizer, saved like a real model."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *WORDS])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        model_max_length=64,
    )
    labels = {0: "score"} if num_labels == 1 else {0: "low", 1: "high", 2: "mid"}
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        num_labels=num_labels,
        id2label=labels,
        label2id={v: k for k, v in labels.items()},
    )
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    with torch.no_grad():  # a regression head with outputs spread over 0-5
        model.classifier.bias.fill_(2.5)
        model.classifier.weight.mul_(20)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def hf_cfg(path: str, **hf) -> dict:
    return quality_cfg(engine="hf", hf={"path": path, "batch_size": 4, **hf})


TEXTS = [GOOD_EN, SPAM_EN, "the sun", "", "click here buy now " * 40, "water cycle rain", None]


def test_hf_regression_scores_batched_on_the_cpu(tmp_path, caplog):
    folder = make_tiny_classifier(tmp_path / "reg", 1)
    cfg = hf_cfg(str(folder), max_score=5, max_length=32)
    with caplog.at_level(logging.INFO, logger="corpusforge.quality"):
        scorer = load_scorer(cfg, str(folder))
    assert "on the CPU" in caplog.text  # the device is always logged
    scores, labels, _ = scorer.score_texts(TEXTS, ["en"] * len(TEXTS))
    assert np.all((scores >= 0) & (scores <= 5)) and len(set(scores.tolist())) > 3
    assert labels == [None] * len(TEXTS)
    one = load_scorer(hf_cfg(str(folder), batch_size=1, max_length=32), str(folder))
    alone, _, _ = one.score_texts(TEXTS, ["en"] * len(TEXTS))
    np.testing.assert_allclose(alone, scores, atol=2e-4)  # padding does not change a score
    assert scorer.description["model"]["device"] == "cpu"
    docs = pd.DataFrame({"id": ["a", "b"], "text": [GOOD_EN, SPAM_EN], "lang": ["en", "de"]})
    stage = QualityStage({**cfg, "min_score": 5.0}, {"models": str(folder)})
    _kept, rejects, stats = stage(docs)
    assert len(rejects) == 2 - (scores[:2] >= 5).sum() and stats["score_edges"][-1] == 5.0
    with pytest.raises(Exception, match="regression needs a model with one output"):
        load_scorer(hf_cfg(str(make_tiny_classifier(tmp_path / "cls", 3)), max_length=32),
                    str(tmp_path / "cls"))  # fmt: skip


def test_hf_label_probability_and_languages(tmp_path):
    folder = make_tiny_classifier(tmp_path / "cls", 3)
    cfg = hf_cfg(str(folder), score="label", label="high", languages=["en"], max_length=32)
    scorer = load_scorer(cfg, str(folder))
    scores, labels, targets = scorer.score_texts([*TEXTS[:3], GOOD_EN], ["en", "en", "en", "fr"])
    assert np.all((scores[:3] > 0) & (scores[:3] < 1)) and np.isnan(scores[3])
    assert set(labels[:3]) <= {"low", "high", "mid"} and labels[3] is None
    assert targets == ["en", "en", "en", None]
    with pytest.raises(Exception, match=r"'best' is not a label"):
        load_scorer({**cfg, "hf": {**cfg["hf"], "label": "best"}}, str(folder))


def test_hf_model_downloaded_from_a_fake_hub_scores_like_the_local_folder(tmp_path):
    """rule prepare_quality_model's code path (corpusforge.model.download_hf) against a
    fake Hugging Face endpoint on 127.0.0.1, then the same loader as a local folder."""
    from test_generate import HF_COMMIT, HF_REPO, FakeHub

    local = make_tiny_classifier(tmp_path / "local", 1)
    hub = FakeHub({p.name: p.read_bytes() for p in sorted(local.iterdir())})
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.pop("HF_HUB_OFFLINE", None)
    env.update(HF_ENDPOINT=hub.endpoint, HF_HOME=str(tmp_path / "hf-home"),
               HF_HUB_DISABLE_TELEMETRY="1", PYTHONPATH=str(ROOT / "src"))  # fmt: skip
    dest = tmp_path / "results" / "models-quality" / "hf"
    code = (
        "import sys; from pathlib import Path; from corpusforge.model import download_hf; "
        "download_hf(sys.argv[1], sys.argv[2], Path(sys.argv[3]))"
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, HF_REPO, HF_COMMIT, str(dest)],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        hub.stop()
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert all(HF_COMMIT in path for _, path, _ in hub.seen)
    cfg = quality_cfg(engine="hf", hf={"repo_id": HF_REPO, "revision": HF_COMMIT, "max_length": 32})
    downloaded, _, _ = load_scorer(cfg, str(dest)).score_texts(TEXTS, ["en"] * len(TEXTS))
    from_folder, _, _ = load_scorer(hf_cfg(str(local), max_length=32), str(local)).score_texts(
        TEXTS, ["en"] * len(TEXTS)
    )
    np.testing.assert_array_equal(downloaded, from_folder)


# ---------------------------------------------------------------- report


def test_report_figure_and_card_name_the_model_and_bounds(trained, tmp_path):
    from corpusforge.report.card_sections import stage_lines
    from corpusforge.report.plots import draw_plot, plot_names
    from corpusforge.stats import aggregate

    cfg = quality_cfg(min_score=0.5, min_score_by_lang={"zh": 0.3})
    step = QualityStage(cfg, {"models": {k: str(v) for k, v in trained.items()}})
    shards = [
        step(pd.DataFrame({"id": ["a", "b"], "text": [GOOD_EN, SPAM_EN], "lang": ["en", "en"]})),
        step(pd.DataFrame({"id": ["c", "d"], "text": [GOOD_ZH, SPAM_EN], "lang": ["zh", "en"]})),
    ]
    merged = aggregate([stats for _, _, stats in shards])
    assert (
        sum(merged["by_lang"]["en"]["score_hist"]) == 3 and merged["by_lang"]["en"]["rejected"] == 2
    )
    assert merged["by_lang"]["zh"]["min_score"] == 0.3 and merged["engine"] == "fasttext"
    summary = {"stages": {"quality": merged}, "funnel": []}
    assert "quality" in plot_names(["generate", "langid", "quality"])
    draw_plot("quality", summary, pd.DataFrame(), tmp_path / "quality.png")
    assert (tmp_path / "quality.png").read_bytes()[:4] == b"\x89PNG"
    card = "\n".join(stage_lines(summary, {}, "quality"))
    sha = merged["models"]["en"]["sha256"]
    assert "fastText (en: trained, zh: trained)" in card and sha in card
    assert "| en | 3 |" in card and "| 0.5 | 2 |" in card and "| 0.3 | 0 |" in card


def test_layout_places_trained_given_and_downloaded_files():
    from corpusforge.quality.layout import QualityLayout

    models = {
        "en": {"model": {"url": "https://example.org/m/dclm.bin?x=1", "sha256": "a" * 64}},
        "zh": {
            "positive": [{"source": {"path": "p.txt"}}],
            "negative": [
                {"source": {"path": "n.txt"}},
                {"source": {"hf": {"repo_id": "o/d", "filename": "x/n.parquet", "revision": "r"}}},
            ],
        },
    }
    section = validated({"fasttext": {"models": models}})["quality"]
    ql = QualityLayout(section, lambda path: f"res/{path}")
    assert ql.trained == ["zh"] and ql.trained_pattern() == "zh"
    assert ql.model_paths() == {
        "en": "res/quality/downloads/en/model/dclm.bin",
        "zh": "res/quality/zh/zh.bin",
    }
    assert ql.references("zh", "negative") == [
        "n.txt",
        "res/quality/downloads/zh/negative1/n.parquet",
    ]
    training = ql.training("zh")
    assert training["formats"]["negative"] == [["auto", "text"], ["auto", "text"]]
    assert "min_score" not in ql.scorer_settings() and ql.settings()["min_score"] == 0.5


# ---------------------------------------------------------------- quality.buckets

BUCKETS = {"percentiles": [30, 60], "names": ["low", "middle", "high"], "min_docs": 20}


def reference_docs(name: str, count: int) -> list[str]:
    text = (ROOT / f"resources/quality/{name}.txt").read_text(encoding="utf-8")
    return [d.strip() for d in text.split("\n\n") if d.strip()][:count]


def test_bucket_cutoffs_per_language_from_known_scores():
    from corpusforge.quality.buckets import gather_cutoffs, scores_by_language

    en = [i / 10 for i in range(11)]  # 0.0 .. 1.0: the 30th / 60th percentiles are 0.3 / 0.6
    zh = [0.12345, 0.5, 0.9, 0.9]  # linear between 0.12345 and 0.5 at 0.9 of the way
    frame = pd.DataFrame(
        {
            "lang": ["en"] * 11 + ["zh"] * 4 + ["fr", "fr", None],
            "prompt_lang": [None] * 17 + ["de"],  # no lang: the prompt's language
            "quality_score": en + zh + [0.7, np.nan, 0.2],
        }
    )
    scores = scores_by_language([frame])
    assert scores["fr"] == [0.7] and scores["de"] == [0.2]  # NaN scores are left out
    cutoffs = gather_cutoffs(scores, {**BUCKETS, "min_docs": 4})
    langs = cutoffs["languages"]
    assert langs["en"] == {"docs": 11, "cutoffs": [0.3, 0.6]}
    expected_zh = 0.12345 + 0.9 * (0.5 - 0.12345)  # rank 0.3 * 3 = 0.9 between ranks 0 and 1
    assert langs["zh"]["cutoffs"] == [round(expected_zh, 4), 0.82]  # rank 1.8: 0.5 + 0.8 * 0.4
    # too few documents (min_docs 4): no cutoffs, the language's documents stay unbucketed
    assert langs["fr"] == {"docs": 1, "cutoffs": None} and langs["de"]["cutoffs"] is None
    assert cutoffs["names"] == ["low", "middle", "high"] and cutoffs["method"] == "linear"
    # deterministic: the same scores split over shards in another order give the same cutoffs
    shuffled = frame.sample(frac=1.0, random_state=3)
    parts = [shuffled.iloc[:7], shuffled.iloc[7:]]
    again = gather_cutoffs(scores_by_language(parts), {**BUCKETS, "min_docs": 4})
    assert json.dumps(again, sort_keys=True) == json.dumps(cutoffs, sort_keys=True)
    # the whole stage's default: 20 documents a language
    assert all(e["cutoffs"] is None for e in gather_cutoffs(scores, BUCKETS)["languages"].values())


def test_bucket_assignment_at_the_boundaries():
    from corpusforge.quality.buckets import UNBUCKETED, assign_buckets, bucket_of

    names = ["low", "middle", "high"]
    scores = np.array([0.0, 0.2999, 0.3, 0.5999, 0.6, 1.0])
    # a score equal to a cutoff goes to the bucket above it
    assert bucket_of(scores, [0.3, 0.6], names).tolist() == [
        "low",
        "low",
        "middle",
        "middle",
        "high",
        "high",
    ]
    # equal cutoffs leave the middle bucket empty; one cutoff makes two buckets
    assert bucket_of(np.array([0.4, 0.5]), [0.5, 0.5], names).tolist() == ["low", "high"]
    assert bucket_of(np.array([0.1, 0.9]), [0.5], ["lq", "hq"]).tolist() == ["lq", "hq"]
    cutoffs = {
        "names": names,
        "languages": {
            "en": {"docs": 30, "cutoffs": [0.3, 0.6]},
            "zh": {"docs": 2, "cutoffs": None},
        },
    }
    docs = pd.DataFrame(
        {
            "id": list("abcde"),
            "lang": ["en", "en", "zh", "en", "fr"],
            "quality_score": [0.3, 0.6, 0.9, np.nan, 0.5],
        }
    )
    out, counts = assign_buckets(docs, cutoffs)
    assert out["quality_bucket"].tolist() == ["middle", "high", *[UNBUCKETED] * 3]
    assert counts == {
        "en": {"high": 1, "middle": 1, UNBUCKETED: 1},
        "fr": {UNBUCKETED: 1},
        "zh": {UNBUCKETED: 1},
    }


def test_bucket_config_is_validated_naming_the_key():
    import jsonschema

    assert validated()["quality"]["buckets"] is None  # off by default
    assert validated({"buckets": {}})["quality"]["buckets"] == BUCKETS  # the schema's defaults
    for wrong, path in [
        ({"percentiles": [30, 160]}, ["quality", "buckets", "percentiles", 1]),
        ({"names": ["only"]}, ["quality", "buckets", "names"]),
        ({"min_docs": 0}, ["quality", "buckets", "min_docs"]),
        ({"percentile": [50]}, ["quality", "buckets"]),  # a misspelt key
        (5, ["quality", "buckets"]),
    ]:
        with pytest.raises(jsonschema.ValidationError) as caught:
            validated({"buckets": wrong})
        assert list(caught.value.absolute_path) == path, caught.value.message
    for wrong, message in [
        ({"percentiles": [60, 30]}, r"quality.buckets.percentiles: \[60, 30\] must increase"),
        ({"percentiles": [50]}, r"quality.buckets.names: 3 names for 1 percentiles"),
        ({"names": ["low", "low", "high"]}, "quality.buckets.names"),
        ({"names": ["low", "unbucketed", "high"]}, "quality.buckets.names"),
    ]:
        with pytest.raises(QualityError, match=message):
            quality_cfg(buckets=wrong)


def test_bucket_jobs_end_to_end_on_two_shards(trained, tmp_path):
    """Score two shards (the quality rule's job with buckets on), gather the cutoffs,
    bucket each shard; export and the audit see every document once."""
    from corpusforge.export import export_shard
    from corpusforge.io import read_json, read_parquet, run_doc_stage, write_json, write_parquet
    from corpusforge.quality.buckets import bucket_shard, write_cutoffs
    from corpusforge.records import REJECT_SCHEMA, reject_records, stage_stats
    from corpusforge.report.card_sections import stage_lines
    from corpusforge.stats import summarize_workflow

    texts = reference_docs("en.positive", 14) + reference_docs("en.negative", 14)
    texts += reference_docs("zh.positive", 2) + reference_docs("zh.negative", 2)
    langs = ["en"] * 28 + ["zh"] * 4
    texts.append("Bonjour, ceci est un texte.")  # no model: kept, unscored, unbucketed
    langs.append("fr")
    n = len(texts)
    docs = pd.DataFrame(
        {
            "id": [f"{i:016x}" for i in range(n)],
            "seed_id": [f"{i:016x}" for i in range(n)],
            "text": texts,
            "lang": langs,
        }
    )
    cfg = quality_cfg(min_score=0.3, buckets={**BUCKETS, "min_docs": 10})
    step = QualityStage(cfg, {"models": {k: str(v) for k, v in trained.items()}})
    r = tmp_path / "results"
    seeds = r / "seed/default.parquet"
    write_parquet(docs[["id", "seed_id"]], seeds)
    write_json({"source": "default", "in": n, "kept": n, "rejected": 0}, r / "stats/seed/s.json")
    files: dict[str, list[str]] = {
        "seed_stats": [str(r / "stats/seed/s.json")],
        "seed_records": [str(seeds)],
        "document_seeds": [str(seeds)],
        "final": [],
        "export_stats": [],
    }
    shards = {"0000": docs.iloc[::2], "0001": docs.iloc[1::2]}
    for shard, part in shards.items():
        collect = r / f"docs/collect/{shard}.parquet"
        write_parquet(part, collect)
        write_parquet(
            reject_records(part.iloc[:0], "collect", ""),
            r / f"rejected/collect/{shard}.parquet",
            schema=REJECT_SCHEMA,
        )
        collect_stats = stage_stats(
            "collect", len(part), len(part), pd.DataFrame(columns=["reason"])
        )
        write_json(collect_stats, r / f"stats/collect/{shard}.json")
        # rule quality with buckets on: scored documents and stats are intermediates
        run_doc_stage(
            step,
            collect,
            r / f"quality/scored/{shard}.parquet",
            r / f"rejected/quality/{shard}.parquet",
            r / f"quality/scored/{shard}.json",
            shard=shard,
        )
    scored = [r / f"quality/scored/{shard}.parquet" for shard in shards]
    cutoffs = write_cutoffs(scored, cfg["buckets"], r / "stats/quality_cutoffs.json")
    kept_scores = pd.concat([read_parquet(p) for p in scored])
    en_scores = kept_scores.loc[kept_scores["lang"] == "en", "quality_score"]
    assert (en_scores >= 0.3).all() and len(en_scores) >= 10
    assert cutoffs["languages"]["en"]["cutoffs"] == [
        round(float(np.percentile(en_scores, p)), 4) for p in (30, 60)
    ]
    assert cutoffs["languages"]["zh"]["cutoffs"] is None  # at most 4 zh documents < min_docs
    assert "fr" not in cutoffs["languages"]  # no score, no cutoffs
    per_shard = []
    for shard in shards:
        stats = bucket_shard(
            r / f"quality/scored/{shard}.parquet",
            r / f"quality/scored/{shard}.json",
            r / "stats/quality_cutoffs.json",
            r / f"docs/quality/{shard}.parquet",
            r / f"stats/quality/{shard}.json",
        )
        per_shard.append(stats)
        out = read_parquet(r / f"docs/quality/{shard}.parquet")
        rejected = read_parquet(r / f"rejected/quality/{shard}.parquet")
        assert stats["in"] == len(shards[shard]) == len(out) + len(rejected)
        assert set(rejected["reason"]) <= {"low_quality"} and stats["shard"] == shard
        assert sum(sum(c.values()) for c in stats["buckets"]["by_lang"].values()) == len(out)
        en = out[out["lang"] == "en"]
        lo, hi = cutoffs["languages"]["en"]["cutoffs"]
        expected = np.where(en["quality_score"] < lo, "low", "middle")
        expected = np.where(en["quality_score"] >= hi, "high", expected)
        assert en["quality_bucket"].tolist() == expected.tolist()
        assert set(out.loc[out["lang"] != "en", "quality_bucket"]) == {"unbucketed"}
        finals = [r / f"final/all/all/corpus-{shard}.jsonl"]
        export_shard(
            r / f"docs/quality/{shard}.parquet",
            [seeds],
            ["all"],
            ["all"],
            finals,
            r / f"stats/export/{shard}.json",
            shard,
        )
        files["final"] += [str(p) for p in finals]
        files["export_stats"].append(str(r / f"stats/export/{shard}.json"))
        for stage in ("collect", "quality"):
            files.setdefault(f"{stage}_docs", []).append(str(r / f"docs/{stage}/{shard}.parquet"))
            files.setdefault(f"{stage}_rejected", []).append(
                str(r / f"rejected/{stage}/{shard}.parquet")
            )
            files.setdefault(f"{stage}_stats", []).append(str(r / f"stats/{stage}/{shard}.json"))
    buckets = Counter()
    for stats in per_shard:
        buckets.update(stats["buckets"]["by_lang"]["en"])
    assert set(buckets) == {"low", "middle", "high"}  # 30 / 60: all three are used
    assert sum(s["rejected_by_reason"].get("low_quality", 0) for s in per_shard) > 0
    # the final jsonl has quality_bucket right after quality_label
    line = json.loads(Path(files["final"][0]).read_text(encoding="utf-8").splitlines()[0])
    keys = list(line)
    assert keys[keys.index("quality_label") + 1] == "quality_bucket"
    # the audit adds up; the summary has the documents per language and bucket, the cutoffs
    summary = summarize_workflow(files, ["collect", "quality"])
    assert summary["audit"]["ok"] and summary["accounting"]["balanced"], summary["audit"]
    quality_buckets = summary["quality_buckets"]
    assert quality_buckets["cutoffs"] == cutoffs
    assert quality_buckets["by_lang"]["en"] == dict(sorted(buckets.items()))
    assert quality_buckets["by_lang"]["fr"] == {"unbucketed": 1}
    assert (
        summary["stages"]["quality"]["buckets"]["by_lang"]["en"] == quality_buckets["by_lang"]["en"]
    )
    card = "\n".join(stage_lines(summary, {}, "quality"))
    assert "`quality_bucket`: low / middle / high" in card
    assert f"en {lo:g}, {hi:g}; zh none" in card and "fewer than 10 scored" in card
    # a rerun writes the same bytes
    first = (r / "docs/quality/0000.parquet").read_bytes()
    first_cutoffs = (r / "stats/quality_cutoffs.json").read_bytes()
    write_cutoffs(scored, cfg["buckets"], r / "stats/quality_cutoffs.json")
    bucket_shard(
        scored[0],
        r / "quality/scored/0000.json",
        r / "stats/quality_cutoffs.json",
        r / "docs/quality/0000.parquet",
        r / "stats/quality/0000.json",
    )
    assert (r / "docs/quality/0000.parquet").read_bytes() == first
    assert (r / "stats/quality_cutoffs.json").read_bytes() == first_cutoffs
    assert read_json(r / "stats/quality/0000.json") == per_shard[0]


def test_bucket_rules_plan_one_gather_and_lint_clean(tmp_path):
    """With quality.buckets set the dry run plans the cutoffs gather once and the bucket
    rule per shard (after the scoring rule per shard); --lint stays clean."""
    workdir = copy_repo(tmp_path)
    (workdir / "buckets.yaml").write_text(yaml.safe_dump({"quality": {"buckets": BUCKETS}}))
    proc = smk(workdir, "-n", "--configfile", "buckets.yaml")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    jobs = planned_jobs(proc)
    shards = DEFAULT["shards"]
    assert jobs["quality"] == shards and jobs["quality_bucket"] == shards
    assert jobs["quality_cutoffs"] == 1
    assert "results/quality/scored/0000.parquet" in proc.stdout + proc.stderr
    assert_lint_clean(workdir, "--configfile", "buckets.yaml")
    off = planned_jobs(smk(workdir, "-n"))  # the default: no buckets, no gather
    # mistakes are refused by the workflow, naming the key
    for name, wrong, key in [
        ("bad1.yaml", {"min_docs": 0}, "['buckets']['min_docs']"),
        ("bad2.yaml", {"percentiles": [50]}, "quality.buckets.names"),
    ]:
        (workdir / name).write_text(yaml.safe_dump({"quality": {"buckets": wrong}}))
        assert key in refused(workdir, "--configfile", name)
    assert off["quality"] == shards and "quality_cutoffs" not in off and "quality_bucket" not in off
