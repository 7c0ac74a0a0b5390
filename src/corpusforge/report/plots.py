"""The report's figures: PNGs drawn from the gathered summary and the final documents.

A plot that needs a column or a stage (perplexity, buckets, duplicate clusters)
is declared only when its stage is in ``DOC_STAGES`` (``plot_names``) and draws a
note instead of an empty chart if the data is missing anyway. Plots are drawn
with matplotlib's Agg backend (no display needed), with fixed sizes, fonts and
orderings, so the same data gives the same figure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..io import atomic_output
from ..records import GENERATED, WEB, origins
from .clean_plot import draw_clean
from .mixture import draw_mixture
from .quality import draw_quality
from .topics import draw_topics


@dataclass(frozen=True)
class PlotSpec:
    name: str
    title: str
    category: str
    needs_stage: str | None = None  # declared only when this document stage (or topics) runs


PLOTS = (
    PlotSpec("funnel", "Records per stage: kept and rejected by reason", "1. Pipeline"),
    PlotSpec(
        "topics", "Topic clusters of the extracts: size, score, kept", "1. Pipeline", "topics"
    ),
    PlotSpec("origins", "Generated and web documents after each stage", "1. Pipeline", "collect"),
    PlotSpec("clean", "What the clean stage changed", "1. Pipeline", "clean"),
    PlotSpec("languages", "Documents and tokens per language", "2. Corpus"),
    PlotSpec("lengths", "Document length in tokens per language", "2. Corpus"),
    PlotSpec(
        "format_audience", "Format x audience of the generated documents", "2. Corpus", "generate"
    ),
    PlotSpec("quality", "Quality score per language, with the threshold", "3. Cleaning", "quality"),
    PlotSpec(
        "perplexity", "Perplexity per language, with bucket cutoffs", "3. Cleaning", "perplexity"
    ),
    PlotSpec(
        "buckets", "Documents per language and perplexity bucket", "3. Cleaning", "perplexity"
    ),
    PlotSpec("duplicates", "Duplicate cluster sizes", "3. Cleaning", "dedup"),
    # "train": drawn when rules/train.smk runs (report.smk adds it to the stages)
    PlotSpec(
        "mixture", "Training mixture: tokens per group, available and chosen", "2. Corpus", "train"
    ),
)


PLOT_SPECS = {spec.name: spec for spec in PLOTS}


def plot_names(doc_stages: Sequence[str]) -> list[str]:
    """The plots a build with these document stages draws, in report order."""
    return [p.name for p in PLOTS if p.needs_stage is None or p.needs_stage in doc_stages]


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
ORIGIN_COLORS = {GENERATED: "#6a1b9a", WEB: "#00838f"}


ORIGIN_ORDER = (GENERATED, WEB)


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
    origin_of = origins(final)
    present = origin_order(origin_of[lengths.notna().to_numpy()].unique())
    split = len(present) > 1  # one line style per origin
    top = _top_langs(langs[lengths.notna().to_numpy()])
    hi = float(lengths.max())
    bins = np.linspace(0, max(hi, 1.0), 31)
    for i, lang in enumerate(top):
        for j, origin in enumerate(present):
            mask = (langs == lang).to_numpy() & (origin_of == origin).to_numpy()
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
    if present == [GENERATED]:
        label = "completion tokens per document"
    elif GENERATED in present:
        label = "tokens per document (generated: completion tokens, others: model tokenizer)"
    else:
        label = "tokens per document (model tokenizer)"
    # web documents have no finish reason ("unknown" in the corpus counts)
    reasons = summary.get("corpus", {}).get("finish_reasons") or {}
    if GENERATED in present:
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


def index_text(summary: Mapping[str, Any]) -> str:
    """What the dedup index removed, per earlier build ("" without an index)."""
    index = summary.get("index")
    if not index:
        return ""
    builds = ", ".join(f"{k}: {v:,}" for k, v in index["documents_removed_by_build"].items())
    return (
        f"against the index: {index['documents_removed']:,} documents"
        + (f" ({builds})" if builds else "")
        + f", {index['lines_removed']:,} lines"
    )


def draw_duplicates(ax, summary: Mapping[str, Any], final: pd.DataFrame) -> None:
    dedup = summary.get("dedup")
    if not dedup or not dedup.get("cluster_sizes"):
        index = index_text(summary)
        _note(ax, "no duplicates were removed" + (f" in the build\n{index}" if index else ""))
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
        f"{dedup['clusters']:,} clusters, {dedup['removed']:,} removed\n{removed}"
        + (f"\n{index_text(summary)}" if summary.get("index") else ""),
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
    "topics": draw_topics,
    "mixture": draw_mixture,
}


DRAW_FIGURE = {
    "perplexity": draw_perplexity,
    "origins": draw_origins,
    "clean": draw_clean,
    "quality": draw_quality,
}


def draw_plot(name: str, summary: Mapping[str, Any], final: pd.DataFrame, path: str | Path) -> None:
    """Draw one plot to a PNG at ``path`` (written atomically)."""
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
