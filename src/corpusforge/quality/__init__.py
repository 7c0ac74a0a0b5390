"""Model-based quality stage: an educational-quality score per document.

The idea of Phi's "Textbooks Are All You Need", Cosmopedia and FineWeb-Edu: a
classifier judges how much a text reads like a textbook or reference prose rather
than web boilerplate, spam or garbled text. Two engines (``quality.engine``):

- ``fasttext`` (:mod:`.fasttext_model`): a fastText classifier per language, either
  trained by the workflow (rule ``train_quality``) from positive and negative
  reference files, or a given model file (e.g. DCLM's ``fasttext-oh-eli5``).
  Score: the probability of the positive label, in [0, 1].
- ``hf`` (:mod:`.hf_model`): any Hugging Face sequence-classification model at a
  pinned revision (e.g. HuggingFaceFW/fineweb-edu-classifier), on the GPU when the
  job has one. Score: the regression output clipped to [0, max_score], or one
  label's probability.

Each document gets ``quality_score`` (rounded to 4 decimals) and ``quality_label``
(the model's most probable label, where it has labels). A document's language is
``lang`` (language ID), else ``prompt_lang``; ``zh-Hant`` uses the ``zh`` model.

Reasons for rejection: ``low_quality`` (score below ``min_score`` of the language;
detail: score and bound), ``no_quality_model`` (no model for the language, with
``unscored: drop``).

``quality.buckets`` (:mod:`.buckets`) adds ``quality_bucket``: per-language quantile
buckets of the kept documents' scores over the whole corpus, like perplexity's.

The same scorer chooses seed extracts for generation (``prompts.seed_quality``,
:func:`select_seeds`): keep those above a threshold (``low_seed_quality``), or
sample a share of them weighted by score, as Cosmopedia chose its web seeds
(``seed_quality_not_sampled``).

Config defaults live in the JSON schema; :func:`settings` adds the cross-field checks.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..lang import model_language
from ..perplexity import document_language
from ..records import reject_records, unit_hash
from ..stage import DocStage, Verdict

STAGE = "quality"
SCORE, LABEL = "quality_score", "quality_label"
SCORE_DECIMALS = 4
HIST_BINS = 20
REASONS = ("low_quality", "no_quality_model")
SEED_REASONS = ("low_seed_quality", "seed_quality_not_sampled")

log = logging.getLogger("corpusforge.quality")


class QualityError(ValueError):
    """The ``quality`` (or ``prompts.seed_quality``) config is wrong."""


# ---------------------------------------------------------------- settings


def settings(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The ``quality`` section (schema defaults filled in), cross-field checked."""
    cfg = dict(cfg)
    engine = cfg["engine"]
    if engine == "fasttext":
        if not cfg["fasttext"]["models"]:
            raise QualityError("quality.fasttext.models: no language has a model")
        scale = 1.0
    elif engine == "hf":
        hf = cfg.get("hf") or {}
        if not hf.get("path") and not (hf.get("repo_id") and hf.get("revision")):
            raise QualityError("quality.hf: give `path` (a local folder) or `repo_id` + `revision`")
        if hf.get("score") == "label" and not hf.get("label"):
            raise QualityError("quality.hf.label: needed with score: label")
        scale = float(hf["max_score"]) if hf.get("score") == "regression" else 1.0
    else:
        raise QualityError(f"quality.engine: unknown engine {engine!r} (fasttext, hf)")
    bounds = {"min_score": cfg["min_score"], **dict(cfg["min_score_by_lang"])}
    for key, bound in bounds.items():
        if bound is not None and not 0 <= bound <= scale:
            raise QualityError(
                f"quality.{'min_score' if key == 'min_score' else 'min_score_by_lang.' + key}: "
                f"{bound} is outside the {engine} scores' range [0, {scale:g}]"
            )
    from .buckets import check_buckets

    check_buckets(cfg.get("buckets"))
    return {**cfg, "engine": engine, "scale": scale}


def threshold(cfg: Mapping[str, Any], lang: str | None) -> float | None:
    """The lowest score kept for a language (None: no bound)."""
    by_lang = cfg.get("min_score_by_lang") or {}
    return by_lang.get(lang, cfg.get("min_score")) if lang is not None else cfg.get("min_score")


def split_cjk(ft: Mapping[str, Any], lang: str) -> bool:
    """Whether a language's texts are split into characters for fastText."""
    value = ft["models"][lang].get("split_cjk")
    return lang.split("-")[0] in ft["cjk_languages"] if value is None else bool(value)


# ---------------------------------------------------------------- the scorer


class Scorer:
    """Scores texts with the classifier of their language (one for all with ``hf``)."""

    def __init__(self, engine: str, classifiers: Mapping[str, Any], describe: dict) -> None:
        self.engine = engine
        self.classifiers = dict(classifiers)  # language ("*": every language) -> classifier
        self.description = describe

    def language_of(self, lang: Any) -> str | None:
        if "*" in self.classifiers:
            return "*"
        return model_language(lang, self.classifiers)

    def score_texts(
        self, texts: list[Any], langs: list[Any]
    ) -> tuple[np.ndarray, list[str | None], list[str | None]]:
        """(scores, NaN where unscored; labels; the model language used per text)."""
        targets = [self.language_of(lang) for lang in langs]
        scores = np.full(len(texts), np.nan)
        labels: list[str | None] = [None] * len(texts)
        for target in sorted({t for t in targets if t is not None}):
            rows = [i for i, t in enumerate(targets) if t == target]
            values, names = self.classifiers[target].score([texts[i] for i in rows])
            scores[rows] = np.round(values, SCORE_DECIMALS)
            for i, name in zip(rows, names, strict=True):
                labels[i] = name
        return scores, labels, targets


def load_scorer(
    cfg: Mapping[str, Any], models: Mapping[str, str] | str, threads: int = 1
) -> Scorer:
    """The scorer of a checked config: ``models`` maps each language to its fastText
    model file (engine fasttext), or is the model folder (engine hf)."""
    from ..fetch import sha256_file

    max_chars = cfg.get("max_chars")
    if cfg["engine"] == "fasttext":
        from .fasttext_model import FastTextClassifier

        ft = cfg["fasttext"]
        classifiers, described = {}, {}
        for lang, path in sorted(dict(models).items()):
            entry = ft["models"][lang]
            classifiers[lang] = FastTextClassifier(
                path, entry["label"], ft["lowercase"], split_cjk(ft, lang), max_chars
            )
            kind = "given" if "model" in entry else "trained"
            described[lang] = {
                "file": os.path.basename(path),
                "kind": kind,
                "sha256": sha256_file(path),
            }
        return Scorer("fasttext", classifiers, {"engine": "fasttext", "models": described})
    from .hf_model import HFClassifier

    hf = cfg["hf"]
    classifier = HFClassifier(
        models,
        hf["score"],
        hf.get("label"),
        hf["max_score"],
        hf["batch_size"],
        hf["max_length"],
        max_chars,
        hf["device"],
        threads,
    )
    langs = hf.get("languages")
    classifiers = {lang: classifier for lang in langs} if langs else {"*": classifier}
    described = {
        "repo_id": hf.get("repo_id"),
        "revision": hf.get("revision"),
        "path": hf.get("path"),
        "score": hf["score"],
        "label": hf.get("label"),
        "device": classifier.device,
    }
    return Scorer("hf", classifiers, {"engine": "hf", "model": described})


# ---------------------------------------------------------------- training


def train_from_references(
    lang: str,
    positive: list[tuple[str, str, str]],
    negative: list[tuple[str, str, str]],
    model_path: str | os.PathLike,
    cfg: Mapping[str, Any],
) -> dict[str, Any]:
    """Train a language's fastText classifier from its reference files (each a
    (path, format, text_field)); the model's description (counts, held-out accuracy)."""
    from ..perplexity import read_reference
    from .fasttext_model import train_classifier

    def documents(refs: list[tuple[str, str, str]]) -> list[str]:
        docs = []
        for path, fmt, field in refs:
            found = ["\n".join(lines) for lines in read_reference(path, fmt, field)]
            if not found:
                raise QualityError(f"quality.fasttext.models.{lang}: no document in {path}")
            docs += found
        return docs

    ft = cfg["fasttext"]
    meta = train_classifier(
        documents(positive),
        documents(negative),
        model_path,
        ft["training"],
        ft["lowercase"],
        split_cjk(ft, lang),
    )
    meta["references"] = {
        "positive": [os.path.basename(p) for p, _, _ in positive],
        "negative": [os.path.basename(p) for p, _, _ in negative],
    }
    return {"lang": lang, **meta}


# ---------------------------------------------------------------- the stage


def score_edges(scale: float) -> list[float]:
    return [round(scale * i / HIST_BINS, 6) for i in range(HIST_BINS + 1)]


def histogram(values: np.ndarray, scale: float) -> list[int]:
    counts, _ = np.histogram(np.clip(values, 0, scale), bins=HIST_BINS, range=(0.0, scale))
    return [int(c) for c in counts]


def _by_lang(langs: list[Any], scores: np.ndarray, failed: np.ndarray, cfg: Mapping[str, Any]):
    """Per language: documents scored, rejected below the bound, the bound, a histogram."""
    out: dict[str, Any] = {}
    keys = ["unknown" if lang is None else str(lang) for lang in langs]
    for key in sorted(set(keys)):
        rows = np.array([k == key for k in keys])
        scored = rows & ~np.isnan(scores)
        if not scored.any():
            continue
        out[key] = {
            "scored": int(scored.sum()),
            "rejected": int((rows & failed).sum()),
            "min_score": threshold(cfg, None if key == "unknown" else key),
            "score_hist": histogram(scores[scored], cfg["scale"]),
            "score_sum": round(float(scores[scored].sum()), 6),
        }
    return out


class QualityStage(DocStage):
    """Rule ``quality``: score every document with its language's classifier
    (``quality_score``, ``quality_label``; NaN and None where no model has its
    language) and reject those below their language's bound (``low_quality``), and,
    with ``unscored: drop``, those no model scores (``no_quality_model``).

    ``cfg``: the ``quality`` section without ``buckets`` (``results``: the results
    folder, where the GPU locks live); ``files["models"]``: the rule's model files
    (engine fasttext: one per language of ``fasttext.models``, in sorted order, or a
    language -> file mapping; engine hf: the model folder). The scorer is loaded once
    per job, holding its GPU slots (engine hf) until :meth:`close`."""

    name = STAGE
    section = "quality"

    @classmethod
    def settings(cls, cfg: dict[str, Any]) -> dict[str, Any]:
        return settings(cfg)

    def prepare(self) -> None:
        from ..devices import default_lock_dir, gpu_slots

        cfg = self.cfg
        hf = cfg["engine"] == "hf"
        gpus = cfg["hf"]["gpus"] if hf else 0
        lock_dir = default_lock_dir(cfg.get("results", "results")) if gpus else None
        self.held = contextlib.ExitStack()
        self.held.enter_context(gpu_slots(gpus, lock_dir=lock_dir))
        models = self.files["models"]
        if isinstance(models, (str, os.PathLike)):
            models = [models]
        if not isinstance(models, Mapping):
            paths = [str(path) for path in models]
            models = (
                paths[0] if hf else dict(zip(sorted(cfg["fasttext"]["models"]), paths, strict=True))
            )
        self.scorer = load_scorer(cfg, models, cfg["hf"]["threads"] if hf else 1)

    def close(self) -> None:
        self.held.close()

    def described(self) -> dict[str, Any]:
        return dict(self.scorer.description)

    def judge(self, docs: pd.DataFrame) -> Verdict:
        cfg = self.cfg
        langs = document_language(docs).tolist()
        scores, labels, targets = self.scorer.score_texts(docs["text"].tolist(), langs)
        bounds = np.array([np.nan if (b := threshold(cfg, lang)) is None else b for lang in langs])
        failed = ~np.isnan(scores) & ~np.isnan(bounds) & (scores < np.nan_to_num(bounds))
        unscored = np.array([t is None for t in targets], dtype=bool)
        reason: list[str | None] = [None] * len(docs)
        detail = [""] * len(docs)
        for i in np.flatnonzero(failed):
            reason[i] = "low_quality"
            detail[i] = f"score {scores[i]:.4f} < {bounds[i]:g} ({langs[i]})"
        if cfg.get("unscored") == "drop":
            for i in np.flatnonzero(unscored):
                reason[i] = "no_quality_model"
                detail[i] = f"no quality model for language {langs[i]!r}"
        reasons = pd.Series(reason, index=docs.index, dtype=object)
        return Verdict(
            keep=reasons.isna(),
            reason=reasons,
            detail=pd.Series(detail, index=docs.index, dtype=object),
            columns={
                SCORE: pd.Series(scores, index=docs.index),
                LABEL: pd.Series(labels, index=docs.index, dtype=object),
            },
            counters={
                "unscored": int(unscored.sum()),
                "score_edges": score_edges(cfg["scale"]),
                "by_lang": _by_lang(langs, scores, failed, cfg),
            },
        )


# ---------------------------------------------------------------- seeds for generation


def select_seeds(
    seeds: pd.DataFrame, scorer: Scorer, seed_cfg: Mapping[str, Any], scale: float, stage: str
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Keep the seed extracts worth generating from; (kept rows, rejected rows, stats).

    ``mode: threshold`` keeps extracts scoring at least ``min_score`` (or their
    language's ``min_score_by_lang``); ``mode: weighted`` keeps ``fraction`` of each
    language's extracts, drawn without replacement with probability growing with
    the score (Efraimidis-Spirakis keys from a seeded hash of the seed id, so the
    same rows on every run). Ready prompts and extracts in a language without a
    model are kept unscored.
    """
    seeds = seeds.reset_index(drop=True)
    extract = np.ones(len(seeds), bool)
    if "kind" in seeds:
        extract = (seeds["kind"] != "prompts").to_numpy()
    langs = seeds["lang"].tolist() if "lang" in seeds else [None] * len(seeds)
    scores = np.full(len(seeds), np.nan)
    rows = np.flatnonzero(extract)
    if len(rows):
        found, _, _ = scorer.score_texts(
            [seeds["text"].iloc[i] for i in rows], [langs[i] for i in rows]
        )
        scores[rows] = found
    reason = pd.Series(None, index=seeds.index, dtype=object)
    detail = pd.Series("", index=seeds.index, dtype=object)
    mode = seed_cfg["mode"]
    if mode == "threshold":
        for i in np.flatnonzero(~np.isnan(scores)):
            bound = threshold(seed_cfg, langs[i])
            if bound is not None and scores[i] < bound:
                reason[i] = "low_seed_quality"
                detail[i] = f"score {scores[i]:.4f} < {bound:g} ({langs[i]})"
    else:
        fraction, seed = float(seed_cfg["fraction"]), int(seed_cfg["seed"])
        for lang in sorted({str(langs[i]) for i in np.flatnonzero(~np.isnan(scores))}):
            group = [i for i in np.flatnonzero(~np.isnan(scores)) if str(langs[i]) == lang]
            keep = math.ceil(fraction * len(group))
            # key = u ** (1 / w): the largest keys are a weighted sample without replacement.
            keys = {
                i: math.log(max(unit_hash("seed_quality", seed, seeds["seed_id"].iloc[i]), 1e-300))
                / max(scores[i] / scale, 1e-6)
                for i in group
            }
            ranked = sorted(group, key=lambda i: (-keys[i], seeds["seed_id"].iloc[i]))
            for i in ranked[keep:]:
                reason[i] = "seed_quality_not_sampled"
                detail[i] = (
                    f"score {scores[i]:.4f}; {keep} of {len(group)} {lang} extracts "
                    "sampled by score"
                )
    out = reason.notna()
    rejects = reject_records(seeds[out], stage, reason[out], detail[out])
    failed = out.to_numpy()
    stats = {
        "mode": mode,
        **scorer.description,
        "scored": int((~np.isnan(scores)).sum()),
        "kept": int((~failed).sum()),
        "score_edges": score_edges(scale),
        "by_lang": _by_lang(langs, scores, failed, {**seed_cfg, "scale": scale}),
    }
    return seeds[~out].reset_index(drop=True), rejects, stats
