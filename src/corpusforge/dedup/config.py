"""The dedup stage's settings: cross-field checks, LSH bands and rows (the defaults
are the schema's)."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

from ..lang import lang_code

STAGE = "dedup"


EXACT = "exact_duplicate"


NEAR = "near_duplicate"


BOILERPLATE = "boilerplate_only"


SCHEMES = ("affine32", "legacy")


KEEP_RULES = ("perplexity", "length", "id")


def settings(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The ``dedup`` config section as the steps use it.

    ``cfg`` comes with the schema's defaults filled in (config/schema); here only
    what depends on several fields: bands and rows (both set, or both null for
    datasketch's optimum at ``threshold``), the band groups, the verify threshold
    (null: ``threshold`` less 2.33 standard errors of the estimate), and the
    language codes of ``char_langs``.
    """
    out = copy.deepcopy(dict(cfg))
    out["char_langs"] = sorted({lang_code(x) for x in out["char_langs"]})
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
