"""Embeddings of the seed extracts: one L2-normalised float32 vector per text.

``encoder.kind``:

- ``model`` (default, offline): the generation model's hidden states after its
  first ``layer`` layers (all with ``layer: null``), mean-pooled over each text's
  tokens (transformers ``AutoModel``; the model folder of rule prepare_model, so
  nothing is downloaded). Only those layers run. A causal LM's middle layers
  separate topics better than its last (which serve the next token): on the
  topics test seed, SmolLM2-135M's layer 8 of 30 gives the four topics (adjusted
  Rand index 1.0 with KMeans, 0.6 from the last layer) at a quarter of the cost.
- ``sentence_transformers``: any sentence-transformers encoder, from a local
  folder (``path``) or a Hugging Face repo at a pinned ``revision``.

Texts go through in batches of ``batch_size`` (sorted by length, so a batch pads
little), cut at ``max_tokens`` tokens, on the GPU when the job was given one (the
device is logged). Torch runs with a fixed thread count, so the same texts give
the same vectors on every run on one machine.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import TopicsError

log = logging.getLogger("corpusforge.topics")


class EncoderError(TopicsError):
    """The configured encoder cannot be loaded."""


def pick_device(gpus: int) -> str:
    """``cuda`` when the job was given a GPU and torch sees one, else ``cpu``."""
    import torch

    return "cuda" if gpus > 0 and torch.cuda.is_available() else "cpu"


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def truncate_layers(model: Any, layer: int | None, model_dir: str) -> Any:
    """Keep the first ``layer`` transformer layers of a decoder model (None: all)."""
    layers = getattr(model, "layers", None)
    if layer is None or (layers is not None and layer >= len(layers)):
        return model
    if layers is None:
        raise EncoderError(
            f"prompts.topics.encoder.layer: the model in {model_dir} has no `layers` to cut "
            "(set layer: null to use all of them)"
        )
    model.layers = layers[:layer]
    model.config.num_hidden_layers = layer
    return model


def mean_pooled(
    texts: Sequence[str],
    model_dir: str,
    batch_size: int,
    max_tokens: int,
    device: str,
    layer: int | None = None,
) -> np.ndarray:
    """The hidden states after ``layer`` layers averaged over each text's tokens."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        model = AutoModel.from_pretrained(model_dir, dtype=torch.float32)
    except (OSError, ValueError, KeyError) as exc:
        raise EncoderError(
            f"prompts.topics.encoder (kind model): cannot load the model folder {model_dir}: {exc}"
        ) from exc
    model = truncate_layers(model, layer, model_dir).to(device).eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    order = np.argsort([len(t) for t in texts], kind="stable")
    out = np.zeros((len(texts), model.config.hidden_size), np.float32)
    with torch.inference_mode():
        for lo in range(0, len(texts), batch_size):
            rows = order[lo : lo + batch_size]
            batch = tokenizer(
                [texts[i] for i in rows],
                padding=True,
                truncation=True,
                max_length=max_tokens,
                return_tensors="pt",
            ).to(device)
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            out[rows] = pooled.float().cpu().numpy()
    return out


def sentence_transformer(
    texts: Sequence[str], encoder: Mapping[str, Any], batch_size: int, device: str
) -> np.ndarray:
    """A sentence-transformers encoder from a folder or a pinned Hugging Face revision."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise EncoderError(
            "prompts.topics.encoder: kind sentence_transformers needs the "
            "sentence-transformers package (pip install sentence-transformers)"
        ) from exc
    where = encoder.get("path") or f"{encoder['repo_id']}@{encoder['revision']}"
    try:
        if encoder.get("path"):
            model = SentenceTransformer(encoder["path"], device=device)
        else:
            model = SentenceTransformer(
                encoder["repo_id"], revision=encoder["revision"], device=device
            )
    except Exception as exc:  # any loader failure: name the encoder
        raise EncoderError(f"prompts.topics.encoder: cannot load {where}: {exc}") from exc
    model.max_seq_length = int(encoder["max_tokens"])
    return np.asarray(
        model.encode(list(texts), batch_size=batch_size, convert_to_numpy=True), np.float32
    )


def embed_texts(
    texts: Sequence[str],
    encoder: Mapping[str, Any],
    model_dir: str | None = None,
    threads: int = 1,
    gpus: int = 0,
) -> tuple[np.ndarray, dict[str, Any]]:
    """(normalised vectors, description: encoder, device, dimensions)."""
    import torch

    torch.set_num_threads(max(1, int(threads)))
    device = pick_device(gpus)
    start = time.perf_counter()
    kind = encoder["kind"]
    log.info("embedding %d extracts with encoder %s on %s", len(texts), kind, device)
    if not texts:
        vectors = np.zeros((0, 1), np.float32)
    elif kind == "model":
        if not model_dir:
            raise EncoderError("prompts.topics.encoder (kind model): no model folder given")
        vectors = mean_pooled(
            texts,
            model_dir,
            int(encoder["batch_size"]),
            int(encoder["max_tokens"]),
            device,
            encoder.get("layer"),
        )
    elif kind == "sentence_transformers":
        vectors = sentence_transformer(texts, encoder, int(encoder["batch_size"]), device)
    else:
        raise EncoderError(f"prompts.topics.encoder.kind: unknown kind {kind!r}")
    seconds = time.perf_counter() - start
    log.info(
        "embedded %d extracts in %.1f s (%d dimensions)", len(texts), seconds, vectors.shape[1]
    )
    return _normalise(vectors), {
        "encoder": kind,
        "device": device,
        "dimensions": int(vectors.shape[1]),
    }
