"""Quality stage, the CC-NET way: SentencePiece + KenLM perplexity and buckets.

Every document is scored by the 5-gram KenLM model of its language over the
SentencePiece pieces of its normalized text, with CC-NET's formula

    perplexity = 10 ** (-sum(log10 P(line)) / sum(pieces(line) + 1))

(the ``+ 1`` is each line's end-of-sentence token), and is then put in a bucket by
per-language cutoffs: ``head`` below the 30th percentile, ``tail`` above the 60th,
``middle`` between (percentiles configurable). The cutoffs come from the corpus
being built, from held-out reference text, or from the config; the ones used are
recorded. Documents of a language without a model get bucket ``unscored``.

The stage runs as three kinds of job so that corpus cutoffs work: ``score_frame``
per shard, ``gather_cutoffs`` over every shard, ``assign_buckets`` per shard.
Models are trained by ``train_language_model`` (normalize, SentencePiece, ``lmplz``,
``build_binary``) or downloaded ready-made (e.g. CC-NET's ``{lang}.arpa.bin``).

Reasons for rejection: ``empty_text`` (nothing left to score after normalization),
``no_lm`` (no model for the language, when ``unscored: drop``), ``tail_bucket``
(when ``drop_tail`` is on).
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import logging
import lzma
import math
import os
import re
import shutil
import subprocess
import tempfile
import time
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from .records import reject_records, stable_id, stage_stats, unit_hash

STAGE = "perplexity"
BUCKETS = ("head", "middle", "tail")
UNSCORED = "unscored"
KENLM_VERSION = "0.3.0"
KENLM_BIN_ENV = "CORPUSFORGE_KENLM_BIN"
# Columns a scored shard carries besides the documents' own.
PERPLEXITY = "perplexity"
BUCKET = "bucket"

log = logging.getLogger("corpusforge.perplexity")


# --------------------------------------------------------------------------- KenLM binaries


class KenLMNotFoundError(RuntimeError):
    """lmplz / build_binary are not where the stage looks for them."""


def kenlm_cache_dir(version: str = KENLM_VERSION) -> Path:
    """Where tools/build_kenlm.sh caches the binaries."""
    root = os.environ.get("CORPUSFORGE_KENLM_CACHE")
    if not root:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
        root = os.path.join(cache, "corpusforge")
    return Path(root) / f"kenlm-{version}" / "bin"


def kenlm_bin_dir(
    tools: Sequence[str] = ("lmplz", "build_binary"), version: str = KENLM_VERSION
) -> Path:
    """The folder holding KenLM's command-line tools.

    ``$CORPUSFORGE_KENLM_BIN`` if set, else the cache of tools/build_kenlm.sh.
    Raises :class:`KenLMNotFoundError` saying how to get them.
    """
    env = os.environ.get(KENLM_BIN_ENV)
    folder = Path(env) if env else kenlm_cache_dir(version)
    missing = [t for t in tools if not os.access(folder / t, os.X_OK)]
    if missing:
        where = f"${KENLM_BIN_ENV}={env}" if env else f"the build cache {folder}"
        raise KenLMNotFoundError(
            f"KenLM tools {', '.join(missing)} not found in {where}. Build them once with "
            f"`bash tools/build_kenlm.sh` (needs cmake, g++ and Debian's libboost-program-"
            f"options-dev libboost-system-dev libboost-thread-dev libboost-test-dev zlib1g-dev "
            f"libbz2-dev liblzma-dev), or point ${KENLM_BIN_ENV} at a folder holding them."
        )
    return folder


# --------------------------------------------------------------------------- normalization
#
# CC-NET normalizes every line before SentencePiece: strip, lowercase, strip accents
# (NFD, drop combining marks), digits -> 0, unify punctuation, drop non-printing
# characters. Per-character unicodedata calls dominate a naive implementation, so
# here every character's mapping is computed once and cached in a str.translate
# table: a document is normalized by one lower() and one translate().

# Line breaks as str.splitlines sees them become "\n"; other whitespace controls a space.
_LINE_BREAKS = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_SPACES = "\t\u3000"


def _punctuation_map() -> dict[str, str]:
    table = {chr(code): chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)}  # fullwidth
    groups = {
        '"': "“”„‟«»「」『』《》〝〞〟＂",
        "'": "‘’‚‛′‵´`",
        "-": "‐‑‒–—―━─−",
        ".": "。｡．",
        ",": "、､，",
        "<": "〈‹",
        ">": "〉›",
        "[": "【〔〖〘〚",
        "]": "】〕〗〙〛",
        "(": "⦅（",
        ")": "⦆）",
        "...": "…⋯",
        ":": "∶：",
        "~": "～〜",
        "*": "•●▪►",
    }
    for target, sources in groups.items():
        for char in sources:
            table[char] = target
    return table


_PUNCT = _punctuation_map()


def _map_char(char: str) -> str | None:
    """What one (already lowercased) character becomes; None deletes it."""
    if char == "\n":
        return "\n"
    if char in _LINE_BREAKS:
        return "\n"
    if char in _SPACES:
        return " "
    out = []
    for part in unicodedata.normalize("NFD", char):
        category = unicodedata.category(part)
        if category == "Mn":  # accents and other combining marks
            continue
        if category == "Nd":
            out.append("0")
        elif part in _PUNCT:
            out.append(_PUNCT[part])
        elif category[0] == "C":  # control, format, private use, unassigned
            continue
        else:
            out.append(part)
    return "".join(out) or None


class _TranslateTable(dict):
    """str.translate table filled lazily: each code point's mapping computed once."""

    def __missing__(self, code: int) -> int | str | None:
        char = chr(code)
        mapped = _map_char(char)
        value: int | str | None = code if mapped == char else mapped
        self[code] = value
        return value


_TABLE = _TranslateTable()


def normalize_text(text: str) -> str:
    """CC-NET normalization of a whole text; lines are kept (not stripped)."""
    return text.lower().translate(_TABLE)


def normalize_line(line: str) -> str:
    """CC-NET normalization of one line: strip, then normalize."""
    return normalize_text(line.strip()).strip()


def normalized_lines(text: str) -> list[str]:
    """The non-empty normalized lines of a document, as they are scored."""
    return [s for s in (line.strip() for line in normalize_text(text).split("\n")) if s]


# --------------------------------------------------------------------------- models


@dataclass
class LanguageModel:
    """A SentencePiece model and a KenLM model of one language."""

    lang: str
    sp: Any  # sentencepiece.SentencePieceProcessor
    lm: Any  # kenlm.Model
    meta: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        # Piece strings by id: mapping ids is faster than asking for str pieces.
        self._pieces = [self.sp.id_to_piece(i) for i in range(self.sp.get_piece_size())]
        self._unk = self.sp.unk_id()

    @classmethod
    def load(cls, lang: str, sp_model: str | os.PathLike, lm_model: str | os.PathLike):
        try:
            import kenlm
        except ImportError as exc:
            raise ImportError(
                "the kenlm Python module is missing: pip install --no-binary kenlm kenlm==0.3.0"
            ) from exc
        import sentencepiece

        sp = sentencepiece.SentencePieceProcessor(model_file=str(sp_model))
        lm = kenlm.Model(str(lm_model))
        return cls(lang=lang, sp=sp, lm=lm)

    def tokenize(self, lines: Sequence[str], threads: int = 1) -> list[str]:
        """Each line as space-separated SentencePiece pieces (what the LM was trained on).

        Same result as ``" ".join(sp.encode(line, out_type=str))``: a line with an
        unknown piece is encoded as strings, since SentencePiece then keeps the
        unknown text itself rather than ``<unk>``.
        """
        lines = list(lines)
        ids = self.sp.encode(lines, num_threads=max(1, threads))
        piece, unk, encode = self._pieces.__getitem__, self._unk, self.sp.encode
        return [
            " ".join(encode(line, out_type=str))
            if unk in line_ids
            else " ".join(map(piece, line_ids))
            for line, line_ids in zip(lines, ids, strict=True)
        ]

    def line_scores(self, lines: Sequence[str], threads: int = 1) -> tuple[list[float], list[int]]:
        """(log10 probability with <s> and </s>, pieces + 1) of every normalized line."""
        sentences = self.tokenize(lines, threads)
        score = self.lm.score
        logs = [score(sentence, True, True) for sentence in sentences]
        lengths = [sentence.count(" ") + 2 if sentence else 1 for sentence in sentences]
        return logs, lengths

    def score_texts(self, texts: Sequence[str], threads: int = 1) -> np.ndarray:
        """Document perplexities (NaN where nothing is left to score).

        All lines of all documents go through SentencePiece in one batch, then KenLM
        scores them one by one; sums are per document.
        """
        owners: list[int] = []
        lines: list[str] = []
        for index, text in enumerate(texts):
            doc_lines = normalized_lines(text or "")
            lines.extend(doc_lines)
            owners.extend([index] * len(doc_lines))
        result = np.full(len(texts), np.nan)
        if not lines:
            return result
        logs, lengths = self.line_scores(lines, threads)
        owner = np.asarray(owners)
        log_sum = np.bincount(owner, weights=logs, minlength=len(texts))
        count = np.bincount(owner, weights=lengths, minlength=len(texts))
        scored = count > 0
        result[scored] = np.power(10.0, -log_sum[scored] / count[scored])
        return result

    def perplexity(self, text: str) -> float:
        """One document's perplexity (NaN if it has no text left after normalization)."""
        return float(self.score_texts([text])[0])


def model_language(lang: Any, models: Iterable[str]) -> str | None:
    """The model a language code uses: itself, else its primary subtag (zh-Hant -> zh)."""
    if not isinstance(lang, str) or not lang.strip():
        return None
    code = lang.strip().lower().replace("_", "-")
    available = set(models)
    if code in available:
        return code
    primary = code.split("-")[0]
    return primary if primary in available else None


def document_language(docs: pd.DataFrame) -> pd.Series:
    """The language of each document: ``lang`` (language ID), else ``prompt_lang``."""
    empty = pd.Series([None] * len(docs), index=docs.index, dtype=object)
    lang = docs["lang"].astype(object) if "lang" in docs else empty
    lang = lang.where(lang.notna() & (lang.astype(str).str.strip() != ""), None)
    if "prompt_lang" in docs:
        lang = lang.where(lang.notna(), docs["prompt_lang"].astype(object))
    return lang.where(lang.notna(), None)


def score_frame(
    docs: pd.DataFrame, models: Mapping[str, LanguageModel], threads: int = 1
) -> pd.DataFrame:
    """The documents with ``lang`` (added from ``prompt_lang`` if absent) and ``perplexity``.

    ``perplexity`` is NaN for documents without a model for their language or with no
    text left after normalization; :func:`assign_buckets` tells the two apart.
    """
    out = docs.reset_index(drop=True).copy()
    langs = document_language(out)
    if "lang" not in out:
        out["lang"] = langs
    target = langs.map(lambda code: model_language(code, models))
    perplexity = np.full(len(out), np.nan)
    for lang in sorted(set(target.dropna())):
        rows = np.flatnonzero((target == lang).to_numpy())
        texts = out["text"].iloc[rows].fillna("").astype(str).tolist()
        perplexity[rows] = models[lang].score_texts(texts, threads)
    # One decimal, as CC-NET stores it: stable across platforms' float noise.
    out[PERPLEXITY] = np.round(perplexity, 1)
    return out


# --------------------------------------------------------------------------- cutoffs


def percentile_cutoffs(values: Sequence[float], percentiles: Sequence[float]) -> list[float]:
    """The perplexities at the given percentiles (linear interpolation), rounded to 0.1."""
    data = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if data.size == 0:
        raise ValueError("no perplexities to take percentiles of")
    return [round(float(np.percentile(data, p)), 1) for p in percentiles]


def gather_cutoffs(
    corpus: Mapping[str, Sequence[float]],
    references: Mapping[str, Sequence[float] | None],
    configured: Mapping[str, Sequence[float] | None],
    source: str,
    percentiles: Sequence[float],
    min_docs: int,
) -> dict[str, Any]:
    """Cutoffs per language, and where they came from.

    ``corpus``: perplexities of the corpus being built, per language; ``references``:
    perplexities of held-out reference documents per language (None if none);
    ``configured``: cutoffs from the config per language. ``source`` says which to
    prefer (corpus, reference, config); a language whose preferred source has
    nothing (or, for the corpus, fewer than ``min_docs`` documents) falls back to the
    others in the order corpus, reference, config.
    """
    if source not in ("corpus", "reference", "config"):
        raise ValueError(f"unknown cutoff source {source!r}")
    if len(percentiles) != 2 or not 0 <= percentiles[0] <= percentiles[1] <= 100:
        raise ValueError(f"percentiles must be two increasing numbers in [0, 100]: {percentiles}")
    order = [source] + [s for s in ("corpus", "reference", "config") if s != source]
    languages: dict[str, Any] = {}
    for lang in sorted(set(corpus) | set(references) | set(configured)):
        corpus_values = [v for v in corpus.get(lang, ()) if not math.isnan(v)]
        reference_values = references.get(lang) or []
        chosen: dict[str, Any] | None = None
        for candidate in order:
            if candidate == "corpus" and len(corpus_values) >= max(min_docs, 1):
                chosen = {"cutoffs": percentile_cutoffs(corpus_values, percentiles)}
            elif candidate == "reference" and reference_values:
                chosen = {"cutoffs": percentile_cutoffs(reference_values, percentiles)}
            elif candidate == "config" and configured.get(lang):
                chosen = {"cutoffs": [float(v) for v in configured[lang]]}
            if chosen is not None:
                chosen["source"] = candidate
                break
        if chosen is None and corpus_values:  # better a small sample than no buckets
            chosen = {
                "cutoffs": percentile_cutoffs(corpus_values, percentiles),
                "source": "corpus",
            }
        entry: dict[str, Any] = {
            "corpus_docs": len(corpus_values),
            "reference_docs": len(reference_values),
        }
        if chosen is None:
            entry.update({"source": None, "head_max": None, "tail_min": None})
        else:
            head_max, tail_min = chosen["cutoffs"]
            if head_max > tail_min:
                raise ValueError(f"{lang}: head cutoff {head_max} above tail cutoff {tail_min}")
            entry.update({"source": chosen["source"], "head_max": head_max, "tail_min": tail_min})
            if chosen["source"] != source:
                entry["fallback_from"] = source
        if corpus_values:
            entry["corpus_percentiles"] = dict(
                zip(
                    ["p10", "p30", "p50", "p60", "p90"],
                    percentile_cutoffs(corpus_values, [10, 30, 50, 60, 90]),
                    strict=True,
                )
            )
        languages[lang] = entry
    return {
        "source": source,
        "percentiles": list(percentiles),
        "min_docs": min_docs,
        "languages": languages,
    }


def bucket_of(perplexity: np.ndarray, head_max: float, tail_min: float) -> np.ndarray:
    """head below ``head_max``, tail above ``tail_min``, middle otherwise."""
    return np.where(
        perplexity < head_max, "head", np.where(perplexity > tail_min, "tail", "middle")
    )


def assign_buckets(
    scored: pd.DataFrame,
    cutoffs: Mapping[str, Any],
    model_langs: Iterable[str],
    unscored: str = "keep",
    drop_tail: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Buckets for a scored shard: (kept documents, rejected rows, stats)."""
    if unscored not in ("keep", "drop"):
        raise ValueError(f"unscored must be keep or drop, got {unscored!r}")
    models = sorted(model_langs)
    docs = scored.reset_index(drop=True)
    n_in = len(docs)
    target = document_language(docs).map(lambda code: model_language(code, models))
    perplexity = docs[PERPLEXITY].to_numpy(dtype=float)
    bucket = np.full(n_in, UNSCORED, dtype=object)
    reason = pd.Series([None] * n_in, index=docs.index, dtype=object)
    detail = pd.Series([""] * n_in, index=docs.index, dtype=object)

    languages = cutoffs.get("languages", {})
    for lang in models:
        rows = (target == lang).to_numpy()
        entry = languages.get(lang) or {}
        if entry.get("head_max") is None:
            continue  # no cutoffs at all for this language: its documents stay unscored
        has = rows & ~np.isnan(perplexity)
        bucket[has] = bucket_of(perplexity[has], entry["head_max"], entry["tail_min"])

    no_model = target.isna().to_numpy()
    empty = ~no_model & np.isnan(perplexity)
    reason[empty] = "empty_text"
    detail[empty] = "no text left to score after normalization"
    if unscored == "drop":
        langs = document_language(docs)
        reason[no_model] = "no_lm"
        detail[no_model] = "no language model for lang " + langs[no_model].astype(str)
    if drop_tail:
        tail = (bucket == "tail") & reason.isna().to_numpy()
        reason[tail] = "tail_bucket"
        detail[tail] = [
            f"perplexity {p} > tail cutoff {languages[t]['tail_min']} ({t})"
            for p, t in zip(perplexity[tail], target[tail], strict=True)
        ]

    docs = docs.assign(**{BUCKET: bucket})
    rejected = reason.notna()
    rejects = pd.concat(
        [
            reject_records(docs[reason == r], STAGE, r, detail[reason == r])
            for r in sorted(set(reason.dropna()))
        ]
        or [reject_records(docs.iloc[:0], STAGE, "")],
        ignore_index=True,
    )
    rejects = rejects.sort_values("id", kind="stable").reset_index(drop=True)
    kept = docs[~rejected].sort_values("id", kind="stable").reset_index(drop=True)

    counts: dict[str, dict[str, int]] = {}
    summary: dict[str, dict[str, float]] = {}
    kept_lang = document_language(kept).fillna("")
    for lang in sorted(set(kept_lang)):
        rows = kept[kept_lang == lang]
        counts[lang] = {str(k): int(v) for k, v in sorted(rows[BUCKET].value_counts().items())}
        values = rows[PERPLEXITY].dropna()
        if len(values):
            summary[lang] = {
                "mean": round(float(values.mean()), 1),
                "median": round(float(values.median()), 1),
                "min": float(values.min()),
                "max": float(values.max()),
            }
    stats = stage_stats(
        STAGE,
        n_in,
        len(kept),
        rejects,
        buckets=counts,
        perplexity=summary,
        cutoffs={
            lang: [e.get("head_max"), e.get("tail_min"), e.get("source")]
            for lang, e in sorted(languages.items())
        },
    )
    return kept, rejects, stats


# --------------------------------------------------------------------------- reference text


def _open_text(path: Path) -> IO[str]:
    name = path.name.lower()
    if name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    if name.endswith(".xz"):
        return lzma.open(path, "rt", encoding="utf-8")
    if name.endswith(".bz2"):
        return bz2.open(path, "rt", encoding="utf-8")
    if name.endswith(".zst"):
        import zstandard

        raw = open(path, "rb")  # noqa: SIM115 - closed with the wrapper
        reader = zstandard.ZstdDecompressor().stream_reader(raw, closefd=True)
        return io.TextIOWrapper(io.BufferedReader(reader), encoding="utf-8")
    return open(path, encoding="utf-8")


def reference_format(path: str | os.PathLike, declared: str | None = None) -> str:
    """text, jsonl or parquet, from the config or the file name."""
    if declared and declared != "auto":
        return declared
    name = Path(path).name.lower()
    for suffix in (".gz", ".xz", ".bz2", ".zst"):
        name = name.removesuffix(suffix)
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    return "text"


def read_reference(
    path: str | os.PathLike, fmt: str | None = None, text_field: str = "text"
) -> list[list[str]]:
    """Documents of a reference corpus, each a list of its non-empty lines.

    text: paragraphs one per line, documents separated by empty lines; jsonl or
    parquet: one document per row in ``text_field``, lines split on newlines.
    """
    path = Path(path)
    fmt = reference_format(path, fmt)
    docs: list[list[str]] = []
    if fmt == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path, columns=[text_field])
        texts: Iterable[Any] = table.column(text_field).to_pylist()
    elif fmt == "jsonl":
        with _open_text(path) as handle:
            texts = [json.loads(line).get(text_field) for line in handle if line.strip()]
    elif fmt == "text":
        with _open_text(path) as handle:
            current: list[str] = []
            for raw in handle:
                line = raw.strip()
                if line:
                    current.append(line)
                elif current:
                    docs.append(current)
                    current = []
            if current:
                docs.append(current)
        return docs
    else:
        raise ValueError(f"unknown reference format {fmt!r} (text, jsonl, parquet)")
    for text in texts:
        if isinstance(text, str):
            lines = [line.strip() for line in text.split("\n") if line.strip()]
            if lines:
                docs.append(lines)
    return docs


def unique_documents(docs: Iterable[list[str]]) -> tuple[list[list[str]], int]:
    """The documents without repeats (same normalized text), in order; and the repeat count.

    A repeated document would otherwise land in both the training and held-out parts
    and make the held-out perplexities (reference cutoffs) look too good.
    """
    seen: set[str] = set()
    unique: list[list[str]] = []
    repeats = 0
    for doc in docs:
        key = stable_id(*normalized_lines("\n".join(doc)))
        if key in seen:
            repeats += 1
            continue
        seen.add(key)
        unique.append(doc)
    return unique, repeats


def split_heldout(
    docs: Sequence[list[str]], fraction: float, seed: int
) -> tuple[list[list[str]], list[list[str]]]:
    """(training, held-out) documents; membership depends on each document's text only."""
    train, heldout = [], []
    for doc in docs:
        key = stable_id("\n".join(doc))
        (heldout if unit_hash("heldout", seed, key) < fraction else train).append(doc)
    return train, heldout


# --------------------------------------------------------------------------- training

TRAINING_DEFAULTS: dict[str, Any] = {
    "sp_vocab_size": 8000,
    "sp_model_type": "unigram",
    "sp_character_coverage": 0.9995,
    "sp_input_sentence_size": 1_000_000,
    "order": 5,
    "lmplz_memory": "1G",
    "lmplz_args": ["--discount_fallback"],
    "binary": "probing",
    "heldout_fraction": 0.1,
    "seed": 0,
}


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _run(cmd: list[str], stdin: Path | None = None, stdout: Path | None = None) -> None:
    log.info("running %s", " ".join(cmd))
    with (
        open(stdin, "rb") if stdin else open(os.devnull, "rb") as src,
        open(stdout, "wb") if stdout else open(os.devnull, "wb") as dst,
    ):
        proc = subprocess.run(cmd, stdin=src, stdout=dst, stderr=subprocess.PIPE, check=False)
    tail = proc.stderr.decode("utf-8", "replace")[-4000:]
    if proc.returncode != 0:
        raise RuntimeError(f"{Path(cmd[0]).name} failed ({proc.returncode}):\n{tail}")
    log.info("%s said:\n%s", Path(cmd[0]).name, tail[-1500:])


def train_sentencepiece(
    lines_file: Path, prefix: Path, settings: Mapping[str, Any], threads: int = 1
) -> Path:
    """Train a SentencePiece model on normalized lines; return the .model path."""
    import sentencepiece as spm

    vocab_size = int(settings["sp_vocab_size"])
    for _attempt in range(2):
        spm.set_random_generator_seed(int(settings["seed"]) + 1)
        try:
            _train_sp(spm, lines_file, prefix, settings, vocab_size, threads)
            break
        except RuntimeError as exc:
            # The vocabulary must hold every character the coverage keeps.
            found = re.search(r"smaller than required_chars\. \d+ vs (\d+)", str(exc))
            if not found or _attempt:
                raise
            needed = int(found.group(1))
            log.warning(
                "sp_vocab_size %d < the %d characters to cover: using %d",
                vocab_size,
                needed,
                needed + 256,
            )
            vocab_size = needed + 256
    return prefix.with_suffix(".model")


def _train_sp(spm, lines_file, prefix, settings, vocab_size, threads):
    # Lines come through an iterator and the model through a writer, so that no
    # temporary path is recorded in the model (same bytes on every run).
    model = io.BytesIO()
    with open(lines_file, encoding="utf-8") as lines:
        spm.SentencePieceTrainer.train(
            sentence_iterator=(line.rstrip("\n") for line in lines),
            model_writer=model,
            vocab_size=vocab_size,
            model_type=settings["sp_model_type"],
            character_coverage=float(settings["sp_character_coverage"]),
            input_sentence_size=int(settings["sp_input_sentence_size"]),
            shuffle_input_sentence=True,
            hard_vocab_limit=False,
            max_sentence_length=1 << 16,
            num_threads=max(1, int(threads)),
            minloglevel=1,
        )
    prefix.with_suffix(".model").write_bytes(model.getvalue())


def train_language_model(
    lang: str,
    reference: str | os.PathLike,
    sp_out: str | os.PathLike,
    lm_out: str | os.PathLike,
    settings: Mapping[str, Any] | None = None,
    *,
    reference_format_name: str | None = None,
    text_field: str = "text",
    threads: int = 1,
    bin_dir: Path | None = None,
    workdir: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Train ``lang``'s SentencePiece and KenLM models from a reference corpus.

    Normalizes the reference the CC-NET way, holds out a fraction of its documents,
    trains SentencePiece on the rest, tokenizes it, runs ``lmplz -o <order>`` and
    ``build_binary``, then scores the held-out documents. Returns a description of
    the models with the held-out perplexities (for reference cutoffs).
    """
    cfg = {**TRAINING_DEFAULTS, **(settings or {})}
    unknown = set(cfg) - set(TRAINING_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown training settings {sorted(unknown)}")
    if cfg["binary"] not in ("probing", "trie"):
        raise ValueError(f"binary must be probing or trie, got {cfg['binary']!r}")
    bins = bin_dir or kenlm_bin_dir()
    started = time.perf_counter()
    docs, duplicates = unique_documents(
        read_reference(reference, reference_format_name, text_field)
    )
    train, heldout = split_heldout(docs, float(cfg["heldout_fraction"]), int(cfg["seed"]))
    if not train:
        raise ValueError(f"{reference}: no training text for {lang}")
    with tempfile.TemporaryDirectory(prefix=f"lm-{lang}-", dir=workdir) as tmp_name:
        tmp = Path(tmp_name)
        lines_file = tmp / "train.txt"
        n_lines = 0
        with open(lines_file, "w", encoding="utf-8", newline="\n") as handle:
            for doc in train:
                for line in normalized_lines("\n".join(doc)):
                    handle.write(line + "\n")
                    n_lines += 1
        sp_model = train_sentencepiece(lines_file, tmp / "sp", cfg, threads)
        import sentencepiece

        sp = sentencepiece.SentencePieceProcessor(model_file=str(sp_model))
        pieces_file = tmp / "pieces.txt"
        n_pieces = 0
        with (
            open(lines_file, encoding="utf-8") as src,
            open(pieces_file, "w", encoding="utf-8", newline="\n") as dst,
        ):
            for batch in _batches(src, 10000):
                for pieces in sp.encode(batch, out_type=str):
                    n_pieces += len(pieces)
                    dst.write(" ".join(pieces) + "\n")
        arpa = tmp / "lm.arpa"
        _run(
            [
                str(bins / "lmplz"),
                "-o",
                str(int(cfg["order"])),
                "-S",
                str(cfg["lmplz_memory"]),
                "-T",
                str(tmp),
                *map(str, cfg["lmplz_args"]),
            ],
            stdin=pieces_file,
            stdout=arpa,
        )
        binary = tmp / "lm.bin"
        extra = ["-q", "8", "-b", "8", "-a", "64", "trie"] if cfg["binary"] == "trie" else []
        _run([str(bins / "build_binary"), *extra, str(arpa), str(binary)])
        for src_path, dest in ((sp_model, Path(sp_out)), (binary, Path(lm_out))):
            dest.parent.mkdir(parents=True, exist_ok=True)
            partial = dest.with_name(f".{dest.name}.partial")
            shutil.copyfile(src_path, partial)
            os.replace(partial, dest)
    model = LanguageModel.load(lang, sp_out, lm_out)
    heldout_pp = model.score_texts(["\n".join(doc) for doc in heldout])
    heldout_pp = sorted(round(float(v), 1) for v in heldout_pp if not math.isnan(v))
    return {
        "lang": lang,
        "kind": "trained",
        "sp_model": str(sp_out),
        "lm": str(lm_out),
        "sp_sha256": sha256_of(sp_out),
        "lm_sha256": sha256_of(lm_out),
        "settings": cfg,
        "reference": {
            "documents": len(docs),
            "duplicate_documents_dropped": duplicates,
            "train_documents": len(train),
            "train_lines": n_lines,
            "train_pieces": n_pieces,
            "heldout_documents": len(heldout),
        },
        "sp_vocab_size": int(sp.get_piece_size()),
        "reference_perplexities": heldout_pp,
        "train_seconds": round(time.perf_counter() - started, 1),
    }


def describe_pretrained(
    lang: str,
    sp_model: str | os.PathLike,
    lm: str | os.PathLike,
    reference: str | os.PathLike | None = None,
    reference_format_name: str | None = None,
    text_field: str = "text",
) -> dict[str, Any]:
    """Description of a ready-made model, scoring its reference corpus if one is given."""
    meta: dict[str, Any] = {
        "lang": lang,
        "kind": "pretrained",
        "sp_model": str(sp_model),
        "lm": str(lm),
        "sp_sha256": sha256_of(sp_model),
        "lm_sha256": sha256_of(lm),
        "reference_perplexities": [],
    }
    if reference is not None:
        model = LanguageModel.load(lang, sp_model, lm)
        docs = read_reference(reference, reference_format_name, text_field)
        values = model.score_texts(["\n".join(d) for d in docs])
        meta["reference"] = {"documents": len(docs)}
        meta["reference_perplexities"] = sorted(
            round(float(v), 1) for v in values if not math.isnan(v)
        )
    return meta


def _batches(lines: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for line in lines:
        batch.append(line.rstrip("\n"))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# --------------------------------------------------------------------------- config helpers


def training_settings(global_settings: Mapping[str, Any] | None, model_cfg: Mapping[str, Any]):
    """Training settings of one language: the defaults, the stage's, the model's own."""
    return {**TRAINING_DEFAULTS, **(global_settings or {}), **(model_cfg.get("training") or {})}


def configured_cutoffs(models_cfg: Mapping[str, Any], values: Mapping[str, Any] | None):
    """Cutoffs given in the config: ``cutoffs.values`` or a model's own ``cutoffs``."""
    out: dict[str, list[float] | None] = {}
    for lang, cfg in models_cfg.items():
        given = (values or {}).get(lang) or cfg.get("cutoffs")
        out[lang] = [float(v) for v in given] if given else None
    return out


def corpus_perplexities(frames: Iterable[pd.DataFrame], models: Iterable[str]):
    """Perplexities per model language over scored shards (for corpus cutoffs)."""
    models = sorted(models)
    values: dict[str, list[float]] = {lang: [] for lang in models}
    for frame in frames:
        target = document_language(frame).map(lambda code: model_language(code, models))
        for lang, pp in zip(target, frame[PERPLEXITY].to_numpy(dtype=float), strict=True):
            if lang is not None and not math.isnan(pp):
                values[lang].append(float(pp))
    return values


DEFAULT_MODELS: dict[str, Any] = {
    "en": {"reference": {"path": "resources/lm/en.txt.xz"}},
    # Nearly character-level pieces: on ~0.8M characters of reference text they
    # separate fluent from shuffled Chinese about 1.5x better than an 8k vocabulary.
    "zh": {
        "reference": {"path": "resources/lm/zh.txt.xz"},
        "training": {"sp_vocab_size": 4000, "sp_character_coverage": 0.995},
    },
}
CUTOFF_DEFAULTS: dict[str, Any] = {
    "source": "corpus",
    "percentiles": [30, 60],
    "min_docs": 20,
    "values": {},
}
_LANG_KEY = re.compile(r"[a-z][a-z0-9_-]*")


def stage_config(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``perplexity`` config section with every default filled in, checked."""
    raw = dict(raw or {})
    cfg = {
        "threads": int(raw.get("threads", 1)),
        "models": {k: dict(v or {}) for k, v in (raw.get("models") or DEFAULT_MODELS).items()},
        "training": {**TRAINING_DEFAULTS, **(raw.get("training") or {})},
        "cutoffs": {**CUTOFF_DEFAULTS, **(raw.get("cutoffs") or {})},
        "unscored": raw.get("unscored", "keep"),
        "drop_tail": bool(raw.get("drop_tail", False)),
    }
    unknown = set(raw) - set(cfg)
    if unknown:
        raise ValueError(f"perplexity: unknown keys {sorted(unknown)}")
    for lang, model in cfg["models"].items():
        if not _LANG_KEY.fullmatch(lang):
            raise ValueError(f"perplexity.models: {lang!r} is not a lowercase language code")
        if "pretrained" in model:
            missing = {"sp", "lm"} - set(model["pretrained"] or {})
            if missing:
                raise ValueError(f"perplexity.models.{lang}.pretrained lacks {sorted(missing)}")
        elif "reference" not in model:
            raise ValueError(
                f"perplexity.models.{lang}: give a `reference` text to train on, "
                "or `pretrained` models"
            )
        bad = set(model.get("training") or {}) - set(TRAINING_DEFAULTS)
        if bad:
            raise ValueError(f"perplexity.models.{lang}.training: unknown keys {sorted(bad)}")
    bad = set(cfg["training"]) - set(TRAINING_DEFAULTS)
    if bad:
        raise ValueError(f"perplexity.training: unknown keys {sorted(bad)}")
    if cfg["unscored"] not in ("keep", "drop"):
        raise ValueError("perplexity.unscored must be keep or drop")
    cutoffs = cfg["cutoffs"]
    if cutoffs["source"] not in ("corpus", "reference", "config"):
        raise ValueError("perplexity.cutoffs.source must be corpus, reference or config")
    if cutoffs["source"] == "config":
        given = configured_cutoffs(cfg["models"], cutoffs["values"])
        missing = sorted(lang for lang, v in given.items() if not v)
        if missing:
            log.warning("no configured cutoffs for %s: reference cutoffs are used", missing)
    return cfg


# --------------------------------------------------------------------------- workflow layout


class WorkflowLayout:
    """Where the stage's files live in a workflow run (used by rules/perplexity.smk).

    ``out`` turns a path under the results folder into the workflow's path (common.smk's
    ``out``). Trained models: ``lm/{lang}/{lang}.sp.model``, ``{lang}.arpa.bin`` and
    ``{lang}.json`` (description with held-out reference perplexities); downloads:
    ``lm/downloads/{lang}/{kind}/{file}``; scored shards: ``perplexity/scored/{shard}``.
    """

    def __init__(self, raw_config: Mapping[str, Any] | None, out) -> None:
        self.cfg = stage_config(raw_config)
        self.out = out
        self.langs = sorted(self.cfg["models"])
        self.trained = [lang for lang in self.langs if "pretrained" not in self.cfg["models"][lang]]
        self.pretrained = [lang for lang in self.langs if lang not in self.trained]

    @staticmethod
    def pattern(langs: Sequence[str]) -> str:
        """A wildcard regex matching exactly these languages (nothing if none)."""
        return "|".join(re.escape(lang) for lang in langs) if langs else "(?!)"

    def model_cfg(self, lang: str) -> dict[str, Any]:
        return self.cfg["models"][lang]

    def source(self, lang: str, kind: str) -> Mapping[str, Any]:
        """The configured source of a language's reference text or model file."""
        model = self.model_cfg(lang)
        return model["reference"] if kind == "reference" else model["pretrained"][kind]

    def source_file(self, lang: str, kind: str) -> str:
        """The local file of a source: its path, or where rule download_lm_file puts it."""
        source = self.source(lang, kind)
        if "path" in source:
            return str(source["path"])
        remote = source["url"].split("?")[0] if "url" in source else source["hf"]["filename"]
        name = os.path.basename(remote) or "file"
        return self.out(f"lm/downloads/{lang}/{kind}/{name}")

    def files(self, lang: str) -> dict[str, str]:
        """A language's SentencePiece model, KenLM binary and description."""
        meta = self.out(f"lm/{lang}/{lang}.json")
        if lang in self.trained:
            return {
                "sp": self.out(f"lm/{lang}/{lang}.sp.model"),
                "lm": self.out(f"lm/{lang}/{lang}.arpa.bin"),
                "meta": meta,
            }
        return {
            "sp": self.source_file(lang, "sp"),
            "lm": self.source_file(lang, "lm"),
            "meta": meta,
        }

    def all_files(self, kind: str) -> list[str]:
        return [self.files(lang)[kind] for lang in self.langs]

    def model_paths(self) -> dict[str, dict[str, str]]:
        return {lang: {k: self.files(lang)[k] for k in ("sp", "lm")} for lang in self.langs}

    def describe_inputs(self, lang: str) -> dict[str, str]:
        files = {k: self.files(lang)[k] for k in ("sp", "lm")}
        if "reference" in self.model_cfg(lang):
            files["reference"] = self.source_file(lang, "reference")
        return files

    def scored(self, shard: str = "{shard}") -> str:
        return self.out(f"perplexity/scored/{shard}.parquet")

    def cutoff_inputs(self, shards: Sequence[str]) -> dict[str, list[str]]:
        files = {"meta": self.all_files("meta")}
        if self.cfg["cutoffs"]["source"] == "corpus":
            files["scored"] = [self.scored(shard) for shard in shards]
        return files

    def training(self, lang: str) -> dict[str, Any]:
        return training_settings(self.cfg["training"], self.model_cfg(lang))

    def reference_format(self, lang: str) -> str:
        return self.model_cfg(lang).get("reference_format", "auto")

    def text_field(self, lang: str) -> str:
        return self.model_cfg(lang).get("text_field", "text")
