"""The dedup stage's settings: defaults, checks, LSH bands and rows."""

from __future__ import annotations

import math
from typing import Any

from .text import lang_code

STAGE = "dedup"


EXACT = "exact_duplicate"


NEAR = "near_duplicate"


BOILERPLATE = "boilerplate_only"


SCHEMES = ("affine32", "legacy")


KEEP_RULES = ("perplexity", "length", "id")


DEFAULTS: dict[str, Any] = {
    "exact": True,  # remove exact duplicates (same normalized text)
    "near": True,  # remove MinHash near-duplicates
    "threshold": 0.8,  # Jaccard similarity of shingle sets that makes a near-duplicate
    "num_perm": 128,
    "seed": 1,  # datasketch MinHash seed (permutation parameters)
    "scheme": "affine32",  # datasketch permutation scheme: affine32 (its default) or legacy
    "word_ngram": 5,
    "char_ngram": 5,
    "char_langs": ["zh", "ja"],  # languages shingled by characters
    "min_tokens": 10,  # shorter documents are kept and never clustered
    "bands": 21,  # null with rows null: datasketch's optimal split for threshold
    "rows": 6,
    "optimal_weights": [0.5, 0.5],  # false positive, false negative weights for the optimum
    "band_groups": 4,  # band jobs
    "max_bucket_pairs": 32,  # buckets up to this size link all pairs, larger ones star + chain
    "verify": True,  # check candidates by estimated Jaccard before merging
    "verify_threshold": None,  # null: threshold - 2.33 standard errors of the estimate
    "keep": "perplexity",  # perplexity (lowest, else longest), length (longest), id (smallest)
    "boilerplate": {"enabled": False, "min_docs": 3, "min_tokens": 5},
}


def resolve_config(cfg: dict[str, Any] | None) -> dict[str, Any]:
    """The stage's configuration with defaults filled in and bands/rows resolved."""
    cfg = dict(cfg or {})
    unknown = set(cfg) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"dedup: unknown keys {sorted(unknown)}")
    out = {**DEFAULTS, **cfg}
    out["boilerplate"] = {**DEFAULTS["boilerplate"], **(cfg.get("boilerplate") or {})}
    out["char_langs"] = sorted({lang_code(x) for x in out["char_langs"]})
    if out["scheme"] not in SCHEMES:
        raise ValueError(f"dedup.scheme must be one of {SCHEMES}")
    if out["keep"] not in KEEP_RULES:
        raise ValueError(f"dedup.keep must be one of {KEEP_RULES}")
    if not 0.0 < float(out["threshold"]) <= 1.0:
        raise ValueError("dedup.threshold must be in (0, 1]")
    num_perm = int(out["num_perm"])
    if out["bands"] is None or out["rows"] is None:
        if out["bands"] is not None or out["rows"] is not None:
            raise ValueError("dedup: set both bands and rows, or neither")
        from datasketch.lsh import _optimal_param

        fp_w, fn_w = out["optimal_weights"]
        b, r = _optimal_param(float(out["threshold"]), num_perm, fp_w, fn_w)
        out["bands"], out["rows"] = int(b), int(r)
    if int(out["bands"]) * int(out["rows"]) > num_perm:
        raise ValueError("dedup: bands x rows must not exceed num_perm")
    out["band_groups"] = max(1, min(int(out["band_groups"]), int(out["bands"])))
    if out["verify_threshold"] is None:
        t = float(out["threshold"])
        out["verify_threshold"] = round(t - 2.33 * math.sqrt(t * (1 - t) / num_perm), 4)
    out["min_tokens"] = int(out["min_tokens"])
    return out


def band_group_names(cfg: dict[str, Any]) -> list[str]:
    return [f"b{i:02d}" for i in range(cfg["band_groups"])]


def bands_of_group(cfg: dict[str, Any], group: str) -> list[int]:
    """The bands one band job handles (round robin over the groups)."""
    index = int(group.lstrip("b"))
    return list(range(index, int(cfg["bands"]), int(cfg["band_groups"])))


def candidate_probability(jaccard: float, bands: int, rows: int) -> float:
    """Chance that a pair with this Jaccard shares at least one band."""
    return 1.0 - (1.0 - jaccard**rows) ** bands
