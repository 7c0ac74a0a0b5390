"""Sections of the dataset card: seeds, origins, prompts, generation, each cleaning stage,
fields and limitations. Each returns the Markdown lines of its section."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..export import WEB_FIELDS
from ..stats.web_cleaning import WEB_STAGES
from .markdown import (
    by_reason,
    codes,
    funnel_entry,
    md_table,
    md_yaml_section,
    model_text,
    percent,
    plural,
    source_text,
)
from .plots import origin_order
from .quality import quality_lines
from .web_cleaning import web_stage_lines

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
    "quality": "`quality_score` and `quality_label` (quality: the classifier's score and label)",
    "perplexity": "`perplexity` and `bucket` (perplexity)",
    "dedup": "`dup_count` (dedup: duplicates removed in favour of the document)",
}


def seed_format(seed: Mapping[str, Any]) -> str | None:
    """A seed's file format: as configured, else from its file name (None if unknown)."""
    from ..seed import SeedError, detect_format

    if seed.get("format"):
        return str(seed["format"])
    source = seed.get("source") or {}
    listing = source.get("paths_file") or {}
    name = (
        source.get("path")
        or (source.get("hf") or {}).get("filename")
        or source.get("url")
        or source.get("glob")
        or next(iter(source.get("paths") or []), None)
    )
    if not name and listing:
        # Common Crawl's listings are named wet.paths.gz and warc.paths.gz
        listed = str(listing.get("path") or listing.get("url") or listing["hf"]["filename"])
        kind = Path(urlsplit(listed).path).name.split(".")[0]
        return kind if kind in CRAWL_TEXT else None
    if not name:
        return None
    name = urlsplit(str(name)).path
    try:
        return detect_format(Path(str(name)))[0]
    except SeedError:
        return None


def _origin_rows(shares: Mapping[str, Mapping[str, Any]]) -> list[list[Any]]:
    return [
        [
            name,
            shares[name].get("documents"),
            percent(shares[name].get("share_documents")),
            shares[name].get("tokens"),
            percent(shares[name].get("share_tokens")),
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
    entry = funnel_entry(summary, "mix") or {}
    text = (
        f"Target web share: {float(share):.0%} of the {unit} (`mix.web_share`). Each shard was "
        f"downsampled towards it ({entry.get('rejected', 0):,} documents removed as "
        f"`mix_downsampled`); the corpus has {percent(reached)}."
    )
    if unreachable is True:
        text += " No shard had documents of both origins, so none could be mixed."
    elif isinstance(unreachable, list) and True in unreachable:
        text += " Some shards had documents of one origin only and were kept whole."
    return text


def origin_lines(summary: Mapping[str, Any]) -> list[str]:
    origins = summary.get("origins") or {}
    corpus = origins.get("corpus") or {}
    if not corpus:
        return []
    lines = [
        "Documents and tokens by origin:",
        "",
        md_table(
            ["origin", "documents", "share of documents", "tokens", "share of tokens"],
            _origin_rows(corpus),
        ),
        "",
    ]
    target = target_text(summary)
    return lines + ([target, ""] if target else [])


def origin_stage_lines(summary: Mapping[str, Any]) -> list[str]:
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
            cells.append(f"{percent(docs)} / {percent(tokens)}")
        body.append(cells)
    return [
        "### Generated and web documents",
        "",
        "Every document carries its `origin`; the documents and tokens of each after every "
        "stage from `collect` on:",
        "",
        md_table(header, body),
        "",
    ]


def seed_lines(
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
            f"are counted with the tokenizer of {model_text(model)}."
        )
        if crawl:
            text.append(
                "Crawl formats: "
                + "; ".join(CRAWL_TEXT[f] for f in crawl)
                + ". Each page keeps its `url`, `warc_date` and `record_id`; an unreadable "
                "record is rejected with its byte offsets (`unreadable_record`) and reading "
                "goes on at the next record; a file cut short ends with `truncated_record`."
            )
    lines = ["### Seeds", "", *([" ".join(text), ""] if text else [])]
    lines += [
        md_table(
            ["seed", "kind", "format", "source", "rows read", "kept", "rejected by reason"],
            [
                [
                    name,
                    kinds[name],
                    formats[name],
                    source_text(seed.get("source") or {}),
                    (counts.get(name) or {}).get("in"),
                    (counts.get(name) or {}).get("kept"),
                    by_reason((counts.get(name) or {}).get("rejected_by_reason")),
                ]
                for name, seed in sorted(seeds.items())
            ],
        ),
        "",
    ]
    return lines


def prompt_lines(
    prompts: Mapping[str, Any], templates: Mapping[str, Mapping[str, Any]] | None
) -> list[str]:
    lines = [
        "### Prompts",
        "",
        f"Each extract (cut to {prompts['max_extract_chars']:,} characters) gets one "
        f"of {len(prompts.get('formats', []))} formats x {len(prompts.get('audiences', []))} "
        f"audiences, chosen by a seeded hash of its id (seed {prompts['seed']}); "
        f"{prompts['topic_hint_rate']:.0%} of the extracts with a topic get a topic hint.",
        "",
        f"- formats: {codes(prompts.get('formats', []))}",
        f"- audiences: {codes(prompts.get('audiences', []))}",
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
            md_table(
                ["format", "instruction"],
                [[k, v] for k, v in (tpl.get("formats") or {}).items()],
            ),
            "",
            md_table(
                ["audience", "instruction"],
                [[k, v] for k, v in (tpl.get("audiences") or {}).items()],
            ),
            "",
            "</details>",
            "",
        ]
    return lines


def generation_lines(
    model: Mapping[str, Any], gen: Mapping[str, Any], totals: Mapping[str, Any]
) -> list[str]:
    lines = [
        "### Model and generation",
        "",
        f"- model: {model_text(model)}",
        f"- engine: {gen['engine']}",
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
            "reasons " + by_reason(totals.get("finish_reasons"))
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
        text += f", by rule set in this order: {codes(rule_sets)}"
    text += "."
    if apply_to:
        text += f" They apply to documents of origin {codes(apply_to)}"
        if stats.get("not_filtered") is not None:
            others = plural(stats["not_filtered"], "document")
            text += f"; {others} of other origins passed untouched"
        text += "."
    if stats.get("lines_removed"):
        changed = stats.get("text_changed")
        causes = stats.get("lines_removed_by_cause")
        text += (
            f" C4's line cleaning removed {plural(stats['lines_removed'], 'line')}"
            + (f" from {plural(changed, 'document')}" if changed else "")
            + (f" ({by_reason(causes)})" if causes else "")
            + "."
        )
    rejected = stats.get("rejected_by_reason") or (entry or {}).get("rejected_by_reason") or {}
    tokens = (entry or {}).get("tokens_rejected_by_reason") or {}
    lines = [text, ""]
    if rejected:
        lines += [
            "Documents rejected, by the first rule they failed:",
            "",
            md_table(
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
        f"benchmark were removed as `contaminated`; benchmarks: {codes(names) or 'none'}.",
        "",
    ]
    if names:
        lines += [
            md_table(
                ["benchmark", "source", "text fields", "contaminated documents"],
                [
                    [
                        name,
                        source_text((benchmarks.get(name) or {}).get("source") or {}),
                        ", ".join((benchmarks.get(name) or {}).get("text_fields") or []),
                        int(found.get(name, 0)),
                    ]
                    for name in names
                ],
            ),
            "",
        ]
    return lines


def _clean_lines(summary: Mapping[str, Any]) -> list[str]:
    """What the clean stage changed: repairs, conversions, site lines, PII by type."""
    cl = summary.get("clean") or {}
    if not cl:
        return []
    done = [
        f"ftfy repaired {plural(cl.get('unicode_fixed', 0), 'document')}",
        f"whitespace was normalized in {plural(cl.get('whitespace_fixed', 0), 'document')}",
    ]
    if cl.get("convert", "off") != "off":
        done.append(
            f"OpenCC `{cl['convert']}` changed {plural(cl.get('chars_converted', 0), 'character')}"
            f" in {plural(cl.get('converted_documents', 0), 'document')}"
        )
    if cl.get("boilerplate_lines"):
        done.append(
            f"site lines removed: {cl['boilerplate_lines']:,} from "
            f"{plural(cl.get('boilerplate_documents', 0), 'document')} "
            f"({by_reason(cl.get('boilerplate_lines_by_kind'))})"
        )
    lines = [
        f"Of the documents it kept, `clean` changed the text of "
        f"{plural(cl.get('documents_changed', 0), 'document')}: " + "; ".join(done) + ".",
        "",
    ]
    if cl.get("not_cleaned"):
        lines += [f"{plural(cl['not_cleaned'], 'document')} of other origins passed untouched.", ""]
    pii = cl.get("pii_by_type") or {}
    if cl.get("pii_mode", "off") != "off":
        action = "masked" if cl["pii_mode"] == "mask" else "found (the documents rejected)"
        lines += [
            f"Personal data {action} in {plural(cl.get('pii_documents', 0), 'document')} "
            "(counts only; no value is kept in any report):",
            "",
            md_table(["kind", "values"], [[kind, int(n)] for kind, n in pii.items()]),
            "",
        ]
    if cl.get("garbled_by_measure"):
        lines += [f"Garbled text, by measure: {by_reason(cl['garbled_by_measure'])}.", ""]
    if cl.get("pinyin_flagged"):
        lines += [f"{plural(cl['pinyin_flagged'], 'document')} flagged as pinyin-mixed.", ""]
    return lines


def index_lines(entry: Mapping[str, Any]) -> list[str]:
    """What the dedup index removed, per earlier build (summary.json's ``index``)."""
    if not entry:
        return []
    rows = [[build, n] for build, n in sorted(entry["documents_removed_by_build"].items())]
    versions = ", ".join(f"{i['path']} ({i['version']})" for i in entry.get("indexes", []))
    return [
        f"Against the dedup index ({versions or 'empty'}): "
        f"{plural(entry['documents_removed'], 'document')} removed as seen in an earlier build "
        f"({by_reason(entry['documents_removed_by_match']) or 'none'}), "
        f"{plural(entry['lines_removed'], 'line')} removed by paragraph dedup.",
        "",
        *([md_table(["earlier build", "documents removed"], rows), ""] if rows else []),
    ]


def stage_lines(summary: Mapping[str, Any], settings: Mapping[str, Any], stage: str) -> list[str]:
    configured = (settings.get("stages") or {}).get(stage) or {}
    stats = (summary.get("stages") or {}).get(stage) or {}
    used = stats.get("settings")
    entry = funnel_entry(summary, stage)
    lines = [f"#### {stage}", ""]
    if entry:
        reasons = by_reason(entry.get("rejected_by_reason"))
        lines += [
            f"`{stage}` kept {entry['kept']:,} of {entry['in']:,} documents"
            + (f" (rejected: {reasons})." if reasons else "."),
            "",
        ]
    if stage == "clean":
        lines += _clean_lines(summary)
    elif stage == "filters":
        lines += _filters_lines(stats, configured, entry)
    elif stage == "decontam":
        lines += _decontam_lines(stats, configured)
    elif stage == "quality":
        lines += quality_lines(stats)
    elif stage == "mix":
        lines += [target_text(summary) or "The web share of the corpus was not targeted.", ""]
    elif stage in WEB_STAGES:
        lines += web_stage_lines(summary, stage)
    elif stage == "index":
        lines += index_lines(summary.get("index") or {})
    if configured:
        lines += md_yaml_section("Configured", configured)
    if used:
        lines += md_yaml_section("Settings it ran with", used)
    if not configured and not used:
        lines += ["Default settings (config/README.md).", ""]
    return lines


def field_lines(has_generated: bool, has_web: bool, doc_stages: Sequence[str]) -> list[str]:
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
        "seed's name), `source_id` (the row's own id in the seed file: its `columns.id`, a "
        f"crawl record's WARC-Record-ID, else its row number) and `origin` ({origins}).",
    ]
    generation = codes(GENERATION_FIELDS)
    if has_generated:
        lines.append(
            f"Generated documents have {generation}"
            + ("; they are null on web documents." if has_web else ".")
        )
    else:
        lines.append(f"The generation fields ({generation}) are null.")
    if has_web:
        lines.append(
            f"Web documents have {codes(WEB_FIELDS)} from the crawl files (null for other "
            "formats unless mapped in the seed's `columns`)"
            + ("; they are null on generated documents." if has_generated else ".")
        )
    added = [STAGE_FIELDS[s] for s in doc_stages if s in STAGE_FIELDS]
    if added:
        lines.append("Added by the cleaning stages: " + ", ".join(added) + ".")
    return ["## Fields", "", " ".join(lines), ""]


def limitation_lines(has_generated: bool, has_web: bool) -> list[str]:
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
