"""The jobs of rules/quality.smk, one function per rule, called by the thin scripts (rule
quality runs the protocol stage ``QualityStage`` through scripts/doc_stage.py)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from ..runtime import logged
from . import Scorer, load_scorer, select_seeds, settings


def train_job(smk: Any) -> None:
    """Rule train_quality: one language's classifier and its description."""
    from ..io import write_json
    from . import train_from_references

    with logged(smk.log[0]):
        lang, training = smk.wildcards.lang, smk.params.training
        refs = {
            group: [
                (str(path), fmt, field)
                for path, (fmt, field) in zip(
                    smk.input[group], training["formats"][group], strict=True
                )
            ]
            for group in ("positive", "negative")
        }
        meta = train_from_references(
            lang, refs["positive"], refs["negative"], smk.output.model, training
        )
        write_json(meta, smk.output.meta)


def cutoffs_job(smk: Any) -> None:
    """Rule quality_cutoffs: per-language score cutoffs over every scored shard."""
    from .buckets import write_cutoffs

    with logged(smk.log[0]) as log:
        cutoffs = write_cutoffs(smk.input.scored, smk.params.buckets, smk.output.cutoffs)
        for lang, entry in cutoffs["languages"].items():
            log.info("%s: %d scored documents, cutoffs %s", lang, entry["docs"], entry["cutoffs"])


def bucket_job(smk: Any) -> None:
    """Rule quality_bucket: each scored document's quality_bucket."""
    from .buckets import bucket_shard

    with logged(smk.log[0]) as log:
        stats = bucket_shard(
            smk.input.scored,
            smk.input.stats,
            smk.input.cutoffs,
            smk.output.docs,
            smk.output.stats,
        )
        log.info("buckets per language: %s", stats["buckets"]["by_lang"])


def prepare_model_job(smk: Any) -> None:
    """Rule prepare_quality_model: the hf engine's model at its pinned revision."""
    from pathlib import Path

    from ..model import download_hf

    with logged(smk.log[0]):
        download_hf(smk.params.repo_id, smk.params.revision, Path(smk.output[0]))


def seed_selector(
    seed_cfg: Mapping[str, Any] | None,
    quality_cfg: Mapping[str, Any],
    models: Any,
    threads: int = 1,
):
    """prompts.seed_quality as a step over seed rows (None when it is off)."""
    if not seed_cfg or seed_cfg["mode"] == "none":
        return None
    cfg = settings(quality_cfg)
    scorer: Scorer = load_scorer(cfg, models, threads)
    return partial(
        select_seeds, scorer=scorer, seed_cfg=seed_cfg, scale=cfg["scale"], stage="prompts"
    )
