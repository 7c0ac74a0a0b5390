"""The stage (corpusforge.stage protocol): label each document of a batch, keep or reject it."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..stage import DocStage, Verdict
from .config import HIST_BINS, SCORE_DECIMALS, STAGE, settings
from .model import Model, model_name
from .prediction import effective_top_k, predict

log = logging.getLogger("corpusforge.langid")


class LangIdStage(DocStage):
    """Rule ``langid``: label every document with ``lang`` and ``lang_score`` (replacing
    any it came with; they come last), keep the configured languages above their
    score threshold and reject the rest (``empty_text``, ``lang_not_kept``,
    ``low_lang_score``). ``cfg`` is the whole ``langid`` section (its ``model`` too);
    ``files["model"]`` is the model file, loaded and its sha256 checked once per job."""

    name = STAGE
    section = "langid"
    renewed = ("lang", "lang_score")

    def prepare(self) -> None:
        self.resolved = settings(self.cfg)
        model_cfg = self.cfg.get("model") or {}
        source = model_cfg.get("source") or {}
        # model.sha256 pins the packaged file; a source carries its own sha256.
        expected = source.get("sha256") if source else model_cfg.get("sha256")
        self.model = Model(self.files["model"], expected)
        meta = {
            "name": model_name(model_cfg),
            "source": next((k for k in ("path", "url", "hf") if k in source), "package"),
        }
        if meta["source"] == "package":
            meta["package"] = model_cfg["package"]
        log.info("model %s (sha256 %s)", meta["name"], self.model.sha256)
        self.codes = self.model.codes(self.resolved.label_map)
        self.top_k = effective_top_k(self.resolved, self.codes)
        self.meta = {**meta, **self.model.info(), "top_k": self.top_k}

    def described(self) -> dict[str, Any]:
        return {"model": self.meta, "settings": self.resolved.describe()}

    def judge(self, docs: pd.DataFrame) -> Verdict:
        n = len(docs)
        texts = docs["text"].tolist()
        max_chars = self.resolved.max_chars
        lines = [t[:max_chars].replace("\n", " ") if isinstance(t, str) else "" for t in texts]
        todo = [i for i, line in enumerate(lines) if line and not line.isspace()]

        started = time.perf_counter()
        if len(todo) == n:
            langs, scores = predict(self.model, lines, self.codes, self.top_k)
        else:
            found_langs, found_scores = predict(
                self.model, [lines[i] for i in todo], self.codes, self.top_k
            )
            langs, scores = [None] * n, [None] * n
            for i, lang, score in zip(todo, found_langs, found_scores, strict=True):
                langs[i] = lang
                scores[i] = score
        seconds = time.perf_counter() - started
        del lines

        # Outcome per document: kept (None), or the first reason that applies.
        wanted = set(self.resolved.languages) if self.resolved.languages is not None else None
        by_lang, default = self.resolved.min_score_by_lang, self.resolved.min_score
        reasons: list[str | None] = [None] * n
        details: list[str | None] = [None] * n
        for i, (lang, score) in enumerate(zip(langs, scores, strict=True)):
            if lang is None:
                reasons[i] = "empty_text"
                details[i] = "no text to identify (empty or whitespace only)"
            elif wanted is not None and lang not in wanted:
                reasons[i] = "lang_not_kept"
                kept_list = ", ".join(sorted(wanted))
                details[i] = f"lang={lang} score={score:.4f}; kept languages: {kept_list}"
            elif score < by_lang.get(lang, default):
                reasons[i] = "low_lang_score"
                limit = by_lang.get(lang, default)
                details[i] = f"lang={lang} score={score:.4f} < min_score {limit}"

        truncated = (
            sum(1 for t in texts if isinstance(t, str) and len(t) > max_chars) if max_chars else 0
        )
        if todo:
            log.info(
                "identified %d documents in %.2f s (%.0f docs/s, top_k %d)",
                len(todo),
                seconds,
                len(todo) / seconds if seconds > 0 else float("inf"),
                self.top_k,
            )
        index = docs.index
        return Verdict(
            keep=pd.Series([r is None for r in reasons], index=index, dtype=bool),
            reason=pd.Series(reasons, index=index, dtype=object),
            detail=pd.Series(details, index=index, dtype=object),
            columns={
                "lang": pd.Series(langs, index=index, dtype="str"),
                "lang_score": pd.Series(np.array(scores, dtype="float64"), index=index),
            },
            counters={
                "kept_by_lang": _counts(
                    lang for lang, r in zip(langs, reasons, strict=True) if r is None
                ),
                "langs": _lang_stats(langs, scores, reasons),
                "score_hist_edges": [round(i / HIST_BINS, 4) for i in range(HIST_BINS + 1)],
                "chars_in": sum(len(t) for t in texts if isinstance(t, str)),
                "truncated_docs": truncated,
                "expected_lang": _agreement(docs, langs),
            },
        )


def _counts(values: Iterable[Any]) -> dict[str, int]:
    counts = Counter(str(v) for v in values if v is not None)
    return {k: counts[k] for k in sorted(counts)}


def _lang_stats(
    langs: Sequence[str | None], scores: Sequence[float | None], reasons: Sequence[str | None]
) -> dict[str, dict[str, Any]]:
    """Per detected language: documents, outcome counts, score sum, mean and histogram.

    The histogram has ``HIST_BINS`` bins of equal width over [0, 1] (the last one
    includes 1.0); histograms and sums of several shards add up.
    """
    found = [i for i, lang in enumerate(langs) if lang is not None]
    if not found:
        return {}
    codes, uniques = pd.factorize(np.array([langs[i] for i in found], dtype=object), sort=True)
    values = np.array([scores[i] for i in found], dtype="float64")
    outcome_names = ("kept", "lang_not_kept", "low_lang_score")
    outcome = np.array([outcome_names.index(reasons[i] or "kept") for i in found])
    bins = np.minimum((values * HIST_BINS + 1e-9).astype(np.int64), HIST_BINS - 1)
    n_langs = len(uniques)
    docs_n = np.bincount(codes, minlength=n_langs)
    sums = np.bincount(codes, weights=values, minlength=n_langs)
    hist = np.bincount(codes * HIST_BINS + bins, minlength=n_langs * HIST_BINS)
    outcomes = np.bincount(codes * 3 + outcome, minlength=n_langs * 3)
    table = {}
    for j, lang in enumerate(uniques):
        table[str(lang)] = {
            "docs": int(docs_n[j]),
            **{name: int(outcomes[j * 3 + k]) for k, name in enumerate(outcome_names)},
            "score_sum": round(float(sums[j]), SCORE_DECIMALS),
            "score_mean": round(float(sums[j]) / int(docs_n[j]), SCORE_DECIMALS),
            "score_hist": [int(c) for c in hist[j * HIST_BINS : (j + 1) * HIST_BINS]],
        }
    return table


def _agreement(docs: pd.DataFrame, langs: Sequence[str | None]) -> dict[str, Any] | None:
    """How often the detected language agrees with the one the input expected.

    The expected language is ``prompt_lang`` (generated documents) or an existing
    ``lang`` column (e.g. a seed that declares its language). Documents with no
    expected or no detected language are not counted.
    """
    column = next((c for c in ("prompt_lang", "lang") if c in docs.columns), None)
    if column is None:
        return None
    expected = [e if isinstance(e, str) else None for e in docs[column].tolist()]
    pairs = Counter(f"{e}->{f}" for e, f in zip(expected, langs, strict=True) if e and f and e != f)
    compared = sum(1 for e, f in zip(expected, langs, strict=True) if e and f)
    mismatch = sum(pairs.values())
    return {
        "column": column,
        "match": compared - mismatch,
        "mismatch": mismatch,
        "mismatch_pairs": {k: pairs[k] for k in sorted(pairs)},
    }
