"""The jobs of the stage's rules (rules/perplexity.smk), from files to files.

  train_lm            train one language's SentencePiece + KenLM models
  describe_lm         describe a ready-made model (and score its reference text)
  perplexity_score    score one shard
  perplexity_cutoffs  gather the cutoffs per language
  perplexity_bucket   bucket one shard: the protocol stage PerplexityBucketStage
                      (corpusforge.perplexity.buckets), run by scripts/doc_stage.py

Each rule has its own script (scripts/<rule>.py) calling one function here; rule
download_lm_file runs scripts/download.py.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any

from ..io import (
    ParquetSink,
    iter_parquet_frames,
    read_json,
    read_parquet,
    write_json,
)
from .buckets import configured_cutoffs, corpus_perplexities, gather_cutoffs
from .scoring import LanguageModel, score_frame
from .training import describe_pretrained, train_language_model

log = logging.getLogger("corpusforge.perplexity")
PathLike = str | os.PathLike[str]


def train_lm(
    lang: str,
    reference: PathLike,
    sp_out: PathLike,
    lm_out: PathLike,
    meta_out: PathLike,
    training: Mapping[str, Any],
    reference_format: str | None,
    text_field: str,
    threads: int = 1,
) -> dict[str, Any]:
    """Train ``lang``'s models and write their description (without the training time,
    so that a rerun writes the same bytes)."""
    meta = train_language_model(
        lang,
        reference,
        sp_out,
        lm_out,
        training,
        reference_format_name=reference_format,
        text_field=text_field,
        threads=threads,
        workdir=os.path.dirname(lm_out),
    )
    meta.pop("train_seconds")
    write_json(meta, meta_out)
    return meta


def describe_lm(
    lang: str,
    sp: PathLike,
    lm: PathLike,
    reference: PathLike | None,
    reference_format: str | None,
    text_field: str,
    meta_out: PathLike,
) -> dict[str, Any]:
    """Write the description of a ready-made model (scoring its reference text if any)."""
    meta = describe_pretrained(lang, sp, lm, reference, reference_format, text_field)
    write_json(meta, meta_out)
    return meta


def load_models(models: Mapping[str, Mapping[str, PathLike]]) -> dict[str, LanguageModel]:
    """``{lang: {"sp": path, "lm": path}}`` -> loaded models."""
    return {
        lang: LanguageModel.load(lang, files["sp"], files["lm"])
        for lang, files in sorted(models.items())
    }


def score_shard(
    docs: PathLike,
    models: Mapping[str, Mapping[str, PathLike]],
    out: PathLike,
    threads: int = 1,
    batch_rows: int | None = None,
) -> None:
    """Score one shard with the models of its languages, ``batch_rows`` documents at
    a time (None: the whole shard at once)."""
    loaded = load_models(models)
    with ParquetSink(out) as sink:
        for frame in iter_parquet_frames(docs, batch_rows):
            sink.add(score_frame(frame, loaded, threads))


def _language_columns(path: PathLike) -> list[str]:
    """The columns corpus cutoffs need (lang, prompt_lang where present, perplexity)."""
    import pyarrow.parquet as pq

    names = set(pq.read_schema(path).names)
    return [c for c in ("lang", "prompt_lang", "perplexity") if c in names]


def write_cutoffs(
    langs: Iterable[str],
    metas: Iterable[PathLike],
    scored: Iterable[PathLike],
    cutoffs: Mapping[str, Any],
    models_cfg: Mapping[str, Any],
    out: PathLike,
) -> dict[str, Any]:
    """Gather the cutoffs of every model language (``metas``: the models' descriptions in
    ``langs`` order; ``scored``: the scored shards, read for corpus cutoffs only)."""
    langs = sorted(langs)
    frames = (read_parquet(p, columns=_language_columns(p)) for p in scored)
    corpus = corpus_perplexities(frames, langs) if cutoffs["source"] == "corpus" else {}
    described = {lang: read_json(path) for lang, path in zip(langs, metas, strict=True)}
    result = gather_cutoffs(
        corpus,
        {lang: described[lang]["reference_perplexities"] for lang in langs},
        configured_cutoffs(models_cfg, cutoffs.get("values")),
        cutoffs["source"],
        cutoffs["percentiles"],
        cutoffs["min_docs"],
    )
    for lang in langs:
        entry = result["languages"][lang]
        if entry["source"] is None:
            log.warning("%s: no cutoffs (no corpus, reference or config values)", lang)
        entry["model"] = {k: described[lang].get(k) for k in ("kind", "lm_sha256", "sp_sha256")}
    write_json(result, out)
    return result
