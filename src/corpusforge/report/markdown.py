"""Markdown building blocks of the dataset card: tables, YAML blocks, counts, sources."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml


def md_yaml(value: Any) -> str:
    return yaml.safe_dump(value, allow_unicode=True, sort_keys=True, width=100).rstrip()


def md_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
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


def source_text(source: Mapping[str, Any]) -> str:
    if "path" in source:
        return f"local file `{source['path']}`"
    if "url" in source:
        return f"<{source['url']}>"
    if "hf" in source:
        hf = source["hf"]
        return (
            f"Hugging Face {hf['repo_type']} `{hf['repo_id']}`, "
            f"file `{hf['filename']}` at revision `{hf['revision']}`"
        )
    return "?"


def model_text(model: Mapping[str, Any]) -> str:
    source = model.get("source")
    if source == "gguf":
        where = model.get("path") or f"{model.get('package')}/{model.get('file')}"
        return (
            f"`{model['name']}`: GGUF `{where}` converted to a Hugging Face folder "
            f"({model['dtype']})"
        )
    if source == "hf":
        repo, revision = model.get("repo_id"), model.get("revision")
        return f"`{model['name']}`: Hugging Face `{repo}` at revision `{revision}`"
    return f"`{model['name']}`: local folder `{model.get('path')}`"


YAML_FOLD_LINES = 15  # longer configured sections are folded in <details>


def plural(n: Any, noun: str) -> str:
    """``1 document``, ``2 documents``."""
    return f"{int(n):,} {noun}" + ("" if int(n) == 1 else "s")


def by_reason(counts: Mapping[str, Any] | None) -> str:
    return ", ".join(f"{k}: {v:,}" for k, v in (counts or {}).items())


def codes(names: Iterable[Any]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def percent(value: Any) -> str:
    return f"{float(value):.1%}" if isinstance(value, int | float) else ""


def funnel_entry(summary: Mapping[str, Any], stage: str) -> Mapping[str, Any] | None:
    return next((e for e in summary.get("funnel", []) if e["stage"] == stage), None)


def md_yaml_section(title: str, value: Any) -> list[str]:
    block = md_yaml(value)
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
