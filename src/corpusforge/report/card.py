"""The dataset card: README.md beside the corpus, in Hugging Face form.

The front matter (name, languages, size category, one ``configs`` entry per
partition folder) and the body: counts, then how the corpus was made, stage by
stage (the sections are in ``corpusforge.report.card_sections``).
"""

from __future__ import annotations

import json
import os
import posixpath
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from ..io import read_json, write_text
from .card_sections import (
    field_lines,
    generation_lines,
    limitation_lines,
    origin_lines,
    origin_stage_lines,
    prompt_lines,
    seed_lines,
    stage_lines,
)
from .markdown import by_reason, codes, md_table, model_text, plural
from .mixture import mixture_lines
from .plots import generated_format_audience
from .topics import topic_lines

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


# Where the documents come from (rules/common.smk's SOURCE_STAGES); the rest clean them.
SOURCE_STAGES = ("generate", "collect")


# The card's title when the config names none, per mode. config/config.yaml ships the
# generate one: a web or mixed build with that very name gets its own instead.
DEFAULT_NAMES = {
    "generate": "corpusforge synthetic corpus",
    "web": "corpusforge web corpus",
    "both": "corpusforge mixed corpus",
}


def card_mode(summary: Mapping[str, Any], settings: Mapping[str, Any]) -> str:
    """``generate``, ``web`` or ``both``: from the settings, else the summary, else the stages."""
    for mode in (settings.get("mode"), summary.get("mode")):
        if mode in DEFAULT_NAMES:
            return str(mode)
    stages = settings.get("doc_stages") or summary.get("doc_stages") or []
    if "collect" in stages:
        return "both" if "generate" in stages else "web"
    return "generate"


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
            f"model {model_text(model)} from web extracts turned into prompts that ask for a "
            "given format and audience, the way Cosmopedia was built, then cleaned by "
            f"{cleaned}."
        )
    elif mode == "web":
        intro = (
            f"A text corpus of **{n_docs:,} documents** ({corpus['tokens']:,} tokens) in "
            f"{in_langs}, taken from web sources (seeds {codes(web_seeds)}) and cleaned by "
            f"{cleaned}, the way RefinedWeb and CC-NET clean Common Crawl."
        )
    else:
        generated = (by_origin.get("generated") or {}).get("documents")
        web = (by_origin.get("web") or {}).get("documents")
        intro = (
            f"A text corpus of **{n_docs:,} documents** ({corpus['tokens']:,} tokens) in "
            f"{in_langs} from two origins, side by side: "
            + (f"{generated:,} " if generated is not None else "")
            + f"documents written by the language model {model_text(model)} from prompts "
            "built over web extracts (the way Cosmopedia was built) and "
            + (f"{web:,} " if web is not None else "")
            + f"documents taken from web sources (seeds {codes(web_seeds)}). All were cleaned "
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
        md_table(
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
        lines += origin_lines(summary)
    if corpus.get("by_lang_bucket"):
        buckets = sorted({b for row in corpus["by_lang_bucket"].values() for b in row})
        lines += [
            "Documents per language and perplexity bucket:",
            "",
            md_table(
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
            md_table(
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
        md_table(
            ["stage", "in", "kept", "rejected", "rejected by reason"],
            [
                [
                    e["stage"],
                    e["in"],
                    e["kept"],
                    e["rejected"],
                    by_reason(e.get("rejected_by_reason")),
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
    lines += seed_lines(summary, settings, model)
    if mode == "both":
        lines += origin_stage_lines(summary)
    if has_generated:
        lines += prompt_lines(settings.get("prompts") or {}, templates)
        lines += topic_lines(summary)
        lines += generation_lines(
            model, settings.get("generation") or {}, summary.get("generation") or {}
        )
    if cleaning:
        lines += ["### Cleaning stages", ""]
    for stage in cleaning:
        lines += stage_lines(summary, settings, stage)
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
            f"Deduplication removed {plural(dedup['removed'], 'document')} in "
            f"{plural(dedup['clusters'], 'cluster')} (largest: "
            f"{plural(dedup['largest_cluster'], 'document')}).",
            "",
        ]
    lines += mixture_lines(summary)
    lines += field_lines(has_generated, has_web, doc_stages)
    lines += limitation_lines(has_generated, has_web)
    if card.get("citation"):
        lines += ["## Citation", "", "```bibtex", card["citation"].strip(), "```", ""]
    return "\n".join(lines)


def write_dataset_card(
    summary: str | Path,
    settings: Mapping[str, Any],
    final_paths: Sequence[str],
    template_paths: Sequence[str],
    out: str | Path,
) -> str:
    """The job of rule dataset_card: the card of the build from its ``summary`` JSON, the
    final files and the prompt template files, written to ``out`` (beside the corpus)."""
    templates = {
        str(path): yaml.safe_load(Path(path).read_text(encoding="utf-8")) for path in template_paths
    }
    card = dataset_card(
        read_json(summary), settings, [str(p) for p in final_paths], Path(out).parent, templates
    )
    write_text(card, out)
    return card
