"""The stage over a batch of documents: label each, keep or reject it, and the stats."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..records import rejects_frame, stage_stats
from .config import HIST_BINS, SCORE_DECIMALS, STAGE, Settings, settings
from .model import Model, model_name
from .prediction import effective_top_k, predict

log = logging.getLogger("corpusforge.langid")


def classify(
    docs: pd.DataFrame,
    model: Model,
    settings: Settings,
    model_meta: Mapping[str, Any] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Label every document, split into (kept, rejects, stats).

    ``docs`` needs ``id`` and ``text``; every other column is carried over. An
    existing ``lang`` / ``lang_score`` column is replaced by the detected one.
    """
    docs = docs.reset_index(drop=True)
    n = len(docs)
    texts = docs["text"].tolist()
    max_chars = settings.max_chars
    lines = [t[:max_chars].replace("\n", " ") if isinstance(t, str) else "" for t in texts]
    todo = [i for i, line in enumerate(lines) if line and not line.isspace()]

    codes = model.codes(settings.label_map)
    top_k = effective_top_k(settings, codes)
    started = time.perf_counter()
    if len(todo) == n:
        langs, scores = predict(model, lines, codes, top_k)
    else:
        found_langs, found_scores = predict(model, [lines[i] for i in todo], codes, top_k)
        langs, scores = [None] * n, [None] * n
        for i, lang, score in zip(todo, found_langs, found_scores, strict=True):
            langs[i] = lang
            scores[i] = score
    seconds = time.perf_counter() - started
    del lines

    # Outcome per document: kept, or the first reason that applies.
    wanted = set(settings.languages) if settings.languages is not None else None
    by_lang, default = settings.min_score_by_lang, settings.min_score
    kept_idx: list[int] = []
    rejected: list[tuple[int, str, str]] = []  # (position, reason, detail)
    for i, (lang, score) in enumerate(zip(langs, scores, strict=True)):
        if lang is None:
            rejected.append((i, "empty_text", "no text to identify (empty or whitespace only)"))
        elif wanted is not None and lang not in wanted:
            kept_list = ", ".join(sorted(wanted))
            rejected.append(
                (i, "lang_not_kept", f"lang={lang} score={score:.4f}; kept languages: {kept_list}")
            )
        elif score < by_lang.get(lang, default):
            limit = by_lang.get(lang, default)
            rejected.append(
                (i, "low_lang_score", f"lang={lang} score={score:.4f} < min_score {limit}")
            )
        else:
            kept_idx.append(i)

    rejects = _reject_rows(docs, texts, rejected)
    out = docs.drop(columns=[c for c in ("lang", "lang_score") if c in docs.columns])
    kept = out.take(kept_idx).reset_index(drop=True)
    kept["lang"] = pd.Series([langs[i] for i in kept_idx], dtype="str")
    kept["lang_score"] = np.array([scores[i] for i in kept_idx], dtype="float64")
    if not kept["id"].is_monotonic_increasing:
        kept = kept.sort_values("id", kind="stable").reset_index(drop=True)

    reasons = [None] * n
    for i, reason, _ in rejected:
        reasons[i] = reason
    truncated = (
        sum(1 for t in texts if isinstance(t, str) and len(t) > max_chars) if max_chars else 0
    )
    stats = stage_stats(
        STAGE,
        n,
        len(kept),
        rejects,
        model={**dict(model_meta or {}), **model.info(), "top_k": top_k},
        settings=settings.describe(),
        kept_by_lang=_counts(langs[i] for i in kept_idx),
        langs=_lang_stats(langs, scores, reasons),
        score_hist_edges=[round(i / HIST_BINS, 4) for i in range(HIST_BINS + 1)],
        chars_in=sum(len(t) for t in texts if isinstance(t, str)),
        truncated_docs=truncated,
        expected_lang=_agreement(docs, langs),
    )
    if todo:
        log.info(
            "identified %d documents in %.2f s (%.0f docs/s, top_k %d)",
            len(todo),
            seconds,
            len(todo) / seconds if seconds > 0 else float("inf"),
            top_k,
        )
    return kept, rejects, stats


def _reject_rows(
    docs: pd.DataFrame, texts: Sequence[Any], rejected: Sequence[tuple[int, str, str]]
) -> pd.DataFrame:
    """Rejected rows in the contract's columns, sorted by id."""
    positions = [i for i, _, _ in rejected]

    def column(name: str) -> list[Any]:
        if name not in docs.columns:
            return [None] * len(positions)
        return docs[name].take(positions).tolist()

    rows = [
        {
            "id": rid,
            "seed_id": seed_id,
            "stage": STAGE,
            "reason": reason,
            "detail": detail,
            "source": source,
            "row": row,
            "text": texts[i],
        }
        for (i, reason, detail), rid, seed_id, source, row in zip(
            rejected, column("id"), column("seed_id"), column("source"), column("row"), strict=True
        )
    ]
    frame = rejects_frame(rows)
    if not frame["id"].is_monotonic_increasing:
        frame = frame.sort_values("id", kind="stable").reset_index(drop=True)
    return frame


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


def stage_step(
    model_file: str | Path,
    settings_cfg: Mapping[str, Any],
    model_cfg: Mapping[str, Any],
) -> Callable[[pd.DataFrame], tuple[pd.DataFrame, pd.DataFrame, dict]]:
    """The step of rule ``langid`` (for ``io.run_doc_stage``): the model loaded and its
    sha256 checked (before any output is written), then ``classify`` per shard."""
    resolved = settings(settings_cfg)
    source = model_cfg.get("source") or {}
    # model.sha256 pins the packaged file; a source carries its own sha256.
    expected = source.get("sha256") if source else model_cfg.get("sha256")
    model = Model(model_file, expected)
    meta = {
        "name": model_name(model_cfg),
        "source": next((k for k in ("path", "url", "hf") if k in source), "package"),
    }
    if meta["source"] == "package":
        meta["package"] = model_cfg["package"]
    log.info("model %s (sha256 %s)", meta["name"], model.sha256)
    return partial(classify, model=model, settings=resolved, model_meta=meta)
