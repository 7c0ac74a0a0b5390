"""The training mixture in the report: its figure and the dataset card's section
(from ``summary.json``'s ``train``, which rule summarize takes from mixture.json)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .markdown import md_table


def draw_mixture(ax, summary: Mapping[str, Any], final: pd.DataFrame) -> None:
    """Tokens per group: available (training split), chosen, and held out."""
    train = summary.get("train") or {}
    groups = train.get("groups") or []
    if not groups:
        ax.text(0.5, 0.5, "no training mixture", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    names = [g["group"] for g in groups]
    x = np.arange(len(names))
    bars = (
        ("available (training split)", [g["train_available"]["tokens"] for g in groups], "#90a4ae"),
        ("chosen", [g["chosen"]["tokens"] for g in groups], "#2e7d32"),
        ("held out", [g["valid"]["tokens"] for g in groups], "#ef6c00"),
    )
    width = 0.8 / len(bars)
    for i, (label, heights, color) in enumerate(bars):
        pos = x - 0.4 + width * (i + 0.5)
        ax.bar(pos, heights, width=width, color=color, label=label)
        for p, h in zip(pos, heights, strict=True):
            ax.text(p, h, f"{h:,}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, [f"{n}\n{g['epochs']:g} epochs" for n, g in zip(names, groups, strict=True)])
    ax.set_xlabel("group (train.groups)")
    ax.set_ylabel("tokens")
    ax.legend(fontsize=8, frameon=False)


def mixture_lines(summary: Mapping[str, Any]) -> list[str]:
    """The card's "Training data" section: the mixture per group and how to read it."""
    train = summary.get("train")
    if not train:
        return []
    rows = [
        [
            g["group"],
            f"{g['train_available']['documents']:,} / {g['train_available']['tokens']:,}",
            f"{g['chosen']['documents']:,} / {g['chosen']['tokens']:,}",
            f"{g['epochs']:g}",
            f"{g['share']:.1%}",
            f"{g['valid']['documents']:,} / {g['valid']['tokens']:,}",
        ]
        for g in train["groups"]
    ]
    lines = [
        "## Training data",
        "",
        f"The corpus tokenized ({train['tokenizer']}, {train['dtype']}), "
        f"{train['valid_fraction']:g} of each group held out for validation by a seeded "
        f"hash of the document id, the rest mixed and shuffled (seed {train['seed']}), "
        f"written as {train['format']} token files. Documents / tokens per group:",
        "",
        md_table(["group", "available", "chosen", "epochs", "share", "held out"], rows),
        "",
    ]
    if train.get("megatron_data_path"):
        lines += [f"Megatron-LM: `--data-path {train['megatron_data_path']}`.", ""]
    return lines
