"""Dataset card lines of the web stages of issue 13 (summary.json's url_filter,
line_corrections and paragraphs entries)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .markdown import by_reason, md_table, plural


def web_stage_lines(summary: Mapping[str, Any], stage: str) -> list[str]:
    """What a web stage removed, or nothing when the summary has no entry for it."""
    entry = summary.get(stage) or {}
    if not entry:
        return []
    if stage == "url_filter":
        listed = by_reason(entry.get("blocked_by_list"))
        return [
            f"{plural(entry.get('no_url', 0), 'document')} had no URL and passed; "
            f"{plural(entry.get('allowlisted', 0), 'document')} were allowlisted"
            + (f"; blocked by list: {listed}." if listed else "."),
            "",
        ]
    if stage == "line_corrections":
        kinds = by_reason(entry.get("corrected_lines_by_kind"))
        return [
            f"Counter, interface and menu lines removed: {entry.get('corrected_lines', 0):,} "
            f"lines, {entry.get('corrected_chars', 0):,} characters, from "
            f"{plural(entry.get('documents_corrected', 0), 'kept document')}"
            + (f" ({kinds})." if kinds else "."),
            "",
        ]
    rows = [
        [lang, v["removed_lines"], v["removed_chars"], v["chars_in"], f"{v['removed_share']:.2%}"]
        for lang, v in (entry.get("by_lang") or {}).items()
    ]
    shards = [
        [shard, v["removed_lines"], v["removed_chars"], v["chars_in"]]
        for shard, v in (entry.get("by_shard") or {}).items()
    ]
    return [
        f"Paragraph dedup removed {entry.get('removed_lines', 0):,} repeated lines, "
        f"{entry.get('removed_chars', 0):,} characters "
        f"({entry.get('removed_share', 0):.2%} of those it read), from "
        f"{plural(entry.get('documents_changed', 0), 'document')}.",
        "",
        md_table(["lang", "lines removed", "characters removed", "characters in", "share"], rows),
        "",
        md_table(["shard", "lines removed", "characters removed", "characters in"], shards),
        "",
    ]
