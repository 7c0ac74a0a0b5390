"""The summary of the web stages of issue 13 (url_filter, line_corrections, paragraphs):
what each removed, by list, kind, shard and language, from the per-shard stats."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

WEB_STAGES = ("url_filter", "line_corrections", "paragraphs")
_COUNTS = {
    "url_filter": ("in", "kept", "no_url", "allowlisted", "passed", "rejected"),
    "line_corrections": (
        "in",
        "kept",
        "not_corrected",
        "documents_corrected",
        "corrected_lines",
        "corrected_chars",
        "rejected",
    ),
    "paragraphs": (
        "in",
        "kept",
        "not_deduplicated",
        "documents_changed",
        "removed_lines",
        "removed_chars",
        "chars_in",
        "rejected",
    ),
}
_TABLES = {
    "url_filter": ("blocked_by_list",),
    "line_corrections": ("corrected_lines_by_kind",),
    "paragraphs": (),
}


def _share(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def web_stage_summary(stage: str, per_shard: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One web stage's entry of summary.json, from its per-shard stats."""
    out: dict[str, Any] = {k: int(sum(s.get(k, 0) for s in per_shard)) for k in _COUNTS[stage]}
    for key in _TABLES[stage]:
        table: Counter = Counter()
        for s in per_shard:
            table.update(s.get(key) or {})
        out[key] = {k: int(table[k]) for k in sorted(table)}
    if stage == "url_filter":
        lists = next((s["lists"] for s in per_shard if s.get("lists")), {})
        out["lists"] = lists
    if stage == "paragraphs":
        out["removed_share"] = _share(out["removed_chars"], out["chars_in"])
        out["by_shard"] = {
            str(s.get("shard")): {
                "removed_lines": int(s.get("removed_lines", 0)),
                "removed_chars": int(s.get("removed_chars", 0)),
                "chars_in": int(s.get("chars_in", 0)),
            }
            for s in sorted(per_shard, key=lambda s: str(s.get("shard")))
        }
        langs: dict[str, Counter] = {}
        for s in per_shard:
            for key in ("removed_lines", "removed_chars", "chars_in"):
                for lang, n in (s.get(f"{key}_by_lang") or {}).items():
                    langs.setdefault(lang, Counter())[key] += int(n)
        out["by_lang"] = {
            lang: {
                **{k: int(langs[lang][k]) for k in ("removed_lines", "removed_chars", "chars_in")},
                "removed_share": _share(langs[lang]["removed_chars"], langs[lang]["chars_in"]),
            }
            for lang in sorted(langs)
        }
    return out
