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

import numpy as np
import pandas as pd
import yaml

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
    PlotSpec("languages", "Documents and tokens per language", "2. Corpus"),
    PlotSpec("lengths", "Generated length per language", "2. Corpus"),
    PlotSpec("format_audience", "Format x audience mix", "2. Corpus"),
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


def draw_funnel(ax, summary: Mapping[str, Any], final: pd.DataFrame) -> None:
    funnel = summary.get("funnel") or []
    if not funnel:
        _note(ax, "no stages in the summary")
        return
    stages = [e["stage"] for e in funnel]
    reasons = sorted({r for e in funnel for r in (e.get("rejected_by_reason") or {})})
    colors = {r: PALETTE[i % len(PALETTE)] for i, r in enumerate(reasons)}
    y = np.arange(len(stages))[::-1]
    kept = np.array([e["kept"] for e in funnel], dtype=float)
    ax.barh(y, kept, color=KEPT_COLOR, label="kept")
    left = kept.copy()
    for reason in reasons:
        widths = np.array([(e.get("rejected_by_reason") or {}).get(reason, 0) for e in funnel])
        if widths.any():
            ax.barh(y, widths, left=left, color=colors[reason], label=f"rejected: {reason}")
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
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)


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
    top = _top_langs(langs[lengths.notna().to_numpy()])
    hi = float(lengths.max())
    bins = np.linspace(0, max(hi, 1.0), 31)
    for i, lang in enumerate(top):
        values = lengths[(langs == lang).to_numpy()].dropna().to_numpy()
        ax.hist(
            values,
            bins=bins,
            histtype="step",
            linewidth=1.6,
            color=PALETTE[(i + 3) % len(PALETTE)],
            label=f"{lang} (n={len(values):,}, median {np.median(values):.0f})",
        )
    reasons = summary.get("corpus", {}).get("finish_reasons") or {}
    shown = ", ".join(f"{k}: {v:,}" for k, v in reasons.items())
    ax.set_xlabel(
        "completion tokens per document" + (f"   (finish reasons {shown})" if shown else "")
    )
    ax.set_ylabel("documents")
    _integer_axis(ax.yaxis)
    ax.legend(fontsize=8, frameon=False)


def draw_format_audience(ax, summary: Mapping[str, Any], final: pd.DataFrame) -> None:
    table = summary.get("corpus", {}).get("format_audience") or {}
    if not table:
        _note(ax, "the corpus has no documents")
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


DRAW_AXES = {
    "funnel": draw_funnel,
    "languages": draw_languages,
    "lengths": draw_lengths,
    "format_audience": draw_format_audience,
    "buckets": draw_buckets,
    "duplicates": draw_duplicates,
}
DRAW_FIGURE = {"perplexity": draw_perplexity}


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


def dataset_card(
    summary: Mapping[str, Any],
    settings: Mapping[str, Any],
    final_paths: Sequence[str],
    card_dir: str | Path,
    templates: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """The dataset card (README.md beside the corpus) in Hugging Face form.

    ``settings``: what the card states about the build (``card``, ``seeds``,
    ``prompts``, ``model``, ``generation``, ``stages``), given to the rule as
    params; ``templates``: the prompt template files by path.
    """
    card = dict(settings.get("card") or {})
    corpus = summary["corpus"]
    n_docs = int(corpus["documents"])
    langs = [k for k in corpus["by_lang"] if k != "unknown"]
    header: dict[str, Any] = {
        "pretty_name": card.get("pretty_name") or "corpusforge synthetic corpus",
        "language": langs,
        "license": card.get("license") or "other",
        "size_categories": [size_category(n_docs)],
        "task_categories": ["text-generation"],
        "tags": ["synthetic", "corpusforge", "cosmopedia-style"],
        "configs": data_configs(_with_data(final_paths), card_dir),
    }
    model = settings["model"]
    gen = settings["generation"]
    prompts = settings["prompts"]
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
    gen_tokens = summary.get("generation", {})
    lines += [
        f"A synthetic text corpus of **{n_docs:,} documents** "
        f"({corpus['tokens']:,} generated tokens) in {', '.join(langs) or 'no language'}, "
        f"written by the language model {_model_text(model)} from web extracts turned into "
        f"prompts that ask for a given format and audience, the way Cosmopedia was built, "
        f"then cleaned by {', '.join(settings.get('doc_stages', [])[1:]) or 'no further stage'}. "
        "Built with the corpusforge Snakemake workflow; `../manifest.json` records the resolved "
        "configuration, its hash, package versions and file checksums.",
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
    table = corpus.get("format_audience") or {}
    audiences = sorted({a for row in table.values() for a in row})
    if table:
        lines += [
            "Documents per format (rows) and audience (columns):",
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
                    ", ".join(
                        f"{k}: {v:,}" for k, v in (e.get("rejected_by_reason") or {}).items()
                    ),
                ]
                for e in summary.get("funnel", [])
            ],
        ),
        "",
        "### Seeds",
        "",
        _table(
            ["seed", "kind", "source", "rows read", "kept"],
            [
                [
                    name,
                    seed.get("kind", "extracts"),
                    _source_text(seed.get("source") or {}),
                    (summary.get("seeds", {}).get(name) or {}).get("in"),
                    (summary.get("seeds", {}).get(name) or {}).get("kept"),
                ]
                for name, seed in sorted(settings.get("seeds", {}).items())
            ],
        ),
        "",
        "### Prompts",
        "",
        f"Each extract (cut to {prompts.get('max_extract_chars', 1000):,} characters) gets one "
        f"of {len(prompts.get('formats', []))} formats x {len(prompts.get('audiences', []))} "
        f"audiences, chosen by a seeded hash of its id (seed {prompts.get('seed', 0)}); "
        f"{prompts.get('topic_hint_rate', 0.5):.0%} of the extracts with a topic get a topic hint.",
        "",
        f"- formats: {', '.join(f'`{f}`' for f in prompts.get('formats', []))}",
        f"- audiences: {', '.join(f'`{a}`' for a in prompts.get('audiences', []))}",
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
    lines += [
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
    if gen_tokens:
        lines.append(
            f"- {gen_tokens.get('in', 0):,} prompts ({gen_tokens.get('prompt_tokens', 0):,} "
            f"tokens), {gen_tokens.get('completion_tokens', 0):,} tokens generated, finish "
            "reasons "
            + ", ".join(f"{k}: {v:,}" for k, v in (gen_tokens.get("finish_reasons") or {}).items())
        )
    lines.append("")
    stages = settings.get("stages") or {}
    later = settings.get("doc_stages", [])[1:]
    if later:
        lines += ["### Filters", ""]
    for stage in later:
        configured = stages.get(stage) or {}
        used = (summary.get("stages", {}).get(stage) or {}).get("settings")
        entry = next((e for e in summary.get("funnel", []) if e["stage"] == stage), None)
        if entry:
            reasons = ", ".join(
                f"{k}: {v:,}" for k, v in (entry.get("rejected_by_reason") or {}).items()
            )
            lines += [
                f"`{stage}` kept {entry['kept']:,} of {entry['in']:,} documents"
                + (f" (rejected: {reasons})." if reasons else "."),
                "",
            ]
        if configured:
            lines += ["Configured:", "", "```yaml", _yaml_block(configured), "```", ""]
        if used:
            lines += ["Settings it ran with:", "", "```yaml", _yaml_block(used), "```", ""]
        if not configured and not used:
            lines += ["Default settings (config/README.md).", ""]
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
            f"Deduplication removed {dedup['removed']:,} documents in {dedup['clusters']:,} "
            f"clusters (largest: {dedup['largest_cluster']:,} documents).",
            "",
        ]
    lines += [
        "## Fields",
        "",
        "One JSON object per line (UTF-8): `id`, `text`, `lang`, `format`, `audience`, "
        "`prompt`, `seed_data`, `topic`, `token_length` (completion tokens), `finish_reason`, "
        "`model`, `seed_id`, `prompt_id`, `source`, and where the stages ran `lang_score`, "
        "`perplexity`, `bucket`. `seed_id` traces every document to its seed row.",
        "",
        "## Limitations",
        "",
        "The texts are machine-generated and may contain errors, repetition or invented facts; "
        "they inherit the biases of the model and of the seed extracts. Check the licenses of "
        "the seed data and of the model before you redistribute the corpus.",
        "",
    ]
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
    """sha256 of the canonical JSON of the resolved config (keys sorted)."""
    return hashlib.sha256(dumps_json(config).encode("utf-8")).hexdigest()


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
