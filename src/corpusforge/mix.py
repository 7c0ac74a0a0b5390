"""Mix stage (mode ``both``): bring the share of web documents to a target.

Without a target (``mix.web_share`` null) a mixed build keeps every document and
only records the proportions (see corpusforge.collect.origin_stats). With one,
each shard is downsampled after the cleaning stages: the origin that is over its
share loses documents, in the order of a seeded hash of their ids, until the web
share of the shard (in tokens or documents, ``mix.unit``) is at most the target
for web, or at least the target when generated documents are the surplus.
Removed documents go to the rejected file with reason ``mix_downsampled``.

Shards are uniform hashes of seed ids, so per-shard shares add up to the target
over the corpus up to one document per shard; the summary reports the share
reached. A shard with documents of one origin only cannot be mixed and is kept
whole (``unreachable`` in its stats).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from .collect import origin_stats
from .records import WEB, origins, reject_records, stage_stats, unit_hash

STAGE = "mix"


def _amounts(docs: pd.DataFrame, unit: str) -> pd.Series:
    if unit == "documents":
        return pd.Series(1, index=docs.index, dtype="int64")
    tokens = pd.to_numeric(docs["completion_tokens"], errors="coerce").fillna(0)
    return tokens.astype("int64")


def _keep_up_to(docs: pd.DataFrame, amounts: pd.Series, budget: float, seed: int) -> pd.Index:
    """Index of documents kept, walking a seeded hash order, within ``budget`` units."""
    order = sorted(docs.index, key=lambda i: (unit_hash("mix", seed, docs.at[i, "id"]), i))
    kept, used = [], 0
    for i in order:
        if used + amounts[i] <= budget:
            kept.append(i)
            used += amounts[i]
    return pd.Index(kept)


def apply_mix(
    docs: pd.DataFrame, cfg: Mapping[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(kept, rejected, stats) of one shard; ``cfg``: the ``mix`` config section (the
    schema checks it and fills its defaults; no setting depends on another)."""
    share, unit = cfg["web_share"], cfg["unit"]
    origin = origins(docs)
    amounts = _amounts(docs, unit)
    web, gen = docs.index[origin == WEB], docs.index[origin != WEB]
    w, g = int(amounts[web].sum()), int(amounts[gen].sum())
    drop = pd.Index([])
    unreachable = share is not None and (w == 0 or g == 0)
    if share is not None and not unreachable:
        if w / (w + g) > share:
            kept = _keep_up_to(docs.loc[web], amounts, share / (1 - share) * g, cfg["seed"])
            drop = web.difference(kept)
        else:
            kept = _keep_up_to(docs.loc[gen], amounts, (1 - share) / share * w, cfg["seed"])
            drop = gen.difference(kept)
    detail = f"over the target web share {share} ({unit})"
    rejects = reject_records(docs.loc[drop], STAGE, "mix_downsampled", detail)
    rejects = rejects.sort_values("id", kind="stable").reset_index(drop=True)
    out = docs.drop(index=drop).sort_values("id", kind="stable").reset_index(drop=True)
    stats = stage_stats(
        STAGE,
        len(docs),
        len(out),
        rejects,
        web_share=share,
        unit=unit,
        unreachable=bool(unreachable),
        before=origin_stats(docs)["by_origin"],
        **origin_stats(out),
    )
    return out, rejects, stats
