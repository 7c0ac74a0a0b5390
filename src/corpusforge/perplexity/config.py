"""The ``perplexity`` config section: defaults, checks, per-language training settings."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from .buckets import configured_cutoffs
from .training import TRAINING_DEFAULTS

log = logging.getLogger("corpusforge.perplexity")


def training_settings(global_settings: Mapping[str, Any] | None, model_cfg: Mapping[str, Any]):
    """Training settings of one language: the defaults, the stage's, the model's own."""
    return {**TRAINING_DEFAULTS, **(global_settings or {}), **(model_cfg.get("training") or {})}


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
