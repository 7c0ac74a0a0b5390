"""Which extracts become prompts: clusters judged by their score, then balanced.

1. Noise (HDBSCAN's unclustered extracts) is dropped (``topic_noise``) or kept
   unlabelled (``noise: keep``).
2. A labelled cluster scoring under ``min_score`` is dropped whole
   (``low_topic_score``, with the cluster, its label and score). An unlabelled
   cluster (see :mod:`.label`) cannot be judged and stays, without a topic.
3. The clusters left give ``total`` extracts (null: as many as the balance allows
   without using an extract twice), drawn per cluster:
   - ``uniform``: the same number from every cluster, a smaller cluster giving all
     it has and the rest spread over the larger ones (max-min fair); with ``total``
     null, the size of the smallest cluster from each;
   - ``proportional``: in proportion to cluster size (largest remainders); with
     ``total`` null, every extract.
   Within a cluster the extracts are drawn by a seeded hash of their ``seed_id``;
   the others are ``topic_not_sampled``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..records import reject_records, unit_hash
from . import NOISE, STAGE, TOPIC_COLUMNS, TopicsError


def uniform_quota(sizes: Mapping[int, int], total: int) -> dict[int, int]:
    """Max-min fair shares of ``total`` over clusters of ``sizes``."""
    total = min(total, sum(sizes.values()))
    level = 0
    while sum(min(s, level + 1) for s in sizes.values()) <= total and level < max(sizes.values()):
        level += 1
    quota = {c: min(s, level) for c, s in sizes.items()}
    left = total - sum(quota.values())
    for c in sorted(sizes):
        if left and quota[c] < sizes[c]:
            quota[c] += 1
            left -= 1
    return quota


def proportional_quota(sizes: Mapping[int, int], total: int) -> dict[int, int]:
    """Shares of ``total`` in proportion to ``sizes`` (largest remainders, ties by cluster)."""
    n = sum(sizes.values())
    total = min(total, n)
    exact = {c: total * s / n for c, s in sizes.items()}
    quota = {c: int(v) for c, v in exact.items()}
    order = sorted(sizes, key=lambda c: (-(exact[c] - quota[c]), c))
    for c in order[: total - sum(quota.values())]:
        quota[c] += 1
    return quota


def quotas(sizes: Mapping[int, int], balance: str, total: int | None) -> dict[int, int]:
    if not sizes:
        return {}
    if balance == "uniform":
        return uniform_quota(
            sizes, total if total is not None else min(sizes.values()) * len(sizes)
        )
    return proportional_quota(sizes, total if total is not None else sum(sizes.values()))


def _name(cluster: int, label: Mapping[str, Any] | None) -> str:
    topic = (label or {}).get("topic")
    return f"cluster {cluster} ({topic!r})" if topic else f"cluster {cluster} (unlabelled)"


def select_extracts(
    assigned: pd.DataFrame, labels: Mapping[int, Mapping[str, Any]], cfg: Mapping[str, Any]
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Decide every extract; (one row per extract: TOPIC_COLUMNS, one entry per cluster)."""
    min_score, seed = cfg["min_score"], int(cfg["seed"])
    rows = assigned.sort_values("seed_id", kind="stable").reset_index(drop=True)
    reason = pd.Series(None, index=rows.index, dtype=object)
    detail = pd.Series("", index=rows.index, dtype=object)
    noise = rows["cluster"] == NOISE
    if cfg["noise"] == "drop":
        reason[noise] = "topic_noise"
        detail[noise] = "in no cluster (HDBSCAN noise; prompts.topics.noise: drop)"
    eligible: dict[int, int] = {}
    for c in sorted(set(rows["cluster"]) - {NOISE}):
        label = labels.get(c) or {}
        members = rows["cluster"] == c
        score = label.get("score")
        if score is not None and min_score is not None and score < min_score:
            reason[members] = "low_topic_score"
            detail[members] = f"{_name(c, label)}: score {score:g} < min_score {min_score:g}"
        else:
            eligible[c] = int(members.sum())
    quota = quotas(eligible, cfg["balance"], cfg["total"])
    for c, n in quota.items():
        members = rows.index[rows["cluster"] == c]
        ranked = sorted(
            members, key=lambda i: (unit_hash("topics", seed, rows.at[i, "seed_id"]), i)
        )
        for i in ranked[n:]:
            reason[i] = "topic_not_sampled"
            detail[i] = (
                f"{_name(c, labels.get(c))}: {n} of {eligible[c]} extracts drawn "
                f"(balance {cfg['balance']})"
            )
    rows["topic"] = [(labels.get(c) or {}).get("topic") for c in rows["cluster"]]
    rows["topic_score"] = [(labels.get(c) or {}).get("score") for c in rows["cluster"]]
    rows["keep"] = reason.isna()
    rows["reason"], rows["detail"] = reason, detail
    clusters = []
    for c in sorted(set(rows["cluster"])):
        members = rows["cluster"] == c
        label = labels.get(c) or {}
        clusters.append(
            {
                "cluster": int(c),
                "size": int(members.sum()),
                "kept": int((members & rows["keep"]).sum()),
                "topic": label.get("topic"),
                "score": label.get("score"),
                "label_error": label.get("error"),
                "langs": {
                    str(k): int(v)
                    for k, v in sorted(rows.loc[members, "lang"].value_counts().items())
                }
                if "lang" in rows
                else {},
            }
        )
    return rows[TOPIC_COLUMNS], clusters


def topic_selector(topics: pd.DataFrame):
    """The decisions of rule topic_labels as a step over one shard's seed rows (for
    build_prompts): (kept rows with ``topic_label``, rejected rows, stats)."""
    by_id = topics.set_index("seed_id")

    def select(seeds: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
        seeds = seeds.reset_index(drop=True)
        extract = (seeds["kind"] != "prompts").to_numpy()
        missing = sorted(set(seeds.loc[extract, "seed_id"]) - set(by_id.index))
        if missing:
            raise TopicsError(
                f"{len(missing)} extracts have no topic decision (e.g. {missing[0]}): "
                "results/topics/topics.parquet is older than the seed; rerun rule topic_labels"
            )
        decided = by_id.reindex(seeds["seed_id"])
        decided.index = seeds.index
        out = pd.Series(extract, index=seeds.index) & ~decided["keep"].fillna(True).astype(bool)
        rejects = reject_records(
            seeds[out], STAGE, decided.loc[out, "reason"], decided.loc[out, "detail"]
        )
        kept = seeds[~out].copy()
        kept["topic_label"] = decided.loc[~out, "topic"].where(
            decided.loc[~out, "topic"].notna(), None
        )
        stats = {
            "kept": int((~out).sum()),
            "rejected": int(out.sum()),
            "topics": {
                str(k): int(v) for k, v in sorted(kept["topic_label"].value_counts().items())
            },
        }
        return kept.reset_index(drop=True), rejects, stats

    return select
