"""The quality stage in the report: score histogram per language with its bound (a
figure), and the model and thresholds (the dataset card)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

KEPT, REJECTED, BOUND, CUTOFF = "#2e7d32", "#c62828", "#212121", "#1565c0"


def bucket_cutoffs(stats: Mapping[str, Any], lang: str) -> list[tuple[str, float]]:
    """(bucket above the cutoff, cutoff) of ``quality.buckets`` for one language; none
    when buckets are off or the language had too few documents for cutoffs."""
    cutoffs = (stats.get("buckets") or {}).get("cutoffs")
    if not isinstance(cutoffs, Mapping):
        return []
    values = ((cutoffs.get("languages") or {}).get(lang) or {}).get("cutoffs") or []
    names = list(cutoffs.get("names") or [])[1:]
    return [(name, float(value)) for name, value in zip(names, values, strict=False)]


def quality_description(stats: Mapping[str, Any]) -> str:
    """The model in a few words: trained/given fastText files, or the HF model."""
    if stats.get("engine") == "hf":
        model = stats.get("model") or {}
        name = model.get("repo_id") or model.get("path") or "?"
        rev = f"@{str(model['revision'])[:12]}" if model.get("revision") else ""
        return f"hf {name}{rev} ({model.get('score')}, {model.get('device')})"
    models = stats.get("models") or {}
    kinds = ", ".join(f"{lang}: {m.get('kind')}" for lang, m in sorted(models.items()))
    return f"fastText ({kinds})"


def draw_quality(fig, summary: Mapping[str, Any], final: pd.DataFrame) -> None:
    """One panel per language: documents per score bin, bins below the bound in red,
    and the quality bucket cutoffs (``quality.buckets``) as dotted lines."""
    stats = (summary.get("stages") or {}).get("quality") or {}
    by_lang = stats.get("by_lang") or {}
    edges = stats.get("score_edges") or []
    if not by_lang or not edges:
        ax = fig.add_subplot(1, 1, 1)
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no document was scored", ha="center", va="center")
        return
    langs = sorted(by_lang)[:6]
    edges = np.asarray(edges, dtype=float)
    centers, width = (edges[:-1] + edges[1:]) / 2, edges[1] - edges[0]
    for i, lang in enumerate(langs):
        entry = by_lang[lang]
        ax = fig.add_subplot(1, len(langs), i + 1)
        counts = np.asarray(entry.get("score_hist") or [0] * len(centers), dtype=float)
        bound = entry.get("min_score")
        below = centers < bound if isinstance(bound, int | float) else np.zeros(len(centers), bool)
        ax.bar(centers, counts, width=width * 0.9, color=np.where(below, REJECTED, KEPT))
        if isinstance(bound, int | float):
            ax.axvline(bound, color=BOUND, linestyle="--", linewidth=1)
            ax.text(bound, ax.get_ylim()[1] * 0.95, f" min {bound:g}", fontsize=8, va="top")
        for name, cutoff in bucket_cutoffs(stats, lang):
            ax.axvline(cutoff, color=CUTOFF, linestyle=":", linewidth=1)
            ax.text(cutoff, ax.get_ylim()[1] * 0.8, f" {name}", fontsize=7, color=CUTOFF, va="top")
        ax.set_xlim(edges[0], edges[-1])
        ax.set_xlabel("quality_score")
        ax.set_title(
            f"{lang}: {entry.get('scored', 0):,} scored, {entry.get('rejected', 0):,} below",
            fontsize=9,
        )
        if i == 0:
            ax.set_ylabel("documents")
    fig.text(0.5, 0.01, quality_description(stats), ha="center", fontsize=8)


def quality_lines(stats: Mapping[str, Any]) -> list[str]:
    """The dataset card's paragraph: which model scored the documents, and the bounds."""
    if not stats:
        return []
    by_lang = stats.get("by_lang") or {}
    rows = []
    for lang in sorted(by_lang):
        entry = by_lang[lang]
        scored = int(entry.get("scored", 0))
        mean = float(entry.get("score_sum", 0.0)) / scored if scored else float("nan")
        bound = entry.get("min_score")
        rows.append(
            f"| {lang} | {scored:,} | {mean:.3f} | {'none' if bound is None else f'{bound:g}'} "
            f"| {int(entry.get('rejected', 0)):,} |"
        )
    lines = [
        f"Every document was scored by {quality_description(stats)}; "
        "documents below their language's bound were removed as `low_quality`.",
        "",
    ]
    models = stats.get("models") or {}
    for lang, model in sorted(models.items()):
        lines.append(
            f"- {lang}: `{model.get('file')}` ({model.get('kind')}), sha256 `{model.get('sha256')}`"
        )
    if models:
        lines.append("")
    if rows:
        lines += [
            "| language | scored | mean score | min_score | below |",
            "|---|---|---|---|---|",
            *rows,
            "",
        ]
    if stats.get("unscored"):
        lines += [f"{stats['unscored']:,} documents had no model for their language.", ""]
    return lines + _bucket_lines(stats)


def _bucket_lines(stats: Mapping[str, Any]) -> list[str]:
    """quality.buckets: the percentiles, the bucket names and each language's cutoffs."""
    cutoffs = (stats.get("buckets") or {}).get("cutoffs")
    if not isinstance(cutoffs, Mapping):
        return []
    per_lang = [
        f"{lang} {', '.join(f'{c:g}' for _, c in bucket_cutoffs(stats, lang)) or 'none'}"
        for lang in sorted(cutoffs.get("languages", {}))
    ]
    return [
        f"Each document has `quality_bucket`: {' / '.join(cutoffs['names'])} split at the "
        f"percentiles {', '.join(f'{p:g}' for p in cutoffs['percentiles'])} of its language's "
        f"kept scores over the whole build (cutoffs: {'; '.join(per_lang) or 'none'}); "
        f"languages with fewer than {cutoffs['min_docs']} scored documents and documents "
        "without a score are `unbucketed`.",
        "",
    ]
