"""The jobs of rules/topics.smk, called by the thin scripts.

- rule ``topic_clusters``: the seeds' extracts embedded and clustered ->
  ``topics/clusters.parquet`` (seed_id, lang, cluster, centroid_distance) and its stats.
- rule ``topic_labels``: each cluster labelled by the generation engine, clusters
  judged and balanced -> ``topics/topics.parquet`` (one decision per extract, read
  by build_prompts) and ``stats/topics.json`` (per cluster: size, kept, topic,
  score, why unlabelled).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pandas as pd

from ..io import read_parquet, read_parquets, write_json, write_parquet
from ..runtime import logged
from . import CLUSTER_COLUMNS, NOISE, settings


def extracts_of(seed_files: list[str]) -> pd.DataFrame:
    """The seed rows of kind extracts, in seed_id order."""
    seeds = read_parquets(seed_files, ["seed_id", "kind", "lang", "text"])
    seeds = seeds[seeds["kind"] != "prompts"]
    return seeds.sort_values("seed_id", kind="stable").reset_index(drop=True)


def cluster_extracts(
    extracts: pd.DataFrame, cfg: dict[str, Any], model_dir: str | None, threads: int, gpus: int
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Embed and cluster the extracts: (CLUSTER_COLUMNS rows, stats)."""
    from .cluster import centroid_distances, cluster_by_lang
    from .embed import embed_texts

    vectors, described = embed_texts(
        extracts["text"].tolist(), cfg["encoder"], model_dir, threads, gpus
    )
    labels, clustering = cluster_by_lang(
        vectors, extracts["seed_id"].tolist(), extracts["lang"].tolist(), cfg["cluster"]
    )
    frame = extracts[["seed_id", "lang"]].copy()
    frame["cluster"] = labels
    frame["centroid_distance"] = centroid_distances(vectors, labels) if len(frame) else []
    sizes = frame.loc[frame["cluster"] != NOISE, "cluster"].value_counts()
    stats = {
        "extracts": len(frame),
        "clusters": len(sizes),
        "noise": int((frame["cluster"] == NOISE).sum()),
        "sizes": {str(c): int(sizes[c]) for c in sorted(sizes.index)},
        **described,
        **clustering,
    }
    return frame[CLUSTER_COLUMNS], stats


def cluster_job(smk: Any) -> dict:
    """Rule topic_clusters."""
    from ..devices import default_lock_dir, gpu_slots

    with logged(smk.log[0]) as log:
        os.environ["HF_HUB_OFFLINE"] = "1"
        cfg = settings(smk.params.topics)
        gpus = int(getattr(smk.resources, "gpu", 0) or 0)
        extracts = extracts_of(list(smk.input.seeds))
        results = smk.config.get("results", "results")
        with gpu_slots(gpus, lock_dir=default_lock_dir(results) if gpus else None):
            frame, stats = cluster_extracts(
                extracts, cfg, getattr(smk.input, "model", None) or None, smk.threads, gpus
            )
        log.info("clusters: %s; noise %d", stats["sizes"], stats["noise"])
        write_parquet(frame, smk.output.clusters)
        write_json(stats, smk.output.stats)
    return stats


def cluster_examples(clusters: pd.DataFrame, texts: pd.Series, n: int) -> dict[int, list[str]]:
    """Per cluster, the ``n`` extracts nearest its centre (ties by seed_id)."""
    ordered = clusters[clusters["cluster"] != NOISE].sort_values(
        ["cluster", "centroid_distance", "seed_id"], kind="stable"
    )
    return {
        int(c): [texts[s] for s in group["seed_id"].head(n)]
        for c, group in ordered.groupby("cluster", sort=True)
    }


def label_and_select(
    clusters: pd.DataFrame, texts: pd.Series, cfg: dict[str, Any], engine: Any
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Label the clusters with ``engine`` (None: no cluster to label), then select."""
    from .label import label_clusters
    from .select import select_extracts

    examples = cluster_examples(clusters, texts, int(cfg["label"]["examples"]))
    labels = label_clusters(engine, examples, cfg["label"]) if examples else {}
    topics, summary = select_extracts(clusters, labels, cfg)
    reasons = topics["reason"].dropna().value_counts()
    stats = {
        "extracts": len(topics),
        "kept": int(topics["keep"].sum()),
        "rejected_by_reason": {str(r): int(reasons[r]) for r in sorted(reasons.index)},
        "labelled": sum(1 for entry in labels.values() if not entry["error"]),
        "unlabelled": sum(1 for entry in labels.values() if entry["error"]),
        "balance": cfg["balance"],
        "min_score": cfg["min_score"],
        "clusters": [
            {**entry, "answer": (labels.get(entry["cluster"]) or {}).get("answer")}
            for entry in summary
        ],
    }
    return topics, stats


def label_job(smk: Any, engine_factory: Callable[..., Any] | None = None) -> dict:
    """Rule topic_labels: the generation engine (as configured for rule generate)
    with the labelling's own sampling."""
    from ..engines import make_engine
    from ..generate_job import engine_settings

    with logged(smk.log[0]) as log:
        p = smk.params
        cfg = settings(p.topics)
        clusters = read_parquet(smk.input.clusters)
        seeds = read_parquets(list(smk.input.seeds), ["seed_id", "text"])
        texts = seeds.set_index("seed_id")["text"]
        engine = None
        if (clusters["cluster"] != NOISE).any():
            engine_args, openai_cfg, down = engine_settings(smk, p.engine_args)
            engine = (engine_factory or make_engine)(
                p.engine,
                sampling=p.sampling,
                system_prompt=None,
                model_path=getattr(smk.input, "model", None) or None,
                engine_args=engine_args,
                openai_cfg=openai_cfg,
                model_name=p.model_name,
                down=down,
            )
        if engine is None:
            topics, stats = label_and_select(clusters, texts, cfg, None)
        else:
            with engine:
                topics, stats = label_and_select(clusters, texts, cfg, engine)
        for entry in stats["clusters"]:
            log.info(
                "cluster %s: %d extracts, %d kept, topic %r, score %s%s",
                entry["cluster"],
                entry["size"],
                entry["kept"],
                entry["topic"],
                entry["score"],
                f", unlabelled: {entry['label_error']}" if entry["label_error"] else "",
            )
        write_parquet(topics, smk.output.topics)
        write_json(stats, smk.output.stats)
    return stats
