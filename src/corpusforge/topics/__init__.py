"""Topic clusters of the seed extracts, as Cosmopedia grouped its web seeds before prompting.

Cosmopedia embedded a large sample of web pages, clustered them, had the LLM name
each cluster's topic and rate how educational it is, dropped the clusters not
worth a textbook and built its prompts per topic, so the corpus covers many
topics evenly instead of following whatever dominates the seed. This stage does
the same for the seeds of kind ``extracts`` (``prompts.topics``):

- :mod:`.embed`: one vector per extract, by default the generation model's hidden
  states mean-pooled over the tokens (transformers), or a sentence-transformers
  encoder at a pinned revision; batched, on the GPU when the job has one.
- :mod:`.cluster`: each language apart, PCA (or UMAP) then scikit-learn's HDBSCAN
  or KMeans, seeded; every extract gets ``cluster`` (-1: noise).
- :mod:`.label`: the generation engine (corpusforge.engines: vLLM in the job or an
  OpenAI-compatible server) names each cluster's topic and rates it 0-10 from a
  few of its extracts; a malformed answer is asked again, then the cluster is
  recorded as unlabelled with the reason.
- :mod:`.select`: clusters under ``min_score`` are dropped, then extracts are drawn
  per cluster to a ``balance`` (uniform or proportional), seeded.

Rule ``build_prompts`` applies the decisions (:func:`.select.topic_selector`): a
dropped extract is a rejected row of the prompts stage, as with
``prompts.seed_quality``; a kept one carries its cluster's label as ``topic``,
which the prompt names (the template's topic hint) and the document keeps.

Reasons for rejection (stage ``prompts``): ``topic_noise`` (HDBSCAN found no
cluster for the extract, with ``noise: drop``), ``low_topic_score`` (its cluster's
educational score is below ``min_score``; detail: cluster, label, score),
``topic_not_sampled`` (its cluster gave more extracts than the balance draws).

Config defaults live in the JSON schema; :func:`settings` adds the cross-field checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

STAGE = "prompts"  # topic rejections are rows of the prompts stage (its audit)
NOISE = -1
REASONS = ("topic_noise", "low_topic_score", "topic_not_sampled")
# The columns of results/topics/clusters.parquet and topics.parquet.
CLUSTER_COLUMNS = ["seed_id", "lang", "cluster", "centroid_distance"]
TOPIC_COLUMNS = ["seed_id", "cluster", "topic", "topic_score", "keep", "reason", "detail"]


class TopicsError(ValueError):
    """The ``prompts.topics`` config or its inputs are wrong."""


def settings(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """``prompts.topics`` (schema defaults filled in), cross-field checked."""
    cfg = dict(cfg)
    encoder = cfg["encoder"]
    if encoder["kind"] == "sentence_transformers" and not (
        encoder.get("path") or (encoder.get("repo_id") and encoder.get("revision"))
    ):
        raise TopicsError(
            "prompts.topics.encoder: kind sentence_transformers needs `path` (a local "
            "folder) or `repo_id` + `revision` (a pinned commit)"
        )
    cluster = cfg["cluster"]
    if cluster["umap"]["enabled"] and cluster["umap"]["n_components"] < 2:
        raise TopicsError("prompts.topics.cluster.umap.n_components must be at least 2")
    return cfg
