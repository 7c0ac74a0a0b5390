"""Per-stage stats: the per-shard stats JSON of a stage summed into one."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

# Per-shard stats entries that describe settings, not counts: kept when every
# shard agrees (else the distinct values are listed), never summed.
SETTING_KEYS = frozenset(
    {"stage", "model", "engine", "settings", "params", "config", "cutoffs", "source", "file"}
)


SKIPPED_KEYS = frozenset({"shard"})


def _same(values: Sequence[Any]) -> bool:
    first = json.dumps(values[0], sort_keys=True, default=str)
    return all(json.dumps(v, sort_keys=True, default=str) == first for v in values[1:])


def _distinct(values: Sequence[Any]) -> list[Any]:
    seen: dict[str, Any] = {}
    for value in values:
        seen.setdefault(json.dumps(value, sort_keys=True, default=str), value)
    return [seen[k] for k in sorted(seen)]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _merge_values(key: str, values: list[Any]) -> tuple[bool, Any]:
    """Merge one entry over shards; (False, None) drops it."""
    if key in SETTING_KEYS or key.endswith("_edges"):
        return True, values[0] if _same(values) else _distinct(values)
    if all(_is_int(v) for v in values):
        return True, int(sum(values))
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        if key.endswith("_sum"):
            return True, round(float(sum(values)), 6)
        return (True, values[0]) if _same(values) else (False, None)
    if all(isinstance(v, dict) for v in values):
        return True, merge_stats(values)
    if all(isinstance(v, list) for v in values):
        if all(all(_is_int(x) for x in v) for v in values) and len({len(v) for v in values}) == 1:
            return True, [int(x) for x in np.sum(np.array(values, dtype=np.int64), axis=0)]
        return (True, values[0]) if _same(values) else (False, None)
    return (True, values[0]) if _same(values) else (True, _distinct(values))


def merge_stats(per_shard: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Merge the stats of several shards of one stage, whatever their keys.

    Counts (integers, integer lists of one length, count tables) are summed;
    floats are kept when every shard agrees (``*_sum`` floats are summed) and
    dropped otherwise (a mean of shards is not the shard's mean); settings
    (``SETTING_KEYS``, ``*_edges``) and other values are kept when every shard
    agrees, else listed once each. ``shard`` is dropped.
    """
    keys = sorted({k for s in per_shard for k in s} - SKIPPED_KEYS)
    merged: dict[str, Any] = {}
    for key in keys:
        values = [s[key] for s in per_shard if key in s and s[key] is not None]
        if not values:
            continue
        keep, value = _merge_values(key, values)
        if keep:
            merged[key] = value
    return merged


def aggregate(per_shard: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Merge the per-shard stats of one stage, with the number of shards."""
    return {"shards": len(per_shard), **merge_stats(per_shard)}
