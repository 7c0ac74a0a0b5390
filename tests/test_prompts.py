"""Prompt stage: templates, deterministic format x audience assignment, truncation."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

from corpusforge.io import read_json, read_parquet, write_parquet
from corpusforge.prompts import (
    TemplateError,
    assign,
    build_prompts,
    load_template_dir,
    load_templates,
    truncate_extract,
)
from corpusforge.prompts_job import run_job
from corpusforge.records import stable_id

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_FILES = [ROOT / "config/templates/en.yaml", ROOT / "config/templates/zh.yaml"]
FORMATS = ["textbook_academic", "textbook_narrative", "blogpost", "wikihow", "story"]
AUDIENCES = [
    "young_children",
    "high_school_students",
    "college_students",
    "professionals_researchers",
    "general_public",
]
CFG = {
    "formats": FORMATS,
    "audiences": AUDIENCES,
    "max_extract_chars": 120,
    "topic_hint_rate": 0.5,
    "seed": 3,
}


def seed_rows(n: int, lang: str = "en", kind: str = "extracts", topic: str | None = "tides"):
    rows = []
    for i in range(n):
        text = (
            f"Extract {i} about the sea and the moon. " * 6
            if lang != "zh"
            else f"第{i}段关于潮汐的摘录。" * 6
        )
        sid = stable_id("t", text)
        rows.append(
            {
                "id": sid,
                "seed_id": sid,
                "source": "t",
                "row": i + 1,
                "source_id": str(i),
                "kind": kind,
                "text": text,
                "lang": lang,
                "topic": topic,
                "url": None,
                "format": None,
                "audience": None,
                "seed_data": None,
            }
        )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def templates():
    return load_template_dir(TEMPLATE_FILES)


def test_shipped_templates_cover_every_format_and_audience(templates):
    assert set(templates) == {"en", "zh"}
    for tpl in templates.values():
        assert set(FORMATS) <= set(tpl.formats) and set(AUDIENCES) <= set(tpl.audiences)
        prompt = tpl.render("EXTRACT-MARKER", "wikihow", "young_children", "gardens")
        assert "EXTRACT-MARKER" in prompt and "gardens" in prompt
        assert tpl.formats["wikihow"] in prompt and tpl.audiences["young_children"] in prompt


def test_broken_templates_are_named(tmp_path):
    good = yaml.safe_load(TEMPLATE_FILES[0].read_text())
    cases = {
        "missing_placeholder": {**good, "layout": "only {extract} here"},
        "braces_in_format": {**good, "formats": {**good["formats"], "story": "a {bad} one"}},
        "no_topic": {**good, "topic_hint": "no placeholder"},
    }
    for name, data in cases.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True))
        with pytest.raises(TemplateError, match=name):
            load_templates(path)
    with pytest.raises(TemplateError, match="already defined"):
        load_template_dir([TEMPLATE_FILES[0], TEMPLATE_FILES[0]])


def test_assignment_is_deterministic_and_covers_all_combinations():
    ids = [stable_id("x", i) for i in range(2000)]
    first = [assign(i, FORMATS, AUDIENCES, seed=1) for i in ids]
    assert first == [assign(i, FORMATS, AUDIENCES, seed=1) for i in ids]
    counts = Counter(first)
    assert len(counts) == 25
    assert min(counts.values()) > 2000 / 25 * 0.6  # roughly uniform
    assert first != [assign(i, FORMATS, AUDIENCES, seed=2) for i in ids]


def test_truncation_respects_word_boundaries_and_cjk():
    text = "word " * 100
    cut = truncate_extract(text, 52)
    assert len(cut) <= 53 and cut.endswith("word…")
    assert truncate_extract("短文本", 10) == "短文本"
    zh = "汉" * 300
    assert truncate_extract(zh, 100) == "汉" * 100 + "…"


def test_build_prompts_en_and_zh(templates):
    seeds = pd.concat([seed_rows(40, "en"), seed_rows(20, "zh")], ignore_index=True)
    prompts, rejects, stats = build_prompts(seeds, templates, CFG)
    assert rejects.empty and len(prompts) == 60
    assert set(prompts["seed_id"]) == set(seeds["seed_id"])
    zh = prompts[prompts["prompt_lang"] == "zh"]
    assert len(zh) == 20 and zh["prompt"].str.contains("请用中文写作").all()
    assert (prompts["seed_data"].str.len() <= 121).all()
    hinted = prompts["topic"].notna().mean()
    assert 0.25 < hinted < 0.75  # topic_hint_rate 0.5
    assert stats["in"] == 60 and stats["kept"] == 60
    assert sum(stats["formats"].values()) == 60
    again, _, _ = build_prompts(seeds.sample(frac=1, random_state=0), templates, CFG)
    pd.testing.assert_frame_equal(prompts, again)  # row order of the input does not matter


def test_no_hint_without_topic_or_at_rate_zero(templates):
    prompts, _, _ = build_prompts(seed_rows(10, topic=None), templates, CFG)
    assert prompts["topic"].isna().all()
    prompts, _, _ = build_prompts(seed_rows(10), templates, {**CFG, "topic_hint_rate": 0.0})
    assert prompts["topic"].isna().all()


def test_unknown_language_is_rejected_not_dropped(templates):
    seeds = pd.concat([seed_rows(3, "en"), seed_rows(2, "de")], ignore_index=True)
    prompts, rejects, stats = build_prompts(seeds, templates, CFG)
    assert len(prompts) == 3 and len(rejects) == 2
    assert set(rejects["reason"]) == {"no_template_for_lang"}
    assert rejects["detail"].str.contains("'de'").all()
    assert set(rejects["id"]) == set(seeds[seeds["lang"] == "de"]["id"])
    assert stats["rejected_by_reason"] == {"no_template_for_lang": 2}


def test_ready_prompts_pass_through(templates):
    seeds = seed_rows(2, kind="prompts")
    seeds["format"] = "textbook"
    prompts, _, _ = build_prompts(seeds, templates, CFG)
    assert list(prompts.sort_values("seed_id")["prompt"]) == list(
        seeds.sort_values("seed_id")["text"]
    )
    assert set(prompts["format"]) == {"textbook"}


def test_unknown_format_in_config_is_an_error(templates):
    with pytest.raises(TemplateError, match=r"prompts\.formats: 'poem'"):
        build_prompts(seed_rows(1), templates, {**CFG, "formats": ["poem"]})


def test_the_rules_job_builds_each_shard_of_the_seeds(templates, tmp_path):
    seeds = pd.concat([seed_rows(12), seed_rows(5, lang="zh")], ignore_index=True)
    write_parquet(seeds.iloc[:9], tmp_path / "a.parquet")
    write_parquet(seeds.iloc[9:], tmp_path / "b.parquet")
    parts = []
    for shard in ("0000", "0001"):
        out = tmp_path / shard
        smk = SimpleNamespace(
            input=SimpleNamespace(
                seeds=[str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet")],
                templates=[str(f) for f in TEMPLATE_FILES],
            ),
            output=SimpleNamespace(
                prompts=str(out / "prompts.parquet"),
                rejected=str(out / "rejected.parquet"),
                stats=str(out / "stats.json"),
            ),
            params=SimpleNamespace(
                shards=2, prompts=CFG, seed_quality=None, quality=None, quality_models=None
            ),
            wildcards=SimpleNamespace(shard=shard),
            log=[str(out / "job.log")],
        )
        stats = run_job(smk)
        assert read_json(out / "stats.json") == stats and stats["shard"] == shard
        assert len(read_parquet(out / "rejected.parquet")) == 0
        parts.append(read_parquet(out / "prompts.parquet"))
    assert all(len(part) > 0 for part in parts)
    built = pd.concat(parts).sort_values("id").reset_index(drop=True)
    whole, _, _ = build_prompts(seeds, templates, CFG)
    pd.testing.assert_frame_equal(built, whole.sort_values("id").reset_index(drop=True))
