"""Document perplexity with the SentencePiece + KenLM models of each language."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..lang import model_language
from .normalize import normalized_lines

# Columns a scored shard carries besides the documents' own.
PERPLEXITY = "perplexity"
# Documents whose lines are scored in one batch (their SentencePiece pieces held meanwhile).
SCORE_DOCS = 256


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

        The lines of ``SCORE_DOCS`` documents at a time go through SentencePiece in one
        batch (their pieces held meanwhile), then KenLM scores them one by one; sums
        are per document.
        """
        result = np.full(len(texts), np.nan)
        for lo in range(0, len(texts), SCORE_DOCS):
            chunk = texts[lo : lo + SCORE_DOCS]
            owners: list[int] = []
            lines: list[str] = []
            for index, text in enumerate(chunk):
                doc_lines = normalized_lines(text or "")
                lines.extend(doc_lines)
                owners.extend([index] * len(doc_lines))
            if not lines:
                continue
            logs, lengths = self.line_scores(lines, threads)
            owner = np.asarray(owners)
            log_sum = np.bincount(owner, weights=logs, minlength=len(chunk))
            count = np.bincount(owner, weights=lengths, minlength=len(chunk))
            scored = np.flatnonzero(count > 0)
            result[lo + scored] = np.power(10.0, -log_sum[scored] / count[scored])
        return result

    def perplexity(self, text: str) -> float:
        """One document's perplexity (NaN if it has no text left after normalization)."""
        return float(self.score_texts([text])[0])


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
    text left after normalization; :class:`PerplexityBucketStage` tells the two apart.
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
