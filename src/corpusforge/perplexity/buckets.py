"""Perplexity cutoffs per language (corpus, reference text or config) and the head /
middle / tail buckets they give."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..io import read_json
from ..lang import model_language
from ..stage import DocStage, Verdict
from .scoring import PERPLEXITY, document_language

STAGE = "perplexity"


BUCKETS = ("head", "middle", "tail")


UNSCORED = "unscored"


BUCKET = "bucket"


def percentile_cutoffs(
    values: Sequence[float], percentiles: Sequence[float], decimals: int = 1
) -> list[float]:
    """The values (perplexities; quality scores: corpusforge.quality.buckets) at the
    given percentiles, numpy's ``linear`` method, rounded to ``decimals``."""
    data = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if data.size == 0:
        raise ValueError("no values to take percentiles of")
    return [round(float(np.percentile(data, p, method="linear")), decimals) for p in percentiles]


def gather_cutoffs(
    corpus: Mapping[str, Sequence[float]],
    references: Mapping[str, Sequence[float] | None],
    configured: Mapping[str, Sequence[float] | None],
    source: str,
    percentiles: Sequence[float],
    min_docs: int,
) -> dict[str, Any]:
    """Cutoffs per language, and where they came from.

    ``corpus``: perplexities of the corpus being built, per language; ``references``:
    perplexities of held-out reference documents per language (None if none);
    ``configured``: cutoffs from the config per language. ``source`` says which to
    prefer (corpus, reference, config); a language whose preferred source has
    nothing (or, for the corpus, fewer than ``min_docs`` documents) falls back to the
    others in the order corpus, reference, config.
    """
    if source not in ("corpus", "reference", "config"):
        raise ValueError(f"unknown cutoff source {source!r}")
    if len(percentiles) != 2 or not 0 <= percentiles[0] <= percentiles[1] <= 100:
        raise ValueError(f"percentiles must be two increasing numbers in [0, 100]: {percentiles}")
    order = [source] + [s for s in ("corpus", "reference", "config") if s != source]
    languages: dict[str, Any] = {}
    for lang in sorted(set(corpus) | set(references) | set(configured)):
        corpus_values = [v for v in corpus.get(lang, ()) if not math.isnan(v)]
        reference_values = references.get(lang) or []
        chosen: dict[str, Any] | None = None
        for candidate in order:
            if candidate == "corpus" and len(corpus_values) >= max(min_docs, 1):
                chosen = {"cutoffs": percentile_cutoffs(corpus_values, percentiles)}
            elif candidate == "reference" and reference_values:
                chosen = {"cutoffs": percentile_cutoffs(reference_values, percentiles)}
            elif candidate == "config" and configured.get(lang):
                chosen = {"cutoffs": [float(v) for v in configured[lang]]}
            if chosen is not None:
                chosen["source"] = candidate
                break
        if chosen is None and corpus_values:  # better a small sample than no buckets
            chosen = {
                "cutoffs": percentile_cutoffs(corpus_values, percentiles),
                "source": "corpus",
            }
        entry: dict[str, Any] = {
            "corpus_docs": len(corpus_values),
            "reference_docs": len(reference_values),
        }
        if chosen is None:
            entry.update({"source": None, "head_max": None, "tail_min": None})
        else:
            head_max, tail_min = chosen["cutoffs"]
            if head_max > tail_min:
                raise ValueError(f"{lang}: head cutoff {head_max} above tail cutoff {tail_min}")
            entry.update({"source": chosen["source"], "head_max": head_max, "tail_min": tail_min})
            if chosen["source"] != source:
                entry["fallback_from"] = source
        if corpus_values:
            entry["corpus_percentiles"] = dict(
                zip(
                    ["p10", "p30", "p50", "p60", "p90"],
                    percentile_cutoffs(corpus_values, [10, 30, 50, 60, 90]),
                    strict=True,
                )
            )
        languages[lang] = entry
    return {
        "source": source,
        "percentiles": list(percentiles),
        "min_docs": min_docs,
        "languages": languages,
    }


def bucket_of(perplexity: np.ndarray, head_max: float, tail_min: float) -> np.ndarray:
    """head below ``head_max``, tail above ``tail_min``, middle otherwise."""
    return np.where(
        perplexity < head_max, "head", np.where(perplexity > tail_min, "tail", "middle")
    )


class PerplexityBucketStage(DocStage):
    """Rule ``perplexity_bucket``: each scored document's ``bucket`` (head, middle,
    tail, or unscored) from its model language's cutoffs; documents with no text left
    to score are rejected (``empty_text``), with ``unscored: drop`` those of languages
    without a model (``no_lm``), with ``drop_tail`` the tail (``tail_bucket``).

    ``cfg``: ``models`` (the model languages), ``unscored`` (keep | drop) and
    ``drop_tail``; ``files["cutoffs"]``: rule perplexity_cutoffs' file (a path, or its
    mapping)."""

    name = STAGE
    section = "perplexity"

    @classmethod
    def settings(cls, cfg: dict[str, Any]) -> dict[str, Any]:
        cfg = {"unscored": "keep", "drop_tail": False, **cfg}
        if cfg["unscored"] not in ("keep", "drop"):
            raise ValueError(f"unscored must be keep or drop, got {cfg['unscored']!r}")
        return {**cfg, "models": sorted(cfg["models"])}

    def prepare(self) -> None:
        cutoffs = self.files["cutoffs"]
        self.cutoffs = cutoffs if isinstance(cutoffs, Mapping) else read_json(cutoffs)
        self.languages = self.cutoffs.get("languages", {})

    def judge(self, docs: pd.DataFrame) -> Verdict:
        models = self.cfg["models"]
        target = document_language(docs).map(lambda code: model_language(code, models))
        perplexity = docs[PERPLEXITY].to_numpy(dtype=float)
        bucket = np.full(len(docs), UNSCORED, dtype=object)
        reason = pd.Series([None] * len(docs), index=docs.index, dtype=object)
        detail = pd.Series([""] * len(docs), index=docs.index, dtype=object)

        languages = self.languages
        for lang in models:
            rows = (target == lang).to_numpy()
            entry = languages.get(lang) or {}
            if entry.get("head_max") is None:
                continue  # no cutoffs at all for this language: its documents stay unscored
            has = rows & ~np.isnan(perplexity)
            bucket[has] = bucket_of(perplexity[has], entry["head_max"], entry["tail_min"])

        no_model = target.isna().to_numpy()
        empty = ~no_model & np.isnan(perplexity)
        reason[empty] = "empty_text"
        detail[empty] = "no text left to score after normalization"
        if self.cfg["unscored"] == "drop":
            langs = document_language(docs)
            reason[no_model] = "no_lm"
            detail[no_model] = "no language model for lang " + langs[no_model].astype(str)
        if self.cfg["drop_tail"]:
            tail = (bucket == "tail") & reason.isna().to_numpy()
            reason[tail] = "tail_bucket"
            detail[tail] = [
                f"perplexity {p} > tail cutoff {languages[t]['tail_min']} ({t})"
                for p, t in zip(perplexity[tail], target[tail], strict=True)
            ]
        return Verdict(
            keep=reason.isna(),
            reason=reason,
            detail=detail,
            columns={BUCKET: pd.Series(bucket, index=docs.index)},
        )

    def kept_counters(self, kept: pd.DataFrame) -> dict[str, Any]:
        counts: dict[str, dict[str, int]] = {}
        summary: dict[str, dict[str, float]] = {}
        kept_lang = document_language(kept).fillna("")
        for lang in sorted(set(kept_lang)):
            rows = kept[kept_lang == lang]
            counts[lang] = {str(k): int(v) for k, v in sorted(rows[BUCKET].value_counts().items())}
            values = rows[PERPLEXITY].dropna()
            if len(values):
                summary[lang] = {
                    "mean": round(float(values.mean()), 1),
                    "median": round(float(values.median()), 1),
                    "min": float(values.min()),
                    "max": float(values.max()),
                }
        return {
            "buckets": counts,
            "perplexity": summary,
            # the cutoffs used (last, as the stats have always listed them)
            "cutoffs": {
                lang: [e.get("head_max"), e.get("tail_min"), e.get("source")]
                for lang, e in sorted(self.languages.items())
            },
        }


def configured_cutoffs(models_cfg: Mapping[str, Any], values: Mapping[str, Any] | None):
    """Cutoffs given in the config: ``cutoffs.values`` or a model's own ``cutoffs``."""
    out: dict[str, list[float] | None] = {}
    for lang, cfg in models_cfg.items():
        given = (values or {}).get(lang) or cfg.get("cutoffs")
        out[lang] = [float(v) for v in given] if given else None
    return out


def corpus_perplexities(frames: Iterable[pd.DataFrame], models: Iterable[str]):
    """Perplexities per model language over scored shards (for corpus cutoffs)."""
    models = sorted(models)
    values: dict[str, list[float]] = {lang: [] for lang in models}
    for frame in frames:
        target = document_language(frame).map(lambda code: model_language(code, models))
        for lang, pp in zip(target, frame[PERPLEXITY].to_numpy(dtype=float), strict=True):
            if lang is not None and not math.isnan(pp):
                values[lang].append(float(pp))
    return values
