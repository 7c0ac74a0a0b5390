"""The ``langid`` config section (everything but the model) as the stage uses it (the
defaults and checks are the schema's)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

STAGE = "langid"


REASONS = ("empty_text", "lang_not_kept", "low_lang_score")


SCORE_DECIMALS = 4


HIST_BINS = 20  # lang_score histogram: 20 bins of 0.05 over [0, 1]


AUTO_TOP_K = 3  # top_k when the label map sends several labels to one code


class LangIdError(RuntimeError):
    """The stage is misconfigured or its model cannot be used."""


@dataclass(frozen=True)
class Settings:
    """The ``langid`` config section (everything but the model) as the stage uses it."""

    languages: tuple[str, ...] | None  # None: keep every language
    min_score: float
    min_score_by_lang: Mapping[str, float]
    label_map: Mapping[str, str]
    top_k: int | None  # None: 1, or AUTO_TOP_K if the label map merges labels
    max_chars: int | None  # None: the whole document

    def describe(self) -> dict[str, Any]:
        """The settings as they go into the stats record."""
        return {
            "languages": list(self.languages) if self.languages is not None else None,
            "min_score": self.min_score,
            "min_score_by_lang": dict(self.min_score_by_lang),
            "label_map": dict(self.label_map),
            "max_chars": self.max_chars,
        }


def settings(cfg: Mapping[str, Any]) -> Settings:
    """The ``langid`` config section (its ``model`` aside) as the stage uses it.

    ``cfg`` comes with the schema's defaults filled in and checked (config/schema;
    outside the workflow ``corpusforge.schema.with_defaults("langid", ...)``); no
    setting here depends on another, so this only puts them in a fixed order.
    """
    languages = cfg["languages"]
    return Settings(
        languages=None if languages is None else tuple(sorted(set(languages))),
        min_score=float(cfg["min_score"]),
        min_score_by_lang={str(k): float(v) for k, v in sorted(cfg["min_score_by_lang"].items())},
        label_map={str(k): str(v) for k, v in sorted(cfg["label_map"].items())},
        top_k=cfg["top_k"],
        max_chars=cfg["max_chars"],
    )
