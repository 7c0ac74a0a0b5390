"""Topic clusters in the report (prompts.topics): one bar per cluster with its
extracts and those kept, coloured by the cluster's fate (a figure), and the topics
with their scores (the dataset card)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from .markdown import md_table

KEPT, DROPPED, UNLABELLED, SIZE = "#2e7d32", "#c62828", "#757575", "#cfd8dc"
MAX_BARS = 40


def cluster_name(entry: Mapping[str, Any]) -> str:
    """``3 Baking bread (7)``; a label the figure's font cannot show is left out."""
    c = entry["cluster"]
    if c < 0:
        return "noise"
    topic = entry.get("topic")
    shown = f" {topic}" if topic and topic.isascii() else ""
    score = entry.get("score")
    return f"{c}{shown}" + (f" ({score:g})" if score is not None else " (unlabelled)")


def draw_topics(ax, summary: Mapping[str, Any], final: pd.DataFrame) -> None:
    clusters = list((summary.get("topics") or {}).get("clusters") or [])[:MAX_BARS]
    if not clusters:
        ax.text(0.5, 0.5, "no clusters", ha="center", va="center", transform=ax.transAxes)
        return
    names = [cluster_name(c) for c in clusters][::-1]
    sizes = [c["size"] for c in clusters][::-1]
    kept = [c["kept"] for c in clusters][::-1]
    colours = [
        (KEPT if c["kept"] else DROPPED) if c.get("score") is not None else UNLABELLED
        for c in clusters
    ][::-1]
    rows = range(len(clusters))
    ax.barh(rows, sizes, color=SIZE, label="extracts")
    ax.barh(rows, kept, color=colours, label="kept for prompts")
    ax.set_yticks(list(rows), names, fontsize=8)
    ax.set_xlabel("extracts")
    min_score = (summary.get("topics") or {}).get("min_score")
    ax.set_title(
        "cluster, topic (educational score 0-10); red: dropped"
        + (f" (score < {min_score:g})" if min_score is not None else "")
        + ", grey: unlabelled",
        fontsize=9,
    )
    ax.legend(loc="lower right", fontsize=8, frameon=False)


def topic_lines(summary: Mapping[str, Any]) -> list[str]:
    """The card's section: every cluster's topic, score, extracts and those kept."""
    topics = summary.get("topics")
    if not topics:
        return []
    rows = [
        [
            "noise" if c["cluster"] < 0 else c["cluster"],
            c.get("topic") or f"(unlabelled: {c.get('label_error') or 'noise'})",
            "" if c.get("score") is None else f"{c['score']:g}",
            c["size"],
            c["kept"],
        ]
        for c in topics["clusters"]
    ]
    return [
        "### Topics",
        "",
        f"The extracts were clustered by topic; the generation model named each cluster "
        f"and rated how educational it is (0-10). Clusters scoring under "
        f"{topics.get('min_score')} were dropped and the prompts balanced over the rest "
        f"({topics.get('balance')}); each prompt names its cluster's topic.",
        "",
        md_table(["cluster", "topic", "score", "extracts", "kept"], rows),
        "",
    ]
