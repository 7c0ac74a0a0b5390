"""What a build tells its readers: plots, a Hugging Face dataset card, a provenance manifest.

Everything here reads the gathered ``results/stats/summary.json``
(``corpusforge.stats``) and the final jsonl files, whatever stages the build
had: a plot that needs a column or a stage (perplexity, buckets, duplicate
clusters) is declared only when its stage is in ``DOC_STAGES`` (``plot_names``)
and draws a note instead of an empty chart if the data is missing anyway.

Plots are PNGs drawn with matplotlib's Agg backend (no display needed), with
fixed sizes, fonts and orderings, so the same data gives the same figure.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import posixpath
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import yaml

from .export import WEB_FIELDS
from .io import dumps_json

# ---------------------------------------------------------------- which plots


@dataclass(frozen=True)
class PlotSpec:
    name: str
    title: str
    category: str
    needs_stage: str | None = None  # declared only when this document stage runs


PLOTS = (
    PlotSpec("funnel", "Records per stage: kept and rejected by reason", "1. Pipeline"),
    PlotSpec("origins", "Generated and web documents after each stage", "1. Pipeline", "collect"),
    PlotSpec("languages", "Documents and tokens per language", "2. Corpus"),
    PlotSpec("lengths", "Document length in tokens per language", "2. Corpus"),
    PlotSpec(
        "format_audience", "Format x audience of the generated documents", "2. Corpus", "generate"
    ),
    PlotSpec(
        "perplexity", "Perplexity per language, with bucket cutoffs", "3. Cleaning", "perplexity"
    ),
    PlotSpec(
        "buckets", "Documents per language and perplexity bucket", "3. Cleaning", "perplexity"
    ),
    PlotSpec("duplicates", "Duplicate cluster sizes", "3. Cleaning", "dedup"),
)
PLOT_SPECS = {spec.name: spec for spec in PLOTS}


def plot_names(doc_stages: Sequence[str]) -> list[str]:
    """The plots a build with these document stages draws, in report order."""
    return [p.name for p in PLOTS if p.needs_stage is None or p.needs_stage in doc_stages]


# ---------------------------------------------------------------- drawing

FIGSIZE = (9.0, 5.0)
DPI = 100
KEPT_COLOR = "#2e7d32"
PALETTE = (
    "#c62828",
    "#ef6c00",
    "#6a1b9a",
    "#1565c0",
    "#00838f",
    "#9e9d24",
    "#4e342e",
    "#ad1457",
    "#37474f",
    "#f9a825",
)
MAX_LANGS = 12
# Colours of the document origins (corpusforge.collect): fixed, so a figure reads alike in
# every build; other origins take the palette from its end.
ORIGIN_COLORS = {"generated": "#6a1b9a", "web": "#00838f"}
ORIGIN_ORDER = ("generated", "web")
ORIGIN_STYLES = ("-", "--", ":", "-.")
# The funnel's legend turns compact past this many rejection reasons.
MAX_LEGEND_ROWS = 14


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "font.family": "DejaVu Sans",
            "font.size": 9,
            "axes.titlesize": 11,
            "figure.dpi": DPI,
            "savefig.dpi": DPI,
            "svg.hashsalt": "corpusforge",
        }
    )
    return plt


def _integer_axis(axis) -> None:
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def _note(ax, text: str) -> None:
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=11, color="#555555")


def _langs(final: pd.DataFrame) -> pd.Series:
    return final["lang"].astype(object).where(final["lang"].notna(), "unknown").astype(str)


def _top_langs(langs: pd.Series) -> list[str]:
    order = langs.value_counts()
    order = order.reindex(sorted(order.index)).sort_values(ascending=False, kind="stable")
    return [str(x) for x in order.index[:MAX_LANGS]]


def _origins(final: pd.DataFrame) -> pd.Series:
    """The ``origin`` of each document (``generated`` where unset, as in corpusforge.stats)."""
    if "origin" not in final.columns:
        return pd.Series("generated", index=final.index, dtype=object)
    return final["origin"].astype(object).where(final["origin"].notna(), "generated").astype(str)


def origin_order(names: Iterable[str]) -> list[str]:
    """Origins as shown: generated, web, then any other in name order."""
    names = set(names)
    return [o for o in ORIGIN_ORDER if o in names] + sorted(names - set(ORIGIN_ORDER))


def origin_colors(names: Sequence[str]) -> dict[str, str]:
    others = [n for n in names if n not in ORIGIN_COLORS]
    return {
        **{n: ORIGIN_COLORS[n] for n in names if n in ORIGIN_COLORS},
        **{n: PALETTE[-1 - i % len(PALETTE)] for i, n in enumerate(others)},
    }


def distinct_colors(n: int) -> list[str]:
    """``n`` colours: the palette first, then matplotlib's tab20 and tab20b sets less their
    greens (green is for kept records)."""
    if n <= len(PALETTE):
        return list(PALETTE[:n])
    from matplotlib import colormaps
    from matplotlib.colors import rgb_to_hsv, to_hex

    extra = [
        to_hex(c)
        for name in ("tab20", "tab20b")
        for c in colormaps[name].colors
        if not 0.18 <= rgb_to_hsv(c)[0] <= 0.45
    ]
    colors = [*PALETTE, *(c for c in extra if c not in PALETTE)]
    return [colors[i % len(colors)] for i in range(n)]


def funnel_reasons(funnel: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """The funnel's legend entries and the rejection reasons each one stands for.

    One entry per reason; past ``MAX_LEGEND_ROWS`` entries the rule names of the
    filters (``gopher_quality.word_count``, ...) are grouped by rule set
    (``gopher_quality.*``): the card and the summary keep the rule by rule counts.
    """
    reasons = sorted({r for e in funnel for r in (e.get("rejected_by_reason") or {})})
    groups: dict[str, list[str]] = {r: [r] for r in reasons}
    if len(reasons) + 1 > MAX_LEGEND_ROWS:
        groups = {}
        for reason in reasons:
            label = f"{reason.split('.', 1)[0]}.*" if "." in reason else reason
            groups.setdefault(label, []).append(reason)
    return groups


def draw_funnel(ax, summary: Mapping[str, Any], final: pd.DataFrame) -> None:
    funnel = summary.get("funnel") or []
    if not funnel:
        _note(ax, "no stages in the summary")
        return
    stages = [e["stage"] for e in funnel]
    groups = funnel_reasons(funnel)
    colors = dict(zip(groups, distinct_colors(len(groups)), strict=True))
    y = np.arange(len(stages))[::-1]
    kept = np.array([e["kept"] for e in funnel], dtype=float)
    ax.barh(y, kept, color=KEPT_COLOR, label="kept")
    left = kept.copy()
    for label, members in groups.items():
        widths = np.array(
            [sum((e.get("rejected_by_reason") or {}).get(r, 0) for r in members) for e in funnel]
        )
        if widths.any():
            ax.barh(y, widths, left=left, color=colors[label], label=f"rejected: {label}")
            left += widths
    for yi, entry in zip(y, funnel, strict=True):
        ax.text(
            max(entry["in"], entry["kept"] + entry["rejected"]),
            yi,
            f"  {entry['kept']:,} / {entry['in']:,}",
            va="center",
            fontsize=8,
        )
    ax.set_yticks(y, stages)
    ax.set_xlabel("records entering the stage (kept / in)")
    _integer_axis(ax.xaxis)
    ax.set_xlim(0, max(1, max(e["in"] for e in funnel)) * 1.18)
    # still many entries: two columns of smaller type
    compact = len(groups) + 1 > MAX_LEGEND_ROWS
    ax.legend(
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=6 if compact else 8,
        ncol=2 if compact else 1,
        frameon=False,
    )


def draw_languages(ax, summary: Mapping[str, Any], final: pd.DataFrame) -> None:
    if final.empty:
        _note(ax, "the corpus has no documents")
        return
    langs = _langs(final)
    top = _top_langs(langs)
    docs = langs.value_counts().reindex(top).fillna(0).to_numpy()
    tokens = (
        pd.to_numeric(final["token_length"], errors="coerce")
        .fillna(0)
        .groupby(langs.to_numpy())
        .sum()
        .reindex(top)
        .fillna(0)
        .to_numpy()
    )
    x = np.arange(len(top))
    ax.bar(x - 0.2, docs, width=0.4, color="#1565c0", label="documents")
    ax.set_ylabel("documents")
    _integer_axis(ax.yaxis)
    ax.set_xticks(x, top)
    twin = ax.twinx()
    twin.bar(x + 0.2, tokens, width=0.4, color="#ef6c00", label="tokens")
    twin.set_ylabel("tokens")
    for xi, (d, t) in enumerate(zip(docs, tokens, strict=True)):
        ax.text(xi - 0.2, d, f"{int(d):,}", ha="center", va="bottom", fontsize=8)
        twin.text(xi + 0.2, t, f"{int(t):,}", ha="center", va="bottom", fontsize=8)
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    ax.legend(handles, ["documents", "tokens"], loc="upper right", fontsize=8, frameon=False)
    ax.set_xlabel("language of the final documents")


def draw_lengths(ax, summary: Mapping[str, Any], final: pd.DataFrame) -> None:
    lengths = pd.to_numeric(final["token_length"], errors="coerce")
    if lengths.notna().sum() == 0:
        _note(ax, "no token lengths in the final documents")
        return
    langs = _langs(final)
    origins = _origins(final)
    present = origin_order(origins[lengths.notna().to_numpy()].unique())
    split = len(present) > 1  # one line style per origin
    top = _top_langs(langs[lengths.notna().to_numpy()])
    hi = float(lengths.max())
    bins = np.linspace(0, max(hi, 1.0), 31)
    for i, lang in enumerate(top):
        for j, origin in enumerate(present):
            mask = (langs == lang).to_numpy() & (origins == origin).to_numpy()
            values = lengths[mask].dropna().to_numpy()
            if not len(values):
                continue
            name = f"{lang} {origin}" if split else lang
            ax.hist(
                values,
                bins=bins,
                histtype="step",
                linewidth=1.6,
                linestyle=ORIGIN_STYLES[j % len(ORIGIN_STYLES)],
                color=PALETTE[(i + 3) % len(PALETTE)],
                label=f"{name} (n={len(values):,}, median {np.median(values):.0f})",
            )
    if present == ["generated"]:
        label = "completion tokens per document"
    elif "generated" in present:
        label = "tokens per document (generated: completion tokens, others: model tokenizer)"
    else:
        label = "tokens per document (model tokenizer)"
    # web documents have no finish reason ("unknown" in the corpus counts)
    reasons = summary.get("corpus", {}).get("finish_reasons") or {}
    if "generated" in present:
        shown = ", ".join(f"{k}: {v:,}" for k, v in reasons.items() if k != "unknown" or not split)
        label += f"   (finish reasons {shown})" if shown else ""
    ax.set_xlabel(label)
    ax.set_ylabel("documents")
    _integer_axis(ax.yaxis)
    ax.legend(fontsize=8, frameon=False)


def generated_format_audience(summary: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """The corpus's format x audience counts without the web documents (which have neither).

    Web documents are counted as ``unknown`` x ``unknown`` in ``corpus.format_audience``;
    their number (``origins.corpus.web.documents``) is taken off that cell.
    """
    table = {
        f: dict(row) for f, row in (summary.get("corpus", {}).get("format_audience") or {}).items()
    }
    web = (((summary.get("origins") or {}).get("corpus") or {}).get("web") or {}).get("documents")
    if web and "unknown" in table:
        left = table["unknown"].get("unknown", 0) - int(web)
        if left > 0:
            table["unknown"]["unknown"] = left
        else:
            table["unknown"].pop("unknown", None)
        if not any(table["unknown"].values()):
            del table["unknown"]
    return table


def draw_format_audience(ax, summary: Mapping[str, Any], final: pd.DataFrame) -> None:
    table = generated_format_audience(summary)
    if not table:
        _note(ax, "no generated document in the corpus")
        return
    formats = sorted(table)
    audiences = sorted({a for row in table.values() for a in row})
    grid = np.array([[table[f].get(a, 0) for a in audiences] for f in formats], dtype=float)
    image = ax.imshow(grid, cmap="Blues", aspect="auto")
    ax.set_xticks(np.arange(len(audiences)), [a.replace("_", " ") for a in audiences])
    ax.set_yticks(np.arange(len(formats)), [f.replace("_", " ") for f in formats])
    ax.tick_params(axis="x", labelrotation=20)
    top = grid.max() if grid.size else 0
    for i in range(len(formats)):
        for j in range(len(audiences)):
            value = int(grid[i, j])
            ax.text(
                j,
                i,
                f"{value:,}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if top and value > top * 0.6 else "black",
            )
    ax.figure.colorbar(image, ax=ax, label="documents")


# Entries of a cutoffs mapping that are cutoffs (others, e.g. document counts or
# percentile tables, are not drawn when one of these is present).
CUTOFF_KEYS = ("head_max", "tail_min", "head", "middle", "tail", "cutoffs", "cutoff")


def cutoff_lines(value: Any, label: str = "") -> list[tuple[str, float]]:
    """(label, cutoff) pairs from a number, a list of numbers or a mapping of them.

    In a mapping with cutoff keys (``CUTOFF_KEYS``: e.g. ``head_max`` and
    ``tail_min``) only those count; otherwise every numeric entry but counts
    (``*_docs``) and percentile tables does.
    """
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [(label, float(value))] if np.isfinite(value) else []
    if isinstance(value, list | tuple):
        out = []
        for i, item in enumerate(value):
            out += cutoff_lines(item, f"{label}.{i + 1}" if label else f"cutoff {i + 1}")
        return out
    if isinstance(value, Mapping):
        keys = [k for k in value if str(k) in CUTOFF_KEYS]
        if not keys:
            keys = [
                k
                for k in value
                if not str(k).endswith("_docs") and "percentile" not in str(k) and k != "min_docs"
            ]
        out = []
        for key in sorted(keys, key=str):
            name = label if key == "cutoffs" else f"{label}.{key}" if label else str(key)
            out += cutoff_lines(value[key], name)
        return out
    return []


def cutoffs_for(cutoffs: Any, lang: str, depth: int = 0) -> list[tuple[str, float]]:
    """The cutoffs of one language from the cutoffs JSON, whatever its nesting.

    ``{"en": [340, 520]}``, ``{"en": {"head": 340, "middle": 520}}`` and the same
    under a wrapper key (``{"cutoffs": {...}}``) are understood.
    """
    if not isinstance(cutoffs, Mapping) or depth > 2:
        return []
    if lang in cutoffs:
        return cutoff_lines(cutoffs[lang])
    for value in cutoffs.values():
        found = cutoffs_for(value, lang, depth + 1)
        if found:
            return found
    return []


def draw_perplexity(fig, summary: Mapping[str, Any], final: pd.DataFrame) -> None:
    ppl = pd.to_numeric(final["perplexity"], errors="coerce")
    valid = (ppl > 0) & np.isfinite(ppl)
    if valid.sum() == 0:
        _note(fig.add_subplot(1, 1, 1), "no perplexity in the final documents")
        return
    langs = _langs(final)[valid.to_numpy()]
    values = ppl[valid]
    top = _top_langs(langs)
    cutoffs = (summary.get("perplexity") or {}).get("cutoffs")
    cols = min(3, len(top))
    rows = int(np.ceil(len(top) / cols))
    for i, lang in enumerate(top):
        ax = fig.add_subplot(rows, cols, i + 1)
        data = values[(langs == lang).to_numpy()].to_numpy()
        lines = cutoffs_for(cutoffs, lang)
        lo = min([data.min(), *[v for _, v in lines if v > 0]])
        hi = max([data.max(), *[v for _, v in lines]])
        bins = np.logspace(np.log10(lo * 0.9), np.log10(hi * 1.1), 30)
        ax.hist(data, bins=bins, color="#1565c0", alpha=0.8)
        ax.set_xscale("log")
        for j, (name, cut) in enumerate(lines):
            color = PALETTE[j % len(PALETTE)]
            ax.axvline(cut, color=color, linestyle="--", linewidth=1.4, label=f"{name}: {cut:,.0f}")
        ax.set_title(f"{lang} (n={len(data):,})", fontsize=10)
        _integer_axis(ax.yaxis)
        ax.set_xlabel("perplexity (log scale)")
        if lines:
            ax.legend(fontsize=7, frameon=False)
        else:
            ax.text(0.98, 0.95, "no cutoffs", ha="right", va="top", transform=ax.transAxes)


def draw_buckets(ax, summary: Mapping[str, Any], final: pd.DataFrame) -> None:
    table = summary.get("corpus", {}).get("by_lang_bucket") or {}
    if not table:
        _note(ax, "no buckets in the final documents")
        return
    langs = sorted(table, key=lambda k: (-sum(table[k].values()), k))[:MAX_LANGS]
    buckets = sorted({b for row in table.values() for b in row})
    order = [b for b in ("head", "middle", "tail", "all") if b in buckets]
    buckets = order + [b for b in buckets if b not in order]
    x = np.arange(len(langs))
    width = 0.8 / max(1, len(buckets))
    for i, bucket in enumerate(buckets):
        heights = [table[lang].get(bucket, 0) for lang in langs]
        pos = x - 0.4 + width * (i + 0.5)
        ax.bar(pos, heights, width=width, color=PALETTE[(i + 3) % len(PALETTE)], label=bucket)
        for p, h in zip(pos, heights, strict=True):
            ax.text(p, h, f"{h:,}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, langs)
    ax.set_xlabel("language")
    ax.set_ylabel("documents")
    _integer_axis(ax.yaxis)
    ax.legend(title="bucket", fontsize=8, frameon=False)


def size_group(size: int) -> str:
    """A cluster size as shown: exact up to 10, then power-of-two ranges (11-16, 17-32, ...)."""
    if size <= 10:
        return str(size)
    hi = 1 << (size - 1).bit_length()
    return f"{max(11, hi // 2 + 1)}-{hi}"


def draw_duplicates(ax, summary: Mapping[str, Any], final: pd.DataFrame) -> None:
    dedup = summary.get("dedup")
    if not dedup or not dedup.get("cluster_sizes"):
        _note(ax, "no duplicates were removed")
        return
    groups: dict[str, int] = {}
    for row in dedup["cluster_sizes"]:
        groups[size_group(int(row["size"]))] = groups.get(size_group(int(row["size"])), 0) + int(
            row["clusters"]
        )
    labels, clusters = list(groups), list(groups.values())
    x = np.arange(len(labels))
    ax.bar(x, clusters, color="#6a1b9a")
    for xi, c in zip(x, clusters, strict=True):
        ax.text(xi, c, f"{c:,}", ha="center", va="bottom", fontsize=8)
    if max(clusters) > 50 * min(clusters):
        ax.set_yscale("log")
    ax.set_xticks(x, labels)
    ax.set_xlabel("documents per cluster (the kept one and its removed duplicates)")
    if ax.get_yscale() == "linear":
        _integer_axis(ax.yaxis)
    ax.set_ylabel("clusters")
    removed = ", ".join(f"{k}: {v:,}" for k, v in dedup.get("removed_by_reason", {}).items())
    ax.text(
        0.98,
        0.95,
        f"{dedup['clusters']:,} clusters, {dedup['removed']:,} removed\n{removed}",
        ha="right",
        va="top",
        transform=ax.transAxes,
        fontsize=8,
    )


def draw_origins(fig, summary: Mapping[str, Any], final: pd.DataFrame) -> None:
    origins = summary.get("origins") or {}
    by_stage = origins.get("by_stage") or {}
    if not by_stage:
        _note(fig.add_subplot(1, 1, 1), "no origins in the summary (the collect stage did not run)")
        return
    order = [s for s in summary.get("doc_stages") or [] if s in by_stage]
    stages = order + sorted(s for s in by_stage if s not in order)
    names = origin_order(o for row in by_stage.values() for o in row)
    colors = origin_colors(names)
    target = origins.get("target") or {}
    x = np.arange(len(stages))
    for k, unit in enumerate(("documents", "tokens")):
        ax = fig.add_subplot(1, 2, k + 1)
        bottom = np.zeros(len(stages))
        for name in names:
            heights = np.array(
                [(by_stage[s].get(name) or {}).get(unit, 0) for s in stages], dtype=float
            )
            ax.bar(x, heights, bottom=bottom, width=0.7, color=colors[name], label=name)
            bottom += heights
        if "web" in names and len(names) > 1:  # the web share above each bar
            for xi, stage in enumerate(stages):
                share = (by_stage[stage].get("web") or {}).get(f"share_{unit}", 0.0)
                ax.text(xi, bottom[xi], f"{share:.0%}", ha="center", va="bottom", fontsize=7)
        ax.set_xticks(x, stages, rotation=30, ha="right")
        ax.set_ylim(0, max(1.0, float(bottom.max())) * 1.12)
        _integer_axis(ax.yaxis)
        ax.set_ylabel(unit)
        title = unit
        if "web" in names and len(names) > 1:
            title += ": web share on top"
        if target.get("web_share") is not None and target.get("unit", "tokens") == unit:
            title += f" (target {float(target['web_share']):.0%})"
        ax.set_title(title, fontsize=10)
    # beside the figure's title, clear of the bars
    handles, labels = fig.axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper right", ncol=len(names), fontsize=8, frameon=False)


DRAW_AXES = {
    "funnel": draw_funnel,
    "languages": draw_languages,
    "lengths": draw_lengths,
    "format_audience": draw_format_audience,
    "buckets": draw_buckets,
    "duplicates": draw_duplicates,
}
DRAW_FIGURE = {"perplexity": draw_perplexity, "origins": draw_origins}


def draw_plot(name: str, summary: Mapping[str, Any], final: pd.DataFrame, path: str | Path) -> None:
    """Draw one plot to a PNG at ``path`` (written atomically)."""
    from .io import atomic_output

    plt = _pyplot()
    spec = PLOT_SPECS[name]
    fig = plt.figure(figsize=FIGSIZE)
    try:
        if name in DRAW_FIGURE:
            DRAW_FIGURE[name](fig, summary, final)
        else:
            DRAW_AXES[name](fig.add_subplot(1, 1, 1), summary, final)
        fig.suptitle(spec.title, fontsize=12)
        fig.tight_layout()
        with atomic_output(path, suffix=".png") as tmp:
            fig.savefig(tmp, format="png", metadata={"Software": None})
    finally:
        plt.close(fig)


def draw_plots(
    summary: Mapping[str, Any], final: pd.DataFrame, outputs: Mapping[str, str | Path]
) -> None:
    for name, path in outputs.items():
        draw_plot(name, summary, final, path)


# ---------------------------------------------------------------- dataset card

SIZE_CATEGORIES = (
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
    (10_000_000_000, "1B<n<10B"),
)


def size_category(n: int) -> str:
    for limit, name in SIZE_CATEGORIES:
        if n < limit:
            return name
    return "n>10B"


def data_configs(paths: Sequence[str], card_dir: str | Path) -> list[dict[str, Any]]:
    """Hugging Face ``configs``: ``default`` (every file), then one per partition folder.

    With the corpus partitioned as ``{lang}/{bucket}/corpus-*.jsonl`` this gives
    ``en``, ``en_head``, ...; a flat folder has only ``default``. Files are listed
    one by one (relative to the card), so stale files beside them are never picked up.
    """
    rel = sorted(
        os.path.relpath(os.path.abspath(p), os.path.abspath(card_dir)).replace(os.sep, "/")
        for p in paths
    )
    configs = [
        {"config_name": "default", "default": True, "data_files": [{"split": "train", "path": rel}]}
    ]
    groups: dict[str, list[str]] = {}
    for path in rel:
        parts = posixpath.dirname(path).split("/")
        if parts == [""]:
            continue
        for depth in range(1, len(parts) + 1):
            groups.setdefault("_".join(parts[:depth]), []).append(path)
    for name in sorted(groups):
        if name != "default":
            configs.append(
                {"config_name": name, "data_files": [{"split": "train", "path": groups[name]}]}
            )
    return configs


def _with_data(paths: Sequence[str]) -> list[str]:
    """The paths that are not empty files (a shard may have no document of a partition)."""
    return [p for p in paths if not (os.path.isfile(p) and os.path.getsize(p) == 0)]


def _yaml_block(value: Any) -> str:
    return yaml.safe_dump(value, allow_unicode=True, sort_keys=True, width=100).rstrip()


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if value is None:
        return ""
    return str(value).replace("|", "\\|").replace("\n", " ")


def _source_text(source: Mapping[str, Any]) -> str:
    if "path" in source:
        return f"local file `{source['path']}`"
    if "url" in source:
        return f"<{source['url']}>"
    if "hf" in source:
        hf = source["hf"]
        return (
            f"Hugging Face {hf.get('repo_type', 'dataset')} `{hf['repo_id']}`, "
            f"file `{hf['filename']}` at revision `{hf['revision']}`"
        )
    return "?"


def _model_text(model: Mapping[str, Any]) -> str:
    source = model.get("source")
    if source == "gguf":
        where = model.get("path") or f"{model.get('package')}/{model.get('file')}"
        dtype = model.get("dtype", "bfloat16")
        return f"`{model['name']}`: GGUF `{where}` converted to a Hugging Face folder ({dtype})"
    if source == "hf":
        repo, revision = model.get("repo_id"), model.get("revision")
        return f"`{model['name']}`: Hugging Face `{repo}` at revision `{revision}`"
    return f"`{model['name']}`: local folder `{model.get('path')}`"


# Where the documents come from (rules/common.smk's SOURCE_STAGES); the rest clean them.
SOURCE_STAGES = ("generate", "collect")
# The card's title when the config names none, per mode. config/config.yaml ships the
# generate one: a web or mixed build with that very name gets its own instead.
DEFAULT_NAMES = {
    "generate": "corpusforge synthetic corpus",
    "web": "corpusforge web corpus",
    "both": "corpusforge mixed corpus",
}
CRAWL_TEXT = {
    "warc": "`warc`: HTTP responses of WARC files, the main text of each HTML page "
    "extracted with trafilatura",
    "wet": "`wet`: the plain text Common Crawl extracted (WET files)",
}
GENERATION_FIELDS = (
    "format",
    "audience",
    "prompt",
    "seed_data",
    "topic",
    "finish_reason",
    "model",
    "prompt_id",
)
# Fields the cleaning stages add to the documents they keep.
STAGE_FIELDS = {
    "langid": "`lang_score` (langid)",
    "perplexity": "`perplexity` and `bucket` (perplexity)",
    "dedup": "`dup_count` (dedup: duplicates removed in favour of the document)",
}
YAML_FOLD_LINES = 15  # longer configured sections are folded in <details>


def card_mode(summary: Mapping[str, Any], settings: Mapping[str, Any]) -> str:
    """``generate``, ``web`` or ``both``: from the settings, else the summary, else the stages."""
    for mode in (settings.get("mode"), summary.get("mode")):
        if mode in DEFAULT_NAMES:
            return str(mode)
    stages = settings.get("doc_stages") or summary.get("doc_stages") or []
    if "collect" in stages:
        return "both" if "generate" in stages else "web"
    return "generate"


def seed_format(seed: Mapping[str, Any]) -> str | None:
    """A seed's file format: as configured, else from its file name (None if unknown)."""
    from .seed import SeedError, detect_format

    if seed.get("format"):
        return str(seed["format"])
    source = seed.get("source") or {}
    name = source.get("path") or (source.get("hf") or {}).get("filename")
    if not name and source.get("url"):
        name = urlsplit(str(source["url"])).path
    if not name:
        return None
    try:
        return detect_format(Path(str(name)))[0]
    except SeedError:
        return None


def _count(n: Any, noun: str) -> str:
    """``1 document``, ``2 documents``."""
    return f"{int(n):,} {noun}" + ("" if int(n) == 1 else "s")


def _by_reason(counts: Mapping[str, Any] | None) -> str:
    return ", ".join(f"{k}: {v:,}" for k, v in (counts or {}).items())


def _codes(names: Iterable[Any]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def _share(value: Any) -> str:
    return f"{float(value):.1%}" if isinstance(value, int | float) else ""


def _funnel_entry(summary: Mapping[str, Any], stage: str) -> Mapping[str, Any] | None:
    return next((e for e in summary.get("funnel", []) if e["stage"] == stage), None)


def _yaml_section(title: str, value: Any) -> list[str]:
    block = _yaml_block(value)
    if block.count("\n") + 1 <= YAML_FOLD_LINES:
        return [f"{title}:", "", "```yaml", block, "```", ""]
    return [
        f"<details><summary>{title}</summary>",
        "",
        "```yaml",
        block,
        "```",
        "",
        "</details>",
        "",
    ]


def _origin_rows(shares: Mapping[str, Mapping[str, Any]]) -> list[list[Any]]:
    return [
        [
            name,
            shares[name].get("documents"),
            _share(shares[name].get("share_documents")),
            shares[name].get("tokens"),
            _share(shares[name].get("share_tokens")),
        ]
        for name in origin_order(shares)
    ]


def target_text(summary: Mapping[str, Any]) -> str:
    """What the mix stage aimed at and reached (empty without a mix stage)."""
    origins = summary.get("origins") or {}
    target = origins.get("target")
    if target is None:
        return ""
    share, unit = target.get("web_share"), target.get("unit") or "tokens"
    if share is None:
        return (
            "No target web share was set (`mix.web_share: null`): the mix stage kept every "
            "document and only recorded the shares."
        )
    unreachable = target.get("unreachable")
    reached = ((origins.get("corpus") or {}).get("web") or {}).get(f"share_{unit}", 0.0)
    entry = _funnel_entry(summary, "mix") or {}
    text = (
        f"Target web share: {float(share):.0%} of the {unit} (`mix.web_share`). Each shard was "
        f"downsampled towards it ({entry.get('rejected', 0):,} documents removed as "
        f"`mix_downsampled`); the corpus has {_share(reached)}."
    )
    if unreachable is True:
        text += " No shard had documents of both origins, so none could be mixed."
    elif isinstance(unreachable, list) and True in unreachable:
        text += " Some shards had documents of one origin only and were kept whole."
    return text


def _origin_lines(summary: Mapping[str, Any]) -> list[str]:
    origins = summary.get("origins") or {}
    corpus = origins.get("corpus") or {}
    if not corpus:
        return []
    lines = [
        "Documents and tokens by origin:",
        "",
        _table(
            ["origin", "documents", "share of documents", "tokens", "share of tokens"],
            _origin_rows(corpus),
        ),
        "",
    ]
    target = target_text(summary)
    return lines + ([target, ""] if target else [])


def _origin_stage_lines(summary: Mapping[str, Any]) -> list[str]:
    origins = summary.get("origins") or {}
    by_stage = origins.get("by_stage") or {}
    if not by_stage:
        return []
    order = [s for s in summary.get("doc_stages") or [] if s in by_stage]
    stages = order + sorted(s for s in by_stage if s not in order)
    names = origin_order(
        o for row in [*by_stage.values(), origins.get("corpus") or {}] for o in row
    )
    rows = [(s, by_stage[s]) for s in stages]
    if origins.get("corpus"):
        rows.append(("corpus", origins["corpus"]))
    header = ["after", *[f"{n} {u}" for n in names for u in ("documents", "tokens")]]
    with_share = "web" in names and len(names) > 1
    if with_share:
        header.append("web share (documents / tokens)")
    body = []
    for stage, row in rows:
        cells: list[Any] = [stage]
        for name in names:
            cells += [
                (row.get(name) or {}).get("documents", 0),
                (row.get(name) or {}).get("tokens", 0),
            ]
        if with_share:
            web = row.get("web") or {}
            docs, tokens = web.get("share_documents", 0.0), web.get("share_tokens", 0.0)
            cells.append(f"{_share(docs)} / {_share(tokens)}")
        body.append(cells)
    return [
        "### Generated and web documents",
        "",
        "Every document carries its `origin`; the documents and tokens of each after every "
        "stage from `collect` on:",
        "",
        _table(header, body),
        "",
    ]


def _seed_lines(
    summary: Mapping[str, Any], settings: Mapping[str, Any], model: Mapping[str, Any]
) -> list[str]:
    seeds = settings.get("seeds") or {}
    counts = summary.get("seeds") or {}
    kinds = {name: seed.get("kind", "extracts") for name, seed in seeds.items()}
    formats = {name: seed_format(seed) for name, seed in seeds.items()}
    text: list[str] = []
    if "extracts" in kinds.values():
        text.append("Seeds of kind `extracts` are web extracts turned into prompts (below).")
    if "prompts" in kinds.values():
        text.append("Seeds of kind `prompts` hold ready prompts, used as they are.")
    documents = sorted(n for n, k in kinds.items() if k == "documents")
    if documents:
        crawl = sorted({formats[n] for n in documents} & set(CRAWL_TEXT))
        text.append(
            "Seeds of kind `documents` are the web documents (origin `web`): they skip "
            "prompts and generation and enter the cleaning stages as they are. Their tokens "
            f"are counted with the tokenizer of {_model_text(model)}."
        )
        if crawl:
            text.append(
                "Crawl formats: "
                + "; ".join(CRAWL_TEXT[f] for f in crawl)
                + ". Each page keeps its `url`, `warc_date` and `record_id`; a truncated "
                "record stops the reading of its file (`truncated_record`)."
            )
    lines = ["### Seeds", "", *([" ".join(text), ""] if text else [])]
    lines += [
        _table(
            ["seed", "kind", "format", "source", "rows read", "kept", "rejected by reason"],
            [
                [
                    name,
                    kinds[name],
                    formats[name],
                    _source_text(seed.get("source") or {}),
                    (counts.get(name) or {}).get("in"),
                    (counts.get(name) or {}).get("kept"),
                    _by_reason((counts.get(name) or {}).get("rejected_by_reason")),
                ]
                for name, seed in sorted(seeds.items())
            ],
        ),
        "",
    ]
    return lines


def _prompt_lines(
    prompts: Mapping[str, Any], templates: Mapping[str, Mapping[str, Any]] | None
) -> list[str]:
    lines = [
        "### Prompts",
        "",
        f"Each extract (cut to {prompts.get('max_extract_chars', 1000):,} characters) gets one "
        f"of {len(prompts.get('formats', []))} formats x {len(prompts.get('audiences', []))} "
        f"audiences, chosen by a seeded hash of its id (seed {prompts.get('seed', 0)}); "
        f"{prompts.get('topic_hint_rate', 0.5):.0%} of the extracts with a topic get a topic hint.",
        "",
        f"- formats: {_codes(prompts.get('formats', []))}",
        f"- audiences: {_codes(prompts.get('audiences', []))}",
        "",
    ]
    for path, tpl in sorted((templates or {}).items()):
        lines += [
            f"<details><summary>Template {tpl.get('lang', '?')} (<code>{path}</code>)</summary>",
            "",
            "```",
            str(tpl.get("layout", "")).rstrip(),
            "```",
            "",
            _table(
                ["format", "instruction"],
                [[k, v] for k, v in (tpl.get("formats") or {}).items()],
            ),
            "",
            _table(
                ["audience", "instruction"],
                [[k, v] for k, v in (tpl.get("audiences") or {}).items()],
            ),
            "",
            "</details>",
            "",
        ]
    return lines


def _generation_lines(
    model: Mapping[str, Any], gen: Mapping[str, Any], totals: Mapping[str, Any]
) -> list[str]:
    lines = [
        "### Model and generation",
        "",
        f"- model: {_model_text(model)}",
        f"- engine: {gen.get('engine', 'vllm')}",
        f"- system prompt: {json.dumps(gen.get('system_prompt'), ensure_ascii=False)}",
        "- sampling (each prompt with its own seed derived from `seed` and the prompt id): "
        + ", ".join(f"{k}={v}" for k, v in sorted((gen.get("sampling") or {}).items())),
        "- output filters: "
        + (", ".join(f"{k}={v}" for k, v in sorted((gen.get("filters") or {}).items())) or "none"),
    ]
    if totals:
        lines.append(
            f"- {totals.get('in', 0):,} prompts ({totals.get('prompt_tokens', 0):,} "
            f"tokens), {totals.get('completion_tokens', 0):,} tokens generated, finish "
            "reasons " + _by_reason(totals.get("finish_reasons"))
        )
    return [*lines, ""]


def _rule_order(rule: str, rule_sets: Sequence[str]) -> tuple[int, str]:
    prefix = rule.split(".", 1)[0]
    return (list(rule_sets).index(prefix) if prefix in rule_sets else len(rule_sets), rule)


def _filters_lines(
    stats: Mapping[str, Any], configured: Mapping[str, Any], entry: Mapping[str, Any] | None
) -> list[str]:
    rule_sets = list(stats.get("rule_sets") or configured.get("rule_sets") or [])
    apply_to = list(stats.get("apply_to") or configured.get("apply_to") or [])
    text = "Heuristic rules of Gopher (MassiveText), C4 and SlimPajama"
    if rule_sets:
        text += f", by rule set in this order: {_codes(rule_sets)}"
    text += "."
    if apply_to:
        text += f" They apply to documents of origin {_codes(apply_to)}"
        if stats.get("not_filtered") is not None:
            others = _count(stats["not_filtered"], "document")
            text += f"; {others} of other origins passed untouched"
        text += "."
    if stats.get("lines_removed"):
        changed = stats.get("text_changed")
        causes = stats.get("lines_removed_by_cause")
        text += (
            f" C4's line cleaning removed {_count(stats['lines_removed'], 'line')}"
            + (f" from {_count(changed, 'document')}" if changed else "")
            + (f" ({_by_reason(causes)})" if causes else "")
            + "."
        )
    rejected = stats.get("rejected_by_reason") or (entry or {}).get("rejected_by_reason") or {}
    tokens = (entry or {}).get("tokens_rejected_by_reason") or {}
    lines = [text, ""]
    if rejected:
        lines += [
            "Documents rejected, by the first rule they failed:",
            "",
            _table(
                ["rule", "documents", "tokens"],
                [
                    [rule, rejected[rule], tokens.get(rule)]
                    for rule in sorted(rejected, key=lambda r: _rule_order(r, rule_sets))
                ],
            ),
            "",
        ]
    else:
        lines += ["No document failed a rule.", ""]
    return lines


def _decontam_lines(stats: Mapping[str, Any], configured: Mapping[str, Any]) -> list[str]:
    n = (stats.get("settings") or {}).get("n") or configured.get("n")
    benchmarks = configured.get("benchmarks") or {}
    found = stats.get("contaminated_by_benchmark") or {}
    names = sorted(set(benchmarks) | set(found))
    gram = f"{n}-gram" if n else "n-gram"
    lines = [
        f"Documents sharing a {gram} (of words; of characters for Chinese) with a text of a "
        f"benchmark were removed as `contaminated`; benchmarks: {_codes(names) or 'none'}.",
        "",
    ]
    if names:
        lines += [
            _table(
                ["benchmark", "source", "text fields", "contaminated documents"],
                [
                    [
                        name,
                        _source_text((benchmarks.get(name) or {}).get("source") or {}),
                        ", ".join((benchmarks.get(name) or {}).get("text_fields") or []),
                        int(found.get(name, 0)),
                    ]
                    for name in names
                ],
            ),
            "",
        ]
    return lines


def _stage_lines(summary: Mapping[str, Any], settings: Mapping[str, Any], stage: str) -> list[str]:
    configured = (settings.get("stages") or {}).get(stage) or {}
    stats = (summary.get("stages") or {}).get(stage) or {}
    used = stats.get("settings")
    entry = _funnel_entry(summary, stage)
    lines = [f"#### {stage}", ""]
    if entry:
        reasons = _by_reason(entry.get("rejected_by_reason"))
        lines += [
            f"`{stage}` kept {entry['kept']:,} of {entry['in']:,} documents"
            + (f" (rejected: {reasons})." if reasons else "."),
            "",
        ]
    if stage == "filters":
        lines += _filters_lines(stats, configured, entry)
    elif stage == "decontam":
        lines += _decontam_lines(stats, configured)
    elif stage == "mix":
        lines += [target_text(summary) or "The web share of the corpus was not targeted.", ""]
    if configured:
        lines += _yaml_section("Configured", configured)
    if used:
        lines += _yaml_section("Settings it ran with", used)
    if not configured and not used:
        lines += ["Default settings (config/README.md).", ""]
    return lines


def _field_lines(has_generated: bool, has_web: bool, doc_stages: Sequence[str]) -> list[str]:
    if has_generated and has_web:
        tokens, origins = (
            "completion tokens; the model's tokenizer for web documents",
            "`generated` or `web`",
        )
    elif has_web:
        tokens, origins = "counted with the model's tokenizer", "`web`"
    else:
        tokens, origins = "completion tokens", "`generated`"
    lines = [
        "One JSON object per line (UTF-8). Every document has `id`, `text`, `lang`, "
        f"`token_length` ({tokens}), `seed_id` (the seed row it comes from), `source` (the "
        f"seed's name) and `origin` ({origins}).",
    ]
    generation = _codes(GENERATION_FIELDS)
    if has_generated:
        lines.append(
            f"Generated documents have {generation}"
            + ("; they are null on web documents." if has_web else ".")
        )
    else:
        lines.append(f"The generation fields ({generation}) are null.")
    if has_web:
        lines.append(
            f"Web documents have {_codes(WEB_FIELDS)} from the crawl files (null for other "
            "formats unless mapped in the seed's `columns`)"
            + ("; they are null on generated documents." if has_generated else ".")
        )
    added = [STAGE_FIELDS[s] for s in doc_stages if s in STAGE_FIELDS]
    if added:
        lines.append("Added by the cleaning stages: " + ", ".join(added) + ".")
    return ["## Fields", "", " ".join(lines), ""]


def _limitation_lines(has_generated: bool, has_web: bool) -> list[str]:
    lines = ["## Limitations", ""]
    if has_generated:
        lines += [
            ("The generated texts" if has_web else "The texts")
            + " are machine-generated and may contain errors, repetition or invented facts; "
            "they inherit the biases of the model and of the seed extracts.",
            "",
        ]
    if has_web:
        lines += [
            "The web documents are pages as crawled: the cleaning stages remove much but not "
            "all boilerplate, low-quality, offensive or personal content, and the corpus "
            "inherits the biases of the sites. The texts belong to their authors; each keeps "
            "its `url` where the source gave one.",
            "",
        ]
    lines += [
        "Check the licenses and terms of the seed data"
        + (" (for Common Crawl, its terms of use)" if has_web else "")
        + (" and of the model" if has_generated else "")
        + " before you redistribute the corpus.",
        "",
    ]
    return lines


def dataset_card(
    summary: Mapping[str, Any],
    settings: Mapping[str, Any],
    final_paths: Sequence[str],
    card_dir: str | Path,
    templates: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """The dataset card (README.md beside the corpus) in Hugging Face form.

    ``settings``: what the card states about the build (``card``, ``mode``,
    ``doc_stages``, ``seeds``, ``prompts``, ``model``, ``generation``,
    ``stages``), given to the rule as params; ``templates``: the prompt template
    files by path. The mode (``generate``, ``web``, ``both``) decides what is
    described: prompts and generation when documents were generated, the web
    sources and the share of each origin when seed documents were collected.
    """
    card = dict(settings.get("card") or {})
    mode = card_mode(summary, settings)
    doc_stages = list(settings.get("doc_stages") or summary.get("doc_stages") or [])
    has_generated = mode in ("generate", "both")
    has_web = mode in ("web", "both")
    cleaning = [s for s in doc_stages if s not in SOURCE_STAGES]
    corpus = summary["corpus"]
    n_docs = int(corpus["documents"])
    langs = [k for k in corpus["by_lang"] if k != "unknown"]
    name = card.get("pretty_name")
    if not name or (name == DEFAULT_NAMES["generate"] and mode != "generate"):
        name = DEFAULT_NAMES[mode]
    tags = [
        *(["synthetic"] if has_generated else []),
        *(["web"] if has_web else []),
        "corpusforge",
        *(["cosmopedia-style"] if has_generated else []),
    ]
    header: dict[str, Any] = {
        "pretty_name": name,
        "language": langs,
        "license": card.get("license") or "other",
        "size_categories": [size_category(n_docs)],
        "task_categories": ["text-generation"],
        "tags": tags,
        "configs": data_configs(_with_data(final_paths), card_dir),
    }
    model = settings["model"]
    seeds = settings.get("seeds") or {}
    web_seeds = sorted(n for n, s in seeds.items() if s.get("kind", "extracts") == "documents")
    by_origin = (summary.get("origins") or {}).get("corpus") or {}
    cleaned = ", ".join(cleaning) or "no further stage"
    in_langs = ", ".join(langs) or "no language"
    if mode == "generate":
        intro = (
            f"A synthetic text corpus of **{n_docs:,} documents** "
            f"({corpus['tokens']:,} generated tokens) in {in_langs}, written by the language "
            f"model {_model_text(model)} from web extracts turned into prompts that ask for a "
            "given format and audience, the way Cosmopedia was built, then cleaned by "
            f"{cleaned}."
        )
    elif mode == "web":
        intro = (
            f"A text corpus of **{n_docs:,} documents** ({corpus['tokens']:,} tokens) in "
            f"{in_langs}, taken from web sources (seeds {_codes(web_seeds)}) and cleaned by "
            f"{cleaned}, the way RefinedWeb and CC-NET clean Common Crawl."
        )
    else:
        generated = (by_origin.get("generated") or {}).get("documents")
        web = (by_origin.get("web") or {}).get("documents")
        intro = (
            f"A text corpus of **{n_docs:,} documents** ({corpus['tokens']:,} tokens) in "
            f"{in_langs} from two origins, side by side: "
            + (f"{generated:,} " if generated is not None else "")
            + f"documents written by the language model {_model_text(model)} from prompts "
            "built over web extracts (the way Cosmopedia was built) and "
            + (f"{web:,} " if web is not None else "")
            + f"documents taken from web sources (seeds {_codes(web_seeds)}). All were cleaned "
            f"by {cleaned}; each says where it comes from in `origin`."
        )
    lines = [
        "---",
        yaml.safe_dump(header, allow_unicode=True, sort_keys=False, width=100).rstrip(),
        "---",
        "",
        f"# {header['pretty_name']}",
        "",
    ]
    if card.get("description"):
        lines += [card["description"].strip(), ""]
    lines += [
        intro + " Built with the corpusforge Snakemake workflow; `../manifest.json` records the "
        "resolved configuration, its hash, package versions and file checksums.",
        "",
        "## Counts",
        "",
        _table(
            ["language", "documents", "tokens", "median tokens"],
            [
                [
                    lang,
                    n,
                    corpus.get("tokens_by_lang", {}).get(lang),
                    corpus["token_length"].get(lang, {}).get("median"),
                ]
                for lang, n in corpus["by_lang"].items()
            ],
        ),
        "",
    ]
    if mode == "both" or len(by_origin) > 1:
        lines += _origin_lines(summary)
    if corpus.get("by_lang_bucket"):
        buckets = sorted({b for row in corpus["by_lang_bucket"].values() for b in row})
        lines += [
            "Documents per language and perplexity bucket:",
            "",
            _table(
                ["language", *buckets],
                [
                    [lang, *[row.get(b, 0) for b in buckets]]
                    for lang, row in corpus["by_lang_bucket"].items()
                ],
            ),
            "",
        ]
    table = generated_format_audience(summary) if has_generated else {}
    audiences = sorted({a for row in table.values() for a in row})
    if table:
        lines += [
            ("Generated documents" if has_web else "Documents")
            + " per format (rows) and audience (columns):",
            "",
            _table(
                ["format", *audiences],
                [[f, *[table[f].get(a, 0) for a in audiences]] for f in sorted(table)],
            ),
            "",
        ]
    lines += [
        "## How it was made",
        "",
        "Every record that entered a stage left it either kept or in that stage's rejected "
        "file with a reason; the build fails otherwise. Records per stage:",
        "",
        _table(
            ["stage", "in", "kept", "rejected", "rejected by reason"],
            [
                [
                    e["stage"],
                    e["in"],
                    e["kept"],
                    e["rejected"],
                    _by_reason(e.get("rejected_by_reason")),
                ]
                for e in summary.get("funnel", [])
            ],
        ),
        "",
    ]
    if "collect" in doc_stages and "generate" in doc_stages:
        lines.append(
            "`collect` takes in the generated documents and the rows of the document seeds."
        )
        lines.append("")
    lines += _seed_lines(summary, settings, model)
    if mode == "both":
        lines += _origin_stage_lines(summary)
    if has_generated:
        lines += _prompt_lines(settings.get("prompts") or {}, templates)
        lines += _generation_lines(
            model, settings.get("generation") or {}, summary.get("generation") or {}
        )
    if cleaning:
        lines += ["### Cleaning stages", ""]
    for stage in cleaning:
        lines += _stage_lines(summary, settings, stage)
    if summary.get("perplexity", {}).get("cutoffs") is not None:
        lines += [
            "Perplexity cutoffs of the buckets:",
            "",
            "```json",
            json.dumps(summary["perplexity"]["cutoffs"], sort_keys=True, ensure_ascii=False),
            "```",
            "",
        ]
    if summary.get("dedup"):
        dedup = summary["dedup"]
        lines += [
            f"Deduplication removed {_count(dedup['removed'], 'document')} in "
            f"{_count(dedup['clusters'], 'cluster')} (largest: "
            f"{_count(dedup['largest_cluster'], 'document')}).",
            "",
        ]
    lines += _field_lines(has_generated, has_web, doc_stages)
    lines += _limitation_lines(has_generated, has_web)
    if card.get("citation"):
        lines += ["## Citation", "", "```bibtex", card["citation"].strip(), "```", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- manifest

CHUNK = 1 << 20
# Named inputs of a document stage's rule that are model files (also `model_*`).
MODEL_INPUT_NAMES = frozenset({"model", "lm", "kenlm", "sp", "spm", "sentencepiece", "tokenizer"})
SKIP_NAMES = (".snakemake_timestamp",)


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def checksums(paths: Iterable[str | Path]) -> dict[str, dict[str, Any]]:
    """``{path: {sha256, bytes}}`` of files; folders are walked (sorted, hidden markers skipped)."""
    result: dict[str, dict[str, Any]] = {}
    for path in paths:
        path = Path(path)
        files = (
            sorted(p for p in path.rglob("*") if p.is_file() and p.name not in SKIP_NAMES)
            if path.is_dir()
            else [path]
        )
        for file in files:
            result[file.as_posix()] = {"sha256": sha256_file(file), "bytes": file.stat().st_size}
    return result


def resolve_inputs(values: Iterable[Any], wildcards: Any) -> list[str]:
    """Paths from static paths and input functions (called with ``wildcards``), flattened."""
    paths: list[str] = []
    for value in values:
        found = value(wildcards) if callable(value) else value
        if isinstance(found, str | os.PathLike):
            paths.append(str(found))
        elif found is not None:
            paths.extend(str(p) for p in found)
    return paths


def config_hash(config: Any) -> str:
    """sha256 of the canonical JSON of the resolved config (keys sorted).

    The config goes through JSON once first, so that non-string keys (the n-gram
    sizes of the Gopher rules) are strings before sorting: the manifest's own copy
    of the config hashes to the same value.
    """
    as_json = json.loads(json.dumps(config, default=str))
    return hashlib.sha256(dumps_json(as_json).encode("utf-8")).hexdigest()


def package_versions() -> dict[str, str]:
    """Every installed distribution of this Python environment, by name."""
    versions = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata.get("Name")
        if name:
            versions[name.lower()] = dist.version
    return {k: versions[k] for k in sorted(versions)}


def git_state(folder: str | Path) -> dict[str, Any] | None:
    """Commit and dirtiness of ``folder`` when it is the top of a git checkout, else None."""
    folder = Path(folder).resolve()
    if not (folder / ".git").exists():
        return None

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(folder), *args], capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.CalledProcessError):
        return None
    return {"commit": commit, "dirty": dirty}


def manifest(
    config: Any,
    inputs: Mapping[str, Iterable[str | Path]],
    workflow_dir: str | Path,
    extra_models: Iterable[str | Path] = (),
) -> dict[str, Any]:
    """The provenance of a build.

    ``inputs``: named groups of files to checksum (``models``, ``seeds``,
    ``templates``, ``corpus``, ...); ``extra_models``: model files that are not
    rule inputs (the GGUF a model was converted from).
    """
    groups = {name: checksums(paths) for name, paths in sorted(inputs.items())}
    extra = checksums(p for p in extra_models if Path(p).exists())
    if extra:
        groups["models"] = {**groups.get("models", {}), **extra}
    git = git_state(workflow_dir)
    return {
        "config": config,
        "config_sha256": config_hash(config),
        "workflow": {
            "git_commit": git["commit"] if git else None,
            "git_dirty": git["dirty"] if git else None,
        },
        "python": sys.version.split()[0],
        "platform": f"{platform.system()} {platform.machine()}",
        "packages": package_versions(),
        "files": groups,
    }


def write_text(text: str, path: str | Path) -> None:
    from .io import atomic_output

    with atomic_output(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
