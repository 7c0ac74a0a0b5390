"""Clusters of the extract embeddings: scikit-learn's HDBSCAN or KMeans, seeded.

``cluster.algorithm``:

- ``hdbscan`` (default): density clusters of at least ``min_cluster_size``
  extracts; an extract in no dense region is noise (-1). No cluster count to guess.
  ``selection: eom`` (default) takes the most stable clusters of the hierarchy,
  ``leaf`` the finest.
- ``kmeans``: ``n_clusters`` clusters (fewer when there are fewer extracts), no noise.

Density clustering works poorly in hundreds of dimensions: the vectors are first
reduced to ``pca`` dimensions (scikit-learn PCA, full SVD: the same numbers on
every run), or with ``cluster.umap.enabled`` by UMAP (the ``umap-learn``
package, as the text-clustering pipeline does), seeded. On the topics test seed
(four topics, 36 extracts, SmolLM2 layer 8) HDBSCAN recovers the four topics
exactly after PCA to 5 dimensions, and merges two or splits one without it.

Each language is clustered apart (``by_lang``, default): a model's vectors of a
mixed seed split by language first, which says nothing of topics.

Cluster numbers are made independent of the input order: the rows are taken in
``seed_id`` order, and clusters are numbered by size (largest first), ties by
their smallest ``seed_id``. A seed too small to cluster (fewer than twice the
minimum cluster size, or than the clusters asked for) becomes one cluster, and
the stats say why.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import NOISE, TopicsError

log = logging.getLogger("corpusforge.topics")


def minimum_extracts(cfg: Mapping[str, Any]) -> int:
    """How many extracts the algorithm needs to find more than one cluster."""
    if cfg["algorithm"] == "kmeans":
        return 2
    return 2 * int(cfg["min_cluster_size"])


def reduce_umap(vectors: np.ndarray, cfg: Mapping[str, Any], seed: int) -> np.ndarray:
    try:
        import umap
    except ImportError as exc:
        raise TopicsError(
            "prompts.topics.cluster.umap.enabled: the umap-learn package is not installed "
            "(pip install umap-learn), or set enabled: false"
        ) from exc
    n_neighbors = max(2, min(int(cfg["n_neighbors"]), len(vectors) - 1))
    reducer = umap.UMAP(
        n_components=int(cfg["n_components"]),
        n_neighbors=n_neighbors,
        min_dist=0.0,
        metric="cosine",
        random_state=seed,
        n_jobs=1,
    )
    return np.asarray(reducer.fit_transform(vectors), np.float32)


def renumber(labels: np.ndarray, keys: Sequence[str]) -> np.ndarray:
    """Clusters numbered 0.. by size (largest first), ties by their smallest key."""
    first: dict[int, str] = {}
    for key, label in zip(keys, labels.tolist(), strict=True):
        if label != NOISE and (label not in first or key < first[label]):
            first[label] = key
    order = sorted(first, key=lambda c: (-int((labels == c).sum()), first[c]))
    mapping = {old: new for new, old in enumerate(order)}
    return np.array([mapping.get(int(label), NOISE) for label in labels], np.int64)


def cluster_vectors(
    vectors: np.ndarray, keys: Sequence[str], cfg: Mapping[str, Any]
) -> tuple[np.ndarray, dict[str, Any]]:
    """(cluster per row, -1 for noise; description). ``keys`` (seed ids) fix the numbering."""
    n, seed = len(vectors), int(cfg["seed"])
    needed = minimum_extracts(cfg)
    if n < needed:
        note = (
            f"{n} extracts are too few to cluster with {cfg['algorithm']} "
            f"(at least {needed} needed: prompts.topics.cluster); all in one cluster"
        )
        log.warning(note)
        return np.zeros(n, np.int64), {"algorithm": cfg["algorithm"], "note": note}
    data = vectors
    if cfg["umap"]["enabled"]:
        data = reduce_umap(vectors, cfg["umap"], seed)
    elif cfg["pca"] and cfg["pca"] < min(vectors.shape):
        from sklearn.decomposition import PCA

        data = PCA(n_components=int(cfg["pca"]), svd_solver="full").fit_transform(vectors)
    if cfg["algorithm"] == "kmeans":
        from sklearn.cluster import KMeans

        k = min(int(cfg["n_clusters"]), n)
        labels = KMeans(n_clusters=k, random_state=seed, n_init=10).fit_predict(data)
    else:
        from sklearn.cluster import HDBSCAN

        labels = HDBSCAN(
            min_cluster_size=int(cfg["min_cluster_size"]),
            min_samples=cfg.get("min_samples"),
            cluster_selection_method=cfg["selection"],
            copy=True,
        ).fit_predict(data)
    labels = renumber(np.asarray(labels), keys)
    clusters = int(labels.max()) + 1 if len(labels) and labels.max() >= 0 else 0
    noise = int((labels == NOISE).sum())
    log.info("%d clusters, %d of %d extracts noise", clusters, noise, n)
    reduced = "umap" if cfg["umap"]["enabled"] else f"pca {data.shape[1]}" if cfg["pca"] else None
    return labels, {"algorithm": cfg["algorithm"], "reduced": reduced}


def cluster_by_lang(
    vectors: np.ndarray, keys: Sequence[str], langs: Sequence[str], cfg: Mapping[str, Any]
) -> tuple[np.ndarray, dict[str, Any]]:
    """With ``by_lang`` (the default), each language's extracts are clustered apart
    (their cluster ids then made one numbering), so clusters are topics rather than
    languages: over a mixed seed a model's vectors split first by language."""
    if not cfg["by_lang"]:
        return cluster_vectors(vectors, keys, cfg)
    labels = np.full(len(keys), NOISE, np.int64)
    notes, described, offset = [], {}, 0
    for lang in sorted(set(map(str, langs))):
        rows = np.flatnonzero(np.array([str(x) == lang for x in langs], bool))
        found, found_how = cluster_vectors(vectors[rows], [keys[i] for i in rows], cfg)
        if "note" in found_how:
            notes.append(f"{lang}: {found_how.pop('note')}")
        described.update(found_how)
        labels[rows] = np.where(found == NOISE, NOISE, found + offset)
        offset += int(found.max()) + 1 if (found != NOISE).any() else 0
    described = {**described, "by_lang": True, **({"notes": notes} if notes else {})}
    return renumber(labels, keys), described


def centroid_distances(vectors: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each row's cosine distance to its cluster's mean vector (NaN for noise)."""
    out = np.full(len(vectors), np.nan)
    for c in sorted(set(labels.tolist()) - {NOISE}):
        rows = np.flatnonzero(labels == c)
        centre = vectors[rows].mean(0)
        centre /= max(float(np.linalg.norm(centre)), 1e-12)
        out[rows] = 1.0 - vectors[rows] @ centre
    return np.round(out, 6)
