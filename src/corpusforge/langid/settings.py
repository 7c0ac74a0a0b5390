"""The ``langid`` config section (everything but the model), checked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

STAGE = "langid"


REASONS = ("empty_text", "lang_not_kept", "low_lang_score")


DEFAULT_LANGUAGES = ("en", "zh")


DEFAULT_MIN_SCORE = 0.5  # CC-NET's threshold


DEFAULT_MAX_CHARS = 100_000


SCORE_DECIMALS = 4


HIST_BINS = 20  # lang_score histogram: 20 bins of 0.05 over [0, 1]


AUTO_TOP_K = 3  # top_k when the label map sends several labels to one code


class LangIdError(RuntimeError):
    """The stage is misconfigured or its model cannot be used."""


@dataclass(frozen=True)
class Settings:
    """The ``langid`` config section (everything but the model), checked."""

    languages: tuple[str, ...] | None = DEFAULT_LANGUAGES  # None: keep every language
    min_score: float = DEFAULT_MIN_SCORE
    min_score_by_lang: Mapping[str, float] = field(default_factory=dict)
    label_map: Mapping[str, str] = field(default_factory=dict)
    top_k: int | None = None  # None: 1, or AUTO_TOP_K if the label map merges labels
    max_chars: int | None = DEFAULT_MAX_CHARS  # None: the whole document

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None) -> Settings:
        cfg = dict(cfg or {})
        languages = cfg.get("languages", list(DEFAULT_LANGUAGES))
        if languages is not None:
            if isinstance(languages, str) or not all(isinstance(x, str) for x in languages):
                raise LangIdError(f"langid.languages: a list of codes or null, got {languages!r}")
            languages = tuple(sorted(set(languages)))
            if not languages:
                raise LangIdError("langid.languages: empty list (use null to keep every language)")
        min_score = _score(cfg.get("min_score", DEFAULT_MIN_SCORE), "langid.min_score")
        by_lang = {
            str(k): _score(v, f"langid.min_score_by_lang.{k}")
            for k, v in sorted(dict(cfg.get("min_score_by_lang") or {}).items())
        }
        label_map = {str(k): str(v) for k, v in sorted(dict(cfg.get("label_map") or {}).items())}
        top_k = cfg.get("top_k")
        if top_k is not None and (
            isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1
        ):
            raise LangIdError(f"langid.top_k: a positive integer or null, got {top_k!r}")
        max_chars = cfg.get("max_chars", DEFAULT_MAX_CHARS)
        if max_chars is not None and (
            isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 1
        ):
            raise LangIdError(f"langid.max_chars: a positive integer or null, got {max_chars!r}")
        return cls(languages, min_score, by_lang, label_map, top_k, max_chars)

    def describe(self) -> dict[str, Any]:
        """The settings as they go into the stats record."""
        return {
            "languages": list(self.languages) if self.languages is not None else None,
            "min_score": self.min_score,
            "min_score_by_lang": dict(self.min_score_by_lang),
            "label_map": dict(self.label_map),
            "max_chars": self.max_chars,
        }


def _score(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise LangIdError(f"{what}: a number in [0, 1], got {value!r}")
    return float(value)
