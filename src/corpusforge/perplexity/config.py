"""The ``perplexity`` config section: cross-field checks, per-language training settings
(the defaults are the schema's)."""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import Any

from .buckets import configured_cutoffs

log = logging.getLogger("corpusforge.perplexity")


def training_settings(stage_training: Mapping[str, Any], model_cfg: Mapping[str, Any]):
    """Training settings of one language: the stage's (``perplexity.training``, every
    setting filled in), overridden by the model's own ``training``."""
    return {**stage_training, **(model_cfg.get("training") or {})}


def settings(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The ``perplexity`` config section as the stage uses it.

    ``cfg`` comes with the schema's defaults filled in (config/schema; outside the
    workflow ``corpusforge.schema.with_defaults("perplexity", ...)``); here only what
    depends on several fields: a model is trained on a ``reference`` text or given
    ``pretrained``, and configured cutoffs are looked up per language.
    """
    out = copy.deepcopy(dict(cfg))
    for lang, model in out["models"].items():
        if "pretrained" not in model and "reference" not in model:
            raise ValueError(
                f"perplexity.models.{lang}: give a `reference` text to train on, "
                "or `pretrained` models"
            )
    cutoffs = out["cutoffs"]
    if cutoffs["source"] == "config":
        given = configured_cutoffs(out["models"], cutoffs["values"])
        missing = sorted(lang for lang, v in given.items() if not v)
        if missing:
            log.warning("no configured cutoffs for %s: reference cutoffs are used", missing)
    return out
