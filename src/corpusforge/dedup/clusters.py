"""Clusters of near-duplicates: verified candidate pairs, union-find, the document each keeps."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .config import EXACT, NEAR
from .hashing import U64
from .minhash import estimated_jaccard


def _ranks(values: np.ndarray) -> np.ndarray:
    """Rank of each string in sorted order (equal strings, equal ranks)."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    _, inverse = np.unique(values.astype(str), return_inverse=True)
    return inverse.astype(np.int64)


def keep_order(
    group: np.ndarray, ids: np.ndarray, length: np.ndarray, ppl: np.ndarray, rule: str
) -> np.ndarray:
    """Row order that sorts by group, then best document first by the keep rule.

    ``perplexity``: lowest perplexity (unscored last), then longest, then smallest id;
    ``length``: longest, then smallest id; ``id``: smallest id.
    """
    keys = [_ranks(ids)]
    if rule in ("perplexity", "length"):
        keys.append(-np.asarray(length, dtype=np.int64))
    if rule == "perplexity":
        keys.append(np.where(np.isnan(ppl), np.inf, ppl))
    keys.append(group)
    return np.lexsort(keys)


def union_find(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components of n nodes and edges (a, b): the smallest node of each.

    Vectorized union-find: hook every root onto the smallest root it is linked
    to, compress paths fully, repeat until no edge joins two roots.
    """
    parent = np.arange(n, dtype=np.int64)
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    while len(a):
        ra, rb = parent[a], parent[b]
        cross = ra != rb
        if not cross.any():
            break
        ra, rb = ra[cross], rb[cross]
        a, b = a[cross], b[cross]
        np.minimum.at(parent, np.maximum(ra, rb), np.minimum(ra, rb))
        while True:
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand
    return parent


def size_histogram(sizes: np.ndarray) -> dict[str, int]:
    """Cluster sizes: exact up to 10, then powers-of-two ranges."""
    out: dict[str, int] = {}
    for size in sorted(np.asarray(sizes, dtype=np.int64).tolist()):
        if size <= 10:
            key = str(size)
        else:
            hi = 1 << math.ceil(math.log2(size))
            key = f"{hi // 2 + 1}-{hi}"
        out[key] = out.get(key, 0) + 1
    return out


def near_clusters(
    pairs: np.ndarray,
    shard_sizes: Sequence[int],
    load_rows: Callable[[int, np.ndarray], tuple[pd.DataFrame, np.ndarray]],
    cfg: dict[str, Any],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Verify candidate pairs, build clusters, choose the document each keeps.

    ``shard_sizes[s]``: the rows of signature shard ``s``; ``load_rows(s, rows)``: the
    meta rows (``id``, ``length``, ``perplexity``) and signatures of those rows
    (ascending) of shard ``s``. Only candidate documents are loaded. Returns one row
    per removed document: ``id``, ``kept_id``, ``cluster_id``, ``jaccard``
    (estimated, to the kept document).
    """
    sizes = np.asarray(shard_sizes, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    pairs = np.unique(np.asarray(pairs, dtype=np.uint64))
    a_glob = (pairs >> U64(32)).astype(np.int64)
    b_glob = (pairs & U64(0xFFFFFFFF)).astype(np.int64)
    nodes = np.unique(np.concatenate([a_glob, b_glob]))
    if len(nodes) and nodes[-1] >= offsets[-1]:
        raise ValueError("candidate pair beyond the signature files: stale band outputs?")
    sig = np.zeros((len(nodes), int(cfg["num_perm"])), dtype=np.uint32)
    ids = np.empty(len(nodes), dtype=object)
    length = np.zeros(len(nodes), dtype=np.int64)
    ppl = np.zeros(len(nodes), dtype=np.float64)
    for s in range(len(sizes)):
        lo, hi = np.searchsorted(nodes, [offsets[s], offsets[s + 1]])
        if lo == hi:
            continue
        meta, sig[lo:hi] = load_rows(s, nodes[lo:hi] - offsets[s])
        ids[lo:hi] = meta["id"].to_numpy()
        length[lo:hi] = meta["length"].to_numpy()
        ppl[lo:hi] = meta["perplexity"].to_numpy(np.float64)
    a = np.searchsorted(nodes, a_glob)
    b = np.searchsorted(nodes, b_glob)
    est = np.zeros(len(a))
    step = 1 << 16
    for i in range(0, len(a), step):
        est[i : i + step] = estimated_jaccard(sig[a[i : i + step]], sig[b[i : i + step]])
    verified = est >= float(cfg["verify_threshold"]) if cfg["verify"] else np.ones(len(a), bool)
    root = union_find(len(nodes), a[verified], b[verified])
    order = keep_order(root, ids, length, ppl, cfg["keep"])
    rs = root[order]
    first = np.ones(len(rs), dtype=bool)
    first[1:] = rs[1:] != rs[:-1]
    head = order[np.maximum.accumulate(np.where(first, np.arange(len(rs)), 0))]
    keeper = np.empty(len(nodes), dtype=np.int64)
    keeper[order] = head
    removed_idx = np.flatnonzero(keeper != np.arange(len(nodes)))
    # cluster id: the smallest member id
    min_id = pd.Series(ids).groupby(root).min()
    cl_sizes = np.bincount(root, minlength=len(nodes))
    cl_sizes = cl_sizes[cl_sizes >= 2]
    j_kept = estimated_jaccard(sig[removed_idx], sig[keeper[removed_idx]])
    removed = pd.DataFrame(
        {
            "id": ids[removed_idx].astype(str),
            "kept_id": ids[keeper[removed_idx]].astype(str),
            "cluster_id": ["near:" + min_id[r] for r in root[removed_idx]],
            "jaccard": np.round(j_kept, 4),
        }
    )
    removed = removed.sort_values("id", kind="stable").reset_index(drop=True)
    largest = np.sort(cl_sizes)[::-1][:5].tolist()
    stats = {
        "signed_docs": int(offsets[-1]),
        "candidate_pairs": len(pairs),
        "candidate_docs": len(nodes),
        "verified_pairs": int(verified.sum()),
        "rejected_by_verify": int((~verified).sum()),
        "near_clusters": len(cl_sizes),
        "near_removed": len(removed),
        "cluster_size_histogram": size_histogram(cl_sizes),
        "largest_clusters": largest,
        "candidate_jaccard_histogram": _jaccard_histogram(est),
    }
    return removed, stats


def _jaccard_histogram(est: np.ndarray) -> dict[str, int]:
    edges = np.linspace(0.0, 1.0, 11)
    counts, _ = np.histogram(est, bins=edges)
    return {f"{edges[i]:.1f}-{edges[i + 1]:.1f}": int(c) for i, c in enumerate(counts) if c}


def decisions(exact: pd.DataFrame, near: pd.DataFrame) -> pd.DataFrame:
    """Every removed document with its reason and final kept twin.

    An exact duplicate whose twin was itself removed as a near-duplicate points to
    the near cluster's kept document (``exact_of`` names the twin).
    """
    near_kept = dict(zip(near["id"], near["kept_id"], strict=True))
    near_cluster = dict(zip(near["id"], near["cluster_id"], strict=True))
    ex = exact.copy()
    ex["reason"] = EXACT
    ex["jaccard"] = np.nan
    ex["exact_of"] = None
    moved = ex["kept_id"].isin(near_kept.keys()).to_numpy()
    if moved.any():
        twins = ex.loc[moved, "kept_id"]
        ex.loc[moved, "exact_of"] = twins
        ex.loc[moved, "cluster_id"] = twins.map(near_cluster)
        ex.loc[moved, "kept_id"] = twins.map(near_kept)
    nr = near.copy()
    nr["reason"] = NEAR
    nr["exact_of"] = None
    out = pd.concat([ex, nr], ignore_index=True) if len(ex) else nr
    out = out[["id", "reason", "kept_id", "cluster_id", "jaccard", "exact_of"]]
    sizes = out["kept_id"].value_counts()
    out["cluster_size"] = out["kept_id"].map(sizes).astype(np.int64) + 1
    out["jaccard"] = out["jaccard"].astype(np.float64)
    out["exact_of"] = out["exact_of"].astype(object)
    return out.sort_values("id", kind="stable").reset_index(drop=True)
