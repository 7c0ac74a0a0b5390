"""Heuristic quality filters for web documents: Gopher, C4 and SlimPajama rules.

Rule sets, applied in this order (each document stops at the first rule it fails):

1. ``gopher_repetition`` (MassiveText, Rae et al. 2021, table A1): duplicate line
   and paragraph fractions (by count and by characters), the character fraction
   of the most frequent 2/3/4-gram, and of all duplicated 5..10-grams.
2. ``gopher_quality``: word count, mean word length, ``#`` and ellipsis to word
   ratios, share of bullet-start lines and of ellipsis-end lines, share of words
   with a letter, presence of stop words.
3. ``c4`` (Raffel et al. 2020, as in the TFDS/datatrove implementations): first
   line-level cleaning (citation markers removed; a line is dropped if it does not
   end in terminal punctuation, has fewer than ``min_words_per_line`` words, has a
   word longer than ``max_word_length``, mentions javascript or a cookie/terms
   policy), then document rules: ``c4.lorem_ipsum``, ``c4.curly_bracket``,
   ``c4.bad_words`` (a word list file, optional), ``c4.min_sentences`` (counted
   on the cleaned text) and ``c4.empty_after_line_filter``. The cleaned text
   replaces the document's text; ``filter_lines_removed`` says how many lines went.
4. ``slimpajama``: fewer than ``min_chars`` characters once punctuation and
   whitespace are removed.

A rejection's reason is the rule's name (``gopher_quality.word_count``) and its
detail the measured value against the bound (``words 12 < 50``).

Words: whitespace-separated tokens, except for languages in ``cjk_languages``
(default zh, ja, ko: the schema's defaults), where every Han/kana/hangul character is one
word and runs of other non-space characters (Latin words, numbers) are words too;
CJK punctuation is no word. A document without a ``lang`` column is treated as
zh when most of its letters are Han characters. Rules that assume spaced words
are skipped per language (``skip``): by default ``gopher_quality.mean_word_length``
for zh and ja, and ``gopher_quality.stop_words`` for ja (zh has its own small
stop-word list).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .cjk import WORD_CHARS
from .stage import DocStage, Judged, Verdict, verdict_of

STAGE = "filters"
RULE_SETS = ("gopher_repetition", "gopher_quality", "c4", "slimpajama")
# Rules a language can skip (``skip``), besides whole rule sets and the Gopher
# n-gram rules, which are named after their configured n (see skippable_rules).
SKIPPABLE = (
    "gopher_repetition.dup_line_fraction",
    "gopher_repetition.dup_paragraph_fraction",
    "gopher_repetition.dup_line_char_fraction",
    "gopher_repetition.dup_paragraph_char_fraction",
    "gopher_quality.word_count",
    "gopher_quality.mean_word_length",
    "gopher_quality.symbol_word_ratio",
    "gopher_quality.bullet_lines",
    "gopher_quality.ellipsis_lines",
    "gopher_quality.alpha_words",
    "gopher_quality.stop_words",
    "c4.lorem_ipsum",
    "c4.curly_bracket",
    "c4.bad_words",
    "c4.min_sentences",
    "slimpajama.min_chars",
)

BULLETS = ("•", "●", "○", "◦", "▪", "‣", "·", "-", "*", "–", "—", "→")
ELLIPSES = ("...", "…")
TERMINAL = (".", "!", "?", '"', "。", "！", "？", "”", "」", "』", "…")
POLICY = (
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
)
CITATION = re.compile(r"\[\d*\]|\[edit\]|\[citation needed\]", re.I)
_CJK = WORD_CHARS
_CJK_PUNCT = "\u3000-\u303f\uff00-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"
_CJK_WORDS = re.compile(rf"[{_CJK}]|[^\s{_CJK}{_CJK_PUNCT}]+")
_SENTENCE_END = re.compile(r"[.!?]+(?=[\s\"')\]]|$)|[。！？]+")
_PARAGRAPHS = re.compile(r"\n\s*\n")

log = logging.getLogger("corpusforge.filters")


class FiltersError(ValueError):
    """The ``filters`` config is wrong."""


# ---------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    apply_to: frozenset[str]
    rule_sets: tuple[str, ...]
    cjk_languages: frozenset[str]
    skip: Mapping[str, frozenset[str]]
    repetition: Mapping[str, Any]
    quality: Mapping[str, Any]
    c4: Mapping[str, Any]
    slimpajama: Mapping[str, Any]
    bad_words: tuple[str, ...] = ()
    # The same results with less Python per character and word (False: the
    # reference, for tests and benchmarks/bench_filters.py)
    fast: bool = True


def settings(cfg: Mapping[str, Any], fast: bool = True) -> Settings:
    """The ``filters`` config section as the rules use it.

    ``cfg`` comes with the schema's defaults filled in (config/schema; outside the
    workflow ``corpusforge.schema.with_defaults("filters", ...)``); here only what
    depends on several fields: the n-gram bounds by int n, the ``skip`` names
    (which depend on the configured n) and the ``c4.bad_words`` list when c4 runs.
    """
    rule_sets = tuple(cfg["rule_sets"])
    rep = dict(cfg["gopher_repetition"])
    for key in ("max_top_ngram_char_fraction", "max_dup_ngram_char_fraction"):
        rep[key] = {int(n): float(v) for n, v in sorted(rep[key].items(), key=lambda x: int(x[0]))}
    skip = {str(lang): frozenset(names) for lang, names in sorted(cfg["skip"].items())}
    known = skippable_rules(rep)
    for lang, names in skip.items():
        unknown = sorted(names - known)
        if unknown:
            raise FiltersError(
                f"filters.skip.{lang}: unknown rule(s) {unknown}; a rule set "
                f"({', '.join(RULE_SETS)}) or one of {sorted(known - set(RULE_SETS))}"
            )
    c4 = dict(cfg["c4"])
    bad_words: tuple[str, ...] = ()
    if "c4" in rule_sets and c4["bad_words"]:
        bad_words = load_word_list(c4["bad_words"])
    return Settings(
        apply_to=frozenset(cfg["apply_to"]),
        rule_sets=tuple(r for r in RULE_SETS if r in rule_sets),
        cjk_languages=frozenset(cfg["cjk_languages"]),
        skip=skip,
        repetition=rep,
        quality=dict(cfg["gopher_quality"]),
        c4=c4,
        slimpajama=dict(cfg["slimpajama"]),
        bad_words=bad_words,
        fast=fast,
    )


def skippable_rules(repetition: Mapping[str, Any]) -> frozenset[str]:
    """Every name ``skip`` accepts: the rule sets, SKIPPABLE and the Gopher n-gram
    rules of the configured n (``gopher_repetition.top_2gram_char_fraction``...)."""
    ngram_rules = {
        f"gopher_repetition.{key}_{n}gram_char_fraction"
        for key in ("top", "dup")
        for n in repetition[f"max_{key}_ngram_char_fraction"]
    }
    return frozenset(RULE_SETS) | frozenset(SKIPPABLE) | ngram_rules


def load_word_list(path: str | Path) -> tuple[str, ...]:
    """Words or phrases, one a line, lower-cased; blank lines and '#' comments ignored."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise FiltersError(f"filters.c4.bad_words: cannot read {path}: {exc}") from exc
    words = {line.strip().lower() for line in lines}
    return tuple(sorted(w for w in words if w and not w.startswith("#")))


# ---------------------------------------------------------------- measures


def is_cjk_text(text: str, fast: bool = False) -> bool:
    if fast:  # each distinct character judged once, weighted by its count
        han = letters = 0
        for ch, count in Counter(text[:5000]).items():
            if ch.isalpha():
                letters += count
                if "\u3040" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af":
                    han += count
        return bool(letters) and han / letters > 0.3
    han = letters = 0
    for ch in text[:5000]:
        if ch.isalpha():
            letters += 1
            if "\u3040" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af":
                han += 1
    return bool(letters) and han / letters > 0.3


def words_of(text: str, cjk: bool) -> list[str]:
    """Words of a text: whitespace tokens, or for CJK one word per character."""
    return _CJK_WORDS.findall(text) if cjk else text.split()


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.split("\n") if line.strip()]


def _dup_fractions(items: list[str]) -> tuple[float, float]:
    """(share of items that repeat an earlier one, share of their characters)."""
    if not items:
        return 0.0, 0.0
    seen: set[str] = set()
    dup = dup_chars = 0
    for item in items:
        if item in seen:
            dup += 1
            dup_chars += len(item)
        else:
            seen.add(item)
    total = sum(len(i) for i in items)
    return dup / len(items), (dup_chars / total if total else 0.0)


def top_ngram_char_fraction(words: list[str], n: int, total_chars: int) -> float:
    """Characters in the most frequent n-gram (times its count) / characters in words
    (the reference of :meth:`NGrams.top_fraction`)."""
    if len(words) < n or not total_chars:
        return 0.0
    counts = Counter(zip(*(words[i:] for i in range(n)), strict=False))
    gram, count = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
    if count < 2:
        return 0.0
    return sum(len(w) for w in gram) * count / total_chars


def dup_ngram_char_fraction(words: list[str], n: int, total_chars: int) -> float:
    """Characters of words covered by a repeat of an earlier n-gram / all (the
    reference of :meth:`NGrams.dup_fraction`).

    The first occurrence of an n-gram is not a duplicate; its repeats are, and a
    word covered by several overlapping repeats counts once (as datatrove does;
    counting first occurrences too roughly doubles the fraction for text quoted twice).
    """
    if len(words) < n or not total_chars:
        return 0.0
    seen = set()
    covered = bytearray(len(words))
    for start, gram in enumerate(zip(*(words[i:] for i in range(n)), strict=False)):
        if gram in seen:
            covered[start : start + n] = b"\x01" * n
        else:
            seen.add(gram)
    return sum(len(w) for w, c in zip(words, covered, strict=True) if c) / total_chars


class NGrams:
    """The repeated n-grams of a document's words, as dense ranks: equal n-grams get
    the same rank. Words are numbered by first occurrence (``pd.factorize``); an
    n-gram can repeat only where its first n-1 words do, so level n ranks only the
    starts whose (n-1)-gram repeats, by the (n-1)-gram's rank and the next word
    (rank x vocabulary + word, made dense again by ``np.unique``): exact, no
    hashing, array operations on fewer starts at every level instead of a Python
    tuple per n-gram. Gives the measures of :func:`top_ngram_char_fraction` and
    :func:`dup_ngram_char_fraction` (tests compare them)."""

    def __init__(self, words: list[str]) -> None:
        self.words = words
        self.ids = pd.factorize(np.array(words, dtype=object))[0].astype(np.int64)
        self.lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        self.total = int(self.lengths.sum())
        self.vocab = int(self.ids.max()) + 1 if len(words) else 1
        # n -> (starts of n-grams whose first n-1 words repeat, their ranks, the first
        # of those starts of each rank, the count of each rank)
        self.levels: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}

    @staticmethod
    def _ranked(starts: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, ...]:
        _, first, ranks, counts = np.unique(
            keys, return_index=True, return_inverse=True, return_counts=True
        )
        return starts, ranks.reshape(-1), starts[first], counts

    def level(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(starts, rank at each, first start of each rank, count of each rank) of the
        n-grams that may repeat (every other n-gram occurs once)."""
        if not self.levels:  # words: ranked already, numbered in order of first occurrence
            ids = self.ids
            new = np.ones(len(ids), dtype=bool)
            new[1:] = ids[1:] > np.maximum.accumulate(ids)[:-1]
            starts = np.arange(len(ids))
            self.levels[1] = (starts, ids, starts[new], np.bincount(ids))
        done = max(self.levels)
        while done < n:
            starts, ranks, _, counts = self.levels[done]
            done += 1
            keep = (counts[ranks] > 1) & (starts <= len(self.ids) - done)
            starts, ranks = starts[keep], ranks[keep]
            self.levels[done] = self._ranked(
                starts, ranks * self.vocab + self.ids[starts + done - 1]
            )
        return self.levels[n]

    def top_fraction(self, n: int) -> float:
        """Characters of the most frequent n-gram times its count / all characters
        (ties: the largest n-gram)."""
        if len(self.words) < n or not self.total:
            return 0.0
        _, _, first, counts = self.level(n)
        count = int(counts.max()) if len(counts) else 0
        if count < 2:
            return 0.0
        gram = max(tuple(self.words[i : i + n]) for i in first[counts == count].tolist())
        return sum(map(len, gram)) * count / self.total

    def dup_fraction(self, n: int) -> float:
        """Characters of words covered by a repeat of an earlier n-gram / all."""
        if len(self.words) < n or not self.total:
            return 0.0
        starts, ranks, first, _ = self.level(n)
        repeats = starts[first[ranks] < starts]
        if not len(repeats):
            return 0.0
        size = len(self.words) + n
        edges = np.bincount(repeats, minlength=size) - np.bincount(repeats + n, minlength=size)
        covered = np.cumsum(edges[: len(self.words)]) > 0
        return int(self.lengths[covered].sum()) / self.total


# ---------------------------------------------------------------- rule sets
# Each returns None (passes) or (rule name, detail).

Failure = tuple[str, str] | None


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def check_repetition(
    text: str, words: list[str], cfg: Mapping[str, Any], skip, fast: bool = False
) -> Failure:
    lines = _lines(text)
    paragraphs = [p.strip() for p in _PARAGRAPHS.split(text) if p.strip()]
    line_frac, line_chars = _dup_fractions(lines)
    par_frac, par_chars = _dup_fractions(paragraphs)
    checks = (
        ("dup_line_fraction", line_frac, cfg["max_dup_line_fraction"]),
        ("dup_paragraph_fraction", par_frac, cfg["max_dup_paragraph_fraction"]),
        ("dup_line_char_fraction", line_chars, cfg["max_dup_line_char_fraction"]),
        ("dup_paragraph_char_fraction", par_chars, cfg["max_dup_paragraph_char_fraction"]),
    )
    for name, value, bound in checks:
        rule = f"gopher_repetition.{name}"
        if rule not in skip and value > bound:
            return rule, f"{name} {_fmt(value)} > {bound}"
    if fast:
        grams = NGrams(words)
        measures = {"top": grams.top_fraction, "dup": grams.dup_fraction}
    else:
        total = sum(len(w) for w in words)
        measures = {
            "top": lambda n: top_ngram_char_fraction(words, n, total),
            "dup": lambda n: dup_ngram_char_fraction(words, n, total),
        }
    for key, label in (("top", "top"), ("dup", "duplicate")):
        for n, bound in cfg[f"max_{key}_ngram_char_fraction"].items():
            rule = f"gopher_repetition.{key}_{n}gram_char_fraction"
            if rule in skip:
                continue
            value = measures[key](n)
            if value > bound:
                return rule, f"{label} {n}-gram char fraction {_fmt(value)} > {bound}"
    return None


def check_quality(
    text: str,
    words: list[str],
    lang: str | None,
    cfg: Mapping[str, Any],
    skip,
    fast: bool = False,
) -> Failure:
    n = len(words)
    rule = "gopher_quality.word_count"
    if rule not in skip and not cfg["min_words"] <= n <= cfg["max_words"]:
        bound = f"< {cfg['min_words']}" if n < cfg["min_words"] else f"> {cfg['max_words']}"
        return rule, f"words {n} {bound}"
    if not n:
        return None
    rule = "gopher_quality.mean_word_length"
    if rule not in skip:
        mean = (sum(map(len, words)) if fast else sum(len(w) for w in words)) / n
        lo, hi = cfg["min_mean_word_length"], cfg["max_mean_word_length"]
        if not lo <= mean <= hi:
            return rule, f"mean word length {_fmt(mean)} not in [{lo}, {hi}]"
    rule = "gopher_quality.symbol_word_ratio"
    if rule not in skip:
        for symbol, count in (
            ("#", text.count("#")),
            ("ellipsis", text.count("...") + text.count("…")),
        ):
            if count / n > cfg["max_symbol_word_ratio"]:
                ratio = _fmt(count / n)
                return rule, f"{symbol} per word {ratio} > {cfg['max_symbol_word_ratio']}"
    lines = _lines(text)
    if lines:
        rule = "gopher_quality.bullet_lines"
        share = sum(line.startswith(BULLETS) for line in lines) / len(lines)
        if rule not in skip and share > cfg["max_bullet_lines"]:
            return rule, f"bullet-start lines {_fmt(share)} > {cfg['max_bullet_lines']}"
        rule = "gopher_quality.ellipsis_lines"
        share = sum(line.endswith(ELLIPSES) for line in lines) / len(lines)
        if rule not in skip and share > cfg["max_ellipsis_lines"]:
            return rule, f"ellipsis-end lines {_fmt(share)} > {cfg['max_ellipsis_lines']}"
    rule = "gopher_quality.alpha_words"
    if rule not in skip:
        if fast:  # each distinct word judged once, weighted by its count
            counts = Counter(words)
            alpha = sum(c for w, c in counts.items() if w.isalpha() or any(map(str.isalpha, w)))
            share = alpha / n
        else:
            share = sum(any(ch.isalpha() for ch in w) for w in words) / n
        if share < cfg["min_alpha_words"]:
            return rule, f"words with a letter {_fmt(share)} < {cfg['min_alpha_words']}"
    rule = "gopher_quality.stop_words"
    stop = (cfg.get("stop_words") or {}).get(lang or "en")
    if rule not in skip and stop:
        stop_set = set(stop)
        found = set(map(str.lower, set(words))) if fast else {w.lower() for w in words}
        found &= stop_set
        if len(found) < cfg["min_stop_words"]:
            return rule, f"distinct stop words {len(found)} < {cfg['min_stop_words']}"
    return None


def c4_clean_lines(
    text: str, cjk: bool, cfg: Mapping[str, Any], fast: bool = False
) -> tuple[str, Counter]:
    """The C4 line filter: (kept text, lines removed by cause)."""
    removed: Counter = Counter()
    kept: list[str] = []
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            continue
        if cfg["remove_citations"]:
            line = CITATION.sub("", line).strip()
        lower = line.lower()
        line_words = words_of(line, cjk)
        if not line.endswith(TERMINAL) or line.endswith(ELLIPSES):
            removed["no_terminal_punctuation"] += 1
        elif len(line_words) < cfg["min_words_per_line"]:
            removed["too_few_words"] += 1
        elif (
            max(map(len, line_words), default=0) > cfg["max_word_length"]
            if fast
            else any(len(w) > cfg["max_word_length"] for w in line_words)
        ):
            removed["long_word"] += 1
        elif cfg["remove_javascript"] and "javascript" in lower:
            removed["javascript"] += 1
        elif cfg["remove_policy"] and any(p in lower for p in POLICY):
            removed["policy"] += 1
        else:
            kept.append(line)
    return "\n".join(kept), removed


def count_sentences(text: str) -> int:
    return len(_SENTENCE_END.findall(text))


def check_c4_document(text: str, cfg: Mapping[str, Any], bad_words, skip) -> Failure:
    lower = text.lower()
    if cfg["lorem_ipsum"] and "c4.lorem_ipsum" not in skip and "lorem ipsum" in lower:
        return "c4.lorem_ipsum", "contains 'lorem ipsum'"
    if cfg["curly_bracket"] and "c4.curly_bracket" not in skip and "{" in text:
        return "c4.curly_bracket", f"contains '{{' at char {text.index('{')}"
    if bad_words and "c4.bad_words" not in skip:
        tokens = set(re.findall(r"\w+", lower))
        for word in bad_words:
            hit = word in tokens if word.isalnum() and word.isascii() else word in lower
            if hit:
                return "c4.bad_words", f"contains listed word {word!r}"
    return None


def slim_chars(text: str, fast: bool = False) -> int:
    """Characters that are neither whitespace nor punctuation."""
    if fast:  # each distinct character judged once, weighted by its count
        return sum(
            count
            for ch, count in Counter(text).items()
            if not ch.isspace() and unicodedata.category(ch)[0] != "P"
        )
    return sum(1 for ch in text if not ch.isspace() and unicodedata.category(ch)[0] != "P")


# ---------------------------------------------------------------- documents


def filter_text(text: str, lang: str | None, settings: Settings) -> Judged:
    """Apply every enabled rule set to one text; first failure wins. The judgement's
    text is C4's cleaned text once c4 ran, its ``counts`` the lines C4 removed by cause."""
    fast = settings.fast
    cjk = (lang in settings.cjk_languages) if lang else is_cjk_text(text, fast)
    lang = lang or ("zh" if cjk else None)
    skip = settings.skip.get(lang or "", frozenset())
    removed: Counter = Counter()
    words: list[str] | None = None

    def get_words() -> list[str]:
        nonlocal words
        if words is None:
            words = words_of(text, cjk)
        return words

    for rule_set in settings.rule_sets:
        if rule_set in skip:
            continue
        verdict: Failure = None
        if rule_set == "gopher_repetition":
            verdict = check_repetition(text, get_words(), settings.repetition, skip, fast)
        elif rule_set == "gopher_quality":
            verdict = check_quality(text, get_words(), lang, settings.quality, skip, fast)
        elif rule_set == "c4":
            verdict = check_c4_document(text, settings.c4, settings.bad_words, skip)
            if verdict is None:
                cleaned, removed = c4_clean_lines(text, cjk, settings.c4, fast)
                sentences = count_sentences(cleaned)
                if not cleaned:
                    verdict = (
                        "c4.empty_after_line_filter",
                        f"all {sum(removed.values())} lines removed",
                    )
                elif "c4.min_sentences" not in skip and sentences < settings.c4["min_sentences"]:
                    verdict = (
                        "c4.min_sentences",
                        f"sentences {sentences} < {settings.c4['min_sentences']} after line filter",
                    )
                text, words = cleaned, None
        elif rule_set == "slimpajama":
            n = slim_chars(text, fast)
            if "slimpajama.min_chars" not in skip and n < settings.slimpajama["min_chars"]:
                verdict = "slimpajama.min_chars", f"chars {n} < {settings.slimpajama['min_chars']}"
        if verdict is not None:
            return Judged(text, verdict, removed)
    return Judged(text, None, removed)


def _lang(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class FiltersStage(DocStage):
    """Rule ``filters``: the section's rule sets over the documents of its ``apply_to``
    (``files``: the rule's ``bad_words`` input, read from ``c4.bad_words``)."""

    name = STAGE
    section = "filters"
    exempt: ClassVar[dict] = {"filter_lines_removed": 0}
    not_applied_key = "not_filtered"

    def prepare(self) -> None:
        self.rules = settings(self.cfg, self.fast)

    def described(self) -> dict[str, Any]:
        return {"rule_sets": list(self.rules.rule_sets)}

    def judge(self, docs: pd.DataFrame) -> Verdict:
        langs = docs["lang"].tolist() if "lang" in docs.columns else [None] * len(docs)
        judged, lines_removed = [], []
        removed_total: Counter = Counter()
        changed = 0
        for text, lang in zip(docs["text"].tolist(), langs, strict=True):
            if not isinstance(text, str) or not text.strip():
                out = Judged(text, ("empty_text", "no text"))
            else:
                out = filter_text(text, _lang(lang), self.rules)
            if out.verdict is not None:
                out.text = text  # a rejected row keeps the text as it came
                lines_removed.append(0)
            else:
                changed += out.text != text
                lines_removed.append(sum(out.counts.values()))
                removed_total.update(out.counts)
            judged.append(out)
        return verdict_of(
            judged,
            docs.index,
            columns={
                "filter_lines_removed": pd.Series(lines_removed, index=docs.index, dtype="int64")
            },
            counters={
                "text_changed": changed,
                "lines_removed": int(sum(removed_total.values())),
                "lines_removed_by_cause": {k: removed_total[k] for k in sorted(removed_total)},
            },
        )

    def kept_counters(self, kept: pd.DataFrame) -> dict[str, Any]:
        langs = kept["lang"].tolist() if "lang" in kept.columns else [None] * len(kept)
        by_lang = Counter(_lang(lang) or "unknown" for lang in langs)
        return {"kept_by_lang": {k: by_lang[k] for k in sorted(by_lang)}}
