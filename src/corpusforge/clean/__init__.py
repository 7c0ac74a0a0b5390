"""Clean stage: text repair, Chinese conversion, garbled text, pinyin, PII, flagged words.

One job per shard, after generation / collect and before language ID, on the
documents whose ``origin`` is in ``clean.apply_to`` (the others pass untouched,
with null ``clean`` and ``pii``). Steps, in this order, each one configurable:

1. ``unicode`` (:class:`.text.Repair`): ftfy, Unicode normalization, whitespace.
2. ``pii`` (:mod:`.pii`): emails, IP addresses, phone numbers, Chinese resident ID
   numbers and payment card numbers replaced by ``<EMAIL>``, ``<IP>``, ``<PHONE>``,
   ``<ID_NUMBER>``, ``<CARD>`` (``mask``), or the document rejected ``pii``
   (``drop``). Masking comes early so that every later rejection of this stage
   stores the masked text: no found value reaches a rejected file, log or stats.
3. ``garbled`` (:class:`.text.Garbled`): rejected ``garbled_text``, the detail
   naming the measure, its value and the bound.
4. ``chinese`` (:class:`.chinese.Converter`): OpenCC on documents in Chinese script.
5. ``boilerplate`` (:class:`.text.Boilerplate`): site lines removed.
6. ``pinyin`` (:class:`.chinese.Pinyin`): in Chinese-script documents, rejected
   ``pinyin_mixed`` above ``max_share`` (``reject``) or only marked (``flag``).
7. ``flagged_words`` (:mod:`.words`): rejected ``flagged_words`` above the share of
   the document's language.

A document left with no text is rejected ``empty_text``. Kept documents get two
struct columns: ``clean`` (:data:`RECORD_FIELDS`: what each step changed) and
``pii`` (values masked per kind). Config defaults live in the JSON schema;
:func:`settings` adds the cross-field checks and builds the steps.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pandas as pd

from ..stage import DocStage, Judged, Verdict, verdict_of
from .chinese import Converter, Pinyin, chinese_han
from .pii import KINDS, find_and_mask
from .text import Boilerplate, Garbled, Repair
from .words import FlaggedWords, WordListError, read_word_list

STAGE = "clean"
REASONS = ("garbled_text", "pinyin_mixed", "pii", "flagged_words", "empty_text")
# The per-document ``clean`` record: what each step did.
RECORD_FIELDS = (
    "unicode_fixed",  # ftfy changed the text
    "whitespace_fixed",  # whitespace normalization changed it
    "chars_converted",  # characters OpenCC changed
    "boilerplate_lines",  # site lines removed
    "pinyin_syllables",  # pinyin syllables found in Chinese text
    "pinyin_flagged",  # above clean.pinyin.max_share with mode flag
    "flagged_words",  # listed words (zh: characters) found
)
OFF = ("off", False)


class CleanError(ValueError):
    """The ``clean`` config is wrong."""


@dataclass(frozen=True)
class Cleaner:
    """The steps of the clean stage, built from the config by :func:`settings`."""

    apply_to: frozenset[str]
    repair: Repair | None = None
    pii_mode: str | None = None  # mask | drop
    pii_kinds: tuple[str, ...] = KINDS
    garbled: Garbled | None = None
    converter: Converter | None = None
    boilerplate: Boilerplate | None = None
    pinyin: Pinyin | None = None
    flagged: FlaggedWords | None = None
    described: Mapping[str, Any] = field(default_factory=dict)
    fast: bool = True  # pre-checks before the expensive measures (False: the reference)

    def clean_text(self, text: str) -> Cleaned:
        """Run every step over one text; the first rejection stops it."""
        out = Cleaned(text)
        rec = out.record
        if self.repair is not None:
            out.text, rec["unicode_fixed"], rec["whitespace_fixed"] = self.repair(out.text)
        if not out.text.strip():
            return out.reject("empty_text", "no text")
        if self.pii_mode is not None:
            out.text, out.pii = find_and_mask(out.text, self.pii_kinds, self.fast)
            if self.pii_mode == "drop" and out.pii:
                found = ", ".join(f"{k} {out.pii[k]}" for k in KINDS if out.pii[k])
                return out.reject("pii", f"personal data found ({found})")
        if self.garbled is not None:
            verdict = self.garbled.verdict(out.text)
            if verdict is not None:
                out.garbled = verdict[0]
                return out.reject("garbled_text", verdict[1])
        chinese, han = chinese_han(out.text, self.fast)
        if self.converter is not None and chinese:
            out.text, rec["chars_converted"] = self.converter(out.text)
        if self.boilerplate is not None:
            out.text, out.boilerplate = self.boilerplate(out.text)
            rec["boilerplate_lines"] = sum(out.boilerplate.values())
            if not out.text:
                return out.reject(
                    "empty_text", f"every line was site boilerplate ({rec['boilerplate_lines']})"
                )
            if rec["boilerplate_lines"]:
                chinese, han = chinese_han(out.text, self.fast)
        if self.pinyin is not None and chinese:
            rec["pinyin_syllables"], share = self.pinyin.share(out.text, han, self.fast)
            if share > self.pinyin.max_share:
                detail = f"pinyin share {share:.4g} > {self.pinyin.max_share}"
                if self.pinyin.mode == "reject":
                    return out.reject("pinyin_mixed", detail)
                rec["pinyin_flagged"] = True
        if self.flagged is not None:
            rec["flagged_words"], detail = self.flagged.verdict(out.text, chinese, han)
            if detail is not None:
                return out.reject("flagged_words", detail)
        return out


@dataclass
class Cleaned(Judged):
    """One text after the steps: besides its text and verdict, what each step did
    (``record``: :data:`RECORD_FIELDS`), personal data and site lines found by kind,
    the garbled measure over its bound."""

    record: dict[str, Any] = field(
        default_factory=lambda: {
            name: False if name.endswith(("_fixed", "_flagged")) else 0 for name in RECORD_FIELDS
        }
    )
    pii: Counter = field(default_factory=Counter)
    boilerplate: Counter = field(default_factory=Counter)
    garbled: str | None = None  # the measure over its bound


# ---------------------------------------------------------------- settings


def _off(value: Any) -> bool:
    return value in OFF


def settings(
    cfg: Mapping[str, Any], word_files: Mapping[str, str] | None = None, fast: bool = True
) -> Cleaner:
    """The steps of a ``clean`` section whose schema defaults are filled in.

    ``word_files``: language -> local file of its flagged-word list (the rule's
    inputs, downloads included); without it, a list's ``source.path`` is read.
    ``fast=False``: every step runs its full measures, no pre-check (the same
    results, slower: the reference the tests and benchmarks/bench_clean.py use).
    """
    uni, garbled, chinese = cfg["unicode"], cfg["garbled"], cfg["chinese"]
    pii, pinyin, flagged, boiler = (
        cfg["pii"],
        cfg["pinyin"],
        cfg["flagged_words"],
        cfg["boilerplate"],
    )
    repair = Repair.from_config(uni, fast) if uni["ftfy"] or uni["whitespace"] else None
    converter = None
    if not _off(chinese["convert"]):
        try:
            converter = Converter(chinese["convert"])
        except Exception as exc:  # OpenCC raises its own error types for unknown configs
            raise CleanError(
                f"clean.chinese.convert: OpenCC cannot load {chinese['convert']!r}: {exc}"
            ) from exc
    extra = list(boiler["extra_patterns"])
    for i, pattern in enumerate(extra):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise CleanError(
                f"clean.boilerplate.extra_patterns[{i}]: not a regular expression: {exc}"
            ) from exc
    return Cleaner(
        apply_to=frozenset(cfg["apply_to"]),
        repair=repair,
        pii_mode=None if _off(pii["mode"]) else pii["mode"],
        pii_kinds=tuple(k for k in KINDS if k in pii["kinds"]),
        garbled=(
            Garbled({name: garbled[f"max_{name}"] for name in GARBLED_MEASURES}, fast)
            if garbled["enabled"]
            else None
        ),
        converter=converter,
        boilerplate=(
            Boilerplate(boiler["max_line_chars"], extra, fast) if boiler["enabled"] else None
        ),
        pinyin=(
            None
            if _off(pinyin["mode"])
            else Pinyin(pinyin["mode"], pinyin["max_share"], pinyin["min_run"])
        ),
        flagged=_flagged(flagged, word_files, fast) if flagged["enabled"] else None,
        described={
            "convert": "off" if converter is None else converter.config,
            "pii_mode": "off" if _off(pii["mode"]) else pii["mode"],
            "pinyin_mode": "off" if _off(pinyin["mode"]) else pinyin["mode"],
        },
        fast=fast,
    )


def _flagged(
    cfg: Mapping[str, Any], word_files: Mapping[str, str] | None, fast: bool
) -> FlaggedWords:
    lists = cfg["lists"] or {}
    if not lists:
        raise CleanError("clean.flagged_words.lists: no list (or set flagged_words.enabled: false)")
    loaded = {}
    for lang in sorted(lists):
        key = f"clean.flagged_words.lists.{lang}"
        path = (word_files or {}).get(lang) or lists[lang]["source"].get("path")
        if not path:
            raise CleanError(
                f"{key}.source: a url or hf list is fetched by the workflow (rule "
                "download_clean_words); outside it, pass the downloaded file"
            )
        try:
            loaded[lang] = read_word_list(path, key)
        except WordListError as exc:
            raise CleanError(str(exc)) from exc
    ratios = cfg["max_ratio"]
    missing = sorted(set(loaded) - set(ratios))
    if missing:
        raise CleanError(f"clean.flagged_words.max_ratio: no bound for {', '.join(missing)}")
    return FlaggedWords.from_lists(loaded, ratios, fast)


# The measures of clean.garbled, in the order they are checked.
GARBLED_MEASURES = ("replacement_chars", "private_use_chars", "mojibake", "script_mixes")


# ---------------------------------------------------------------- documents


class CleanStage(DocStage):
    """Rule ``clean``: the steps of the section over the documents of its ``apply_to``
    (``files``: ``words_<lang>`` -> local file of a flagged-word list, the rule's inputs)."""

    name = STAGE
    section = "clean"
    exempt: ClassVar[dict] = {"clean": None, "pii": None}
    not_applied_key = "not_cleaned"

    def prepare(self) -> None:
        words = {name.removeprefix("words_"): path for name, path in self.files.items()}
        self.cleaner = settings(self.cfg, words, self.fast)

    def described(self) -> dict[str, Any]:
        return dict(self.cleaner.described)

    def judge(self, docs: pd.DataFrame) -> Verdict:
        judged, records, pii_columns = [], [], []
        totals: Counter = Counter()
        pii_found: Counter = Counter({kind: 0 for kind in KINDS})
        boiler_found: Counter = Counter()
        garbled_found: Counter = Counter()
        for text in docs["text"].tolist():
            out = self.cleaner.clean_text(text if isinstance(text, str) else "")
            judged.append(out)
            pii_found.update(out.pii)
            totals["pii_documents"] += bool(out.pii)
            if out.garbled:
                garbled_found[out.garbled] += 1
            if out.verdict is not None:
                records.append(None)
                pii_columns.append(None)
                continue
            records.append(out.record)
            pii_columns.append({kind: int(out.pii[kind]) for kind in KINDS})
            boiler_found.update(out.boilerplate)
            rec = out.record
            totals["documents_changed"] += out.text != text
            totals["unicode_fixed"] += rec["unicode_fixed"]
            totals["whitespace_fixed"] += rec["whitespace_fixed"]
            totals["converted_documents"] += rec["chars_converted"] > 0
            totals["chars_converted"] += rec["chars_converted"]
            totals["boilerplate_documents"] += rec["boilerplate_lines"] > 0
            totals["pinyin_flagged"] += rec["pinyin_flagged"]
            totals["flagged_words_found"] += rec["flagged_words"]
        return verdict_of(
            judged,
            docs.index,
            columns={"clean": records, "pii": pii_columns},
            counters={
                **{key: int(totals[key]) for key in STAT_COUNTS},
                "pii_by_type": {kind: int(pii_found[kind]) for kind in KINDS},
                "boilerplate_lines": int(sum(boiler_found.values())),
                "boilerplate_lines_by_kind": {
                    k: int(boiler_found[k]) for k in sorted(boiler_found)
                },
                "garbled_by_measure": {k: int(garbled_found[k]) for k in sorted(garbled_found)},
            },
        )


# Counts every shard's stats carry (kept documents, except pii_documents: all cleaned).
STAT_COUNTS = (
    "documents_changed",
    "unicode_fixed",
    "whitespace_fixed",
    "converted_documents",
    "chars_converted",
    "boilerplate_documents",
    "pii_documents",
    "pinyin_flagged",
    "flagged_words_found",
)
