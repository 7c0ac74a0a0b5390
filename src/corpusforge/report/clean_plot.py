"""The report's figure of the clean stage: documents each step changed, PII by kind."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

# summary["clean"] key -> bar label, in the order of the stage's steps.
CHANGED = {
    "unicode_fixed": "ftfy repair",
    "whitespace_fixed": "whitespace",
    "converted_documents": "OpenCC conversion",
    "boilerplate_documents": "site lines removed",
    "pii_documents": "personal data",
    "pinyin_flagged": "pinyin flagged",
}


def _bars(ax, labels: list[str], values: list[int], color: str, xlabel: str) -> None:
    y = list(range(len(labels)))
    ax.barh(y, values, color=color)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    top = max(values) if values else 0
    for yi, v in zip(y, values, strict=True):
        ax.text(v + top * 0.01, yi, f"{v:,}", va="center", fontsize=8)
    ax.set_xlim(0, max(top * 1.15, 1))


def draw_clean(fig, summary: Mapping[str, Any], final: pd.DataFrame) -> None:
    """Left: documents each step changed or found something in; right: PII values by kind."""
    cl = summary.get("clean") or {}
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    if not cl:
        for ax in (left, right):
            ax.set_axis_off()
        left.text(0.5, 0.5, "the clean stage did not run", ha="center", va="center")
        return
    _bars(
        left,
        list(CHANGED.values()),
        [int(cl.get(key, 0)) for key in CHANGED],
        "#00838f",
        f"documents (of {int(cl.get('in', 0)):,} in)",
    )
    pii = cl.get("pii_by_type") or {}
    _bars(right, list(pii), [int(v) for v in pii.values()], "#c62828", "values found")
    right.set_title(f"personal data ({cl.get('pii_mode', 'off')})", fontsize=10)
    rejected = ", ".join(f"{k}: {v:,}" for k, v in (cl.get("rejected_by_reason") or {}).items())
    left.set_title("rejected: " + (rejected or "none"), fontsize=9)
