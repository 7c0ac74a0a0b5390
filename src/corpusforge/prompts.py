"""Prompt stage: format x audience templates over seed extracts (en, zh, ...).

Templates live in YAML files under ``config/templates/`` (one per prompt
language), never in code. Each seed extract gets one format and one audience,
chosen by a seeded hash of its id so the assignment is the same on every run
and independent of shard layout. Ready-prompt seeds pass through unchanged.

Reasons for rejection: ``no_template_for_lang``; with ``seed_quality`` (see
corpusforge.quality.select_seeds) ``low_seed_quality`` or ``seed_quality_not_sampled``.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from .records import reject_records, stable_id, stage_stats, unit_hash

STAGE = "prompts"
LAYOUT_FIELDS = {"extract", "format_instruction", "topic_hint", "audience_style"}
# What a prompt carries on to the documents generated from it (corpusforge.generate).
PROMPT_FIELDS = ["prompt", "prompt_lang", "format", "audience", "seed_data", "topic"]
PROMPT_COLUMNS = ["id", "seed_id", "source", *PROMPT_FIELDS]


class TemplateError(ValueError):
    pass


@dataclass(frozen=True)
class Templates:
    """The templates of one prompt language."""

    lang: str
    layout: str
    topic_hint: str
    formats: dict[str, str]
    audiences: dict[str, str]
    path: str = ""

    def render(self, extract: str, fmt: str, audience: str, topic: str | None) -> str:
        hint = self.topic_hint.format(topic=topic) if topic else ""
        return self.layout.format(
            extract=extract,
            format_instruction=self.formats[fmt],
            topic_hint=hint,
            audience_style=self.audiences[audience],
        )


def _fields(text: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]


def load_templates(path: str | Path) -> Templates:
    """Load and check one template file; errors name the file and the key."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"{path}: cannot read templates: {exc}") from exc
    if not isinstance(data, dict):
        raise TemplateError(f"{path}: expected a mapping at the top level")
    for key in ("lang", "layout", "topic_hint", "formats", "audiences"):
        if key not in data:
            raise TemplateError(f"{path}: missing key `{key}`")
    layout_fields = _fields(data["layout"])
    if sorted(layout_fields) != sorted(LAYOUT_FIELDS):
        raise TemplateError(
            f"{path}: `layout` must use each of {sorted(LAYOUT_FIELDS)} exactly once, "
            f"found {layout_fields}"
        )
    if _fields(data["topic_hint"]) != ["topic"]:
        raise TemplateError(f"{path}: `topic_hint` must use {{topic}} exactly once")
    for group in ("formats", "audiences"):
        if not isinstance(data[group], dict) or not data[group]:
            raise TemplateError(f"{path}: `{group}` must be a non-empty mapping")
        for name, text in data[group].items():
            if not isinstance(text, str) or not text.strip():
                raise TemplateError(f"{path}: `{group}.{name}` must be non-empty text")
            if "{" in text or "}" in text:
                raise TemplateError(f"{path}: `{group}.{name}` must not contain braces")
    return Templates(
        lang=str(data["lang"]),
        layout=data["layout"],
        topic_hint=data["topic_hint"],
        formats=dict(data["formats"]),
        audiences=dict(data["audiences"]),
        path=str(path),
    )


def load_template_dir(paths: list[str | Path]) -> dict[str, Templates]:
    """Templates keyed by language from several files (one language each)."""
    result: dict[str, Templates] = {}
    for path in paths:
        templates = load_templates(path)
        if templates.lang in result:
            raise TemplateError(
                f"{path}: language {templates.lang!r} is already defined "
                f"in {result[templates.lang].path}"
            )
        result[templates.lang] = templates
    return result


def check_selection(templates: dict[str, Templates], formats: list[str], audiences: list[str]):
    """Every configured format and audience must exist in every language's templates."""
    for lang, tpl in sorted(templates.items()):
        for name in formats:
            if name not in tpl.formats:
                raise TemplateError(
                    f"prompts.formats: {name!r} has no template in {tpl.path} (language {lang})"
                )
        for name in audiences:
            if name not in tpl.audiences:
                raise TemplateError(
                    f"prompts.audiences: {name!r} has no template in {tpl.path} (language {lang})"
                )


def assign(seed_id: str, formats: list[str], audiences: list[str], seed: int) -> tuple[str, str]:
    """Pick a format and an audience for a seed row from a seeded hash of its id.

    Over many rows every combination is equally likely.
    """
    combo = int(stable_id("assign", seed, seed_id), 16) % (len(formats) * len(audiences))
    return formats[combo % len(formats)], audiences[combo // len(formats)]


def truncate_extract(text: str, max_chars: int) -> str:
    """Cut ``text`` to at most ``max_chars`` characters, at a word boundary when one is near."""
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    space = cut.rfind(" ")
    if space >= max_chars * 0.8:  # text with spaces: do not split a word
        cut = cut[:space]
    return cut.rstrip() + "…"


def build_prompts(
    seeds: pd.DataFrame,
    templates: dict[str, Templates],
    cfg: dict[str, Any],
    select: Callable[[pd.DataFrame], tuple[pd.DataFrame, pd.DataFrame, dict]] | None = None,
    topics: Callable[[pd.DataFrame], tuple[pd.DataFrame, pd.DataFrame, dict]] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Seed records of one shard -> prompt records, rejected rows, stats.

    ``topics`` (``prompts.topics``, corpusforge.topics.select.topic_selector), then
    ``select`` (``prompts.seed_quality``, corpusforge.quality.jobs.seed_selector)
    keep the extracts worth generating from; their rejected rows and stats
    (``topics``, ``seed_quality``) join the stage's. A row's ``topic_label`` (its
    topic cluster's label) is named in its prompt.
    """
    n_in, extra, dropped = len(seeds), {}, []
    for name, step in (("topics", topics), ("seed_quality", select)):
        if step is not None:
            seeds, out, extra[name] = step(seeds)
            dropped.append(out)
    formats, audiences = list(cfg["formats"]), list(cfg["audiences"])
    check_selection(templates, formats, audiences)
    seed = int(cfg["seed"])
    hint_rate = float(cfg["topic_hint_rate"])
    max_chars = int(cfg["max_extract_chars"])

    rows: list[dict] = []
    rejected = []
    for rec in seeds.to_dict("records"):
        if rec["kind"] == "prompts":
            prompt = rec["text"]
            rows.append(
                {
                    "seed_id": rec["seed_id"],
                    "source": rec["source"],
                    "prompt": prompt,
                    "prompt_lang": rec["lang"],
                    "format": rec.get("format"),
                    "audience": rec.get("audience"),
                    "seed_data": rec.get("seed_data"),
                    "topic": rec.get("topic"),
                }
            )
            continue
        tpl = templates.get(rec["lang"])
        if tpl is None:
            rejected.append(rec)
            continue
        fmt, audience = assign(rec["seed_id"], formats, audiences, seed)
        topic = rec.get("topic")
        use_hint = bool(topic) and unit_hash("topic_hint", seed, rec["seed_id"]) < hint_rate
        if rec.get("topic_label"):  # its cluster's label (prompts.topics): always named
            topic, use_hint = rec["topic_label"], True
        extract = truncate_extract(rec["text"], max_chars)
        rows.append(
            {
                "seed_id": rec["seed_id"],
                "source": rec["source"],
                "prompt": tpl.render(extract, fmt, audience, topic if use_hint else None),
                "prompt_lang": tpl.lang,
                "format": fmt,
                "audience": audience,
                "seed_data": extract,
                "topic": topic if use_hint else None,
            }
        )
    for row in rows:
        row["id"] = stable_id("prompt", row["seed_id"], row["prompt"])
    prompts = pd.DataFrame(rows, columns=PROMPT_COLUMNS)
    prompts = prompts.sort_values("id", kind="stable").reset_index(drop=True)
    rejects_in = pd.DataFrame(rejected, columns=seeds.columns)
    rejects = reject_records(
        rejects_in,
        STAGE,
        "no_template_for_lang",
        rejects_in["lang"].map(
            lambda lang: (
                f"no prompt templates for language {lang!r} (have: {', '.join(sorted(templates))})"
            )
        ),
    )
    dropped = [frame for frame in (*dropped, rejects) if len(frame)]
    if dropped:
        rejects = pd.concat(dropped, ignore_index=True) if len(dropped) > 1 else dropped[0]
    stats = stage_stats(
        STAGE,
        n_in,
        len(prompts),
        rejects,
        formats=_counts(prompts["format"]),
        audiences=_counts(prompts["audience"]),
        prompt_langs=_counts(prompts["prompt_lang"]),
        **extra,
    )
    return prompts, rejects, stats


def _counts(series: pd.Series) -> dict[str, int]:
    counts = series.fillna("unspecified").value_counts()
    return {str(k): int(counts[k]) for k in sorted(counts.index)}
