"""The ``hf`` engine of the quality stage: a Hugging Face sequence classifier.

Any ``AutoModelForSequenceClassification`` folder (downloaded at a pinned revision
by rule ``prepare_quality_model``, or a local one), e.g.
HuggingFaceFW/fineweb-edu-classifier. Texts are tokenized (truncated to
``max_length`` tokens) and scored in batches of ``batch_size``, longest first, on
the GPU when the job has one, else on the CPU; the device is always logged.

Score mapping (``score``):
- ``regression``: the model's single output clipped to [0, ``max_score``]
  (FineWeb-Edu's educational score, 0-5); no ``quality_label``;
- ``label``: the softmax probability of the label named ``label`` (from the
  model's ``id2label``); ``quality_label`` is the most probable label.
Scores are rounded to 4 decimals, so batch composition noise does not reach the
output.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

log = logging.getLogger("corpusforge.quality")


class HFClassifierError(RuntimeError):
    pass


def pick_device(requested: str) -> str:
    """``cuda`` or ``cpu``: ``auto`` takes the GPU when torch sees one. Logged."""
    import torch

    has_gpu = torch.cuda.is_available()
    if requested == "cuda" and not has_gpu:
        raise HFClassifierError(
            "quality.hf.device: cuda, but torch sees no GPU "
            f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r}); "
            "set device: auto or cpu"
        )
    device = "cuda" if requested == "cuda" or (requested == "auto" and has_gpu) else "cpu"
    if device == "cuda":
        log.info("quality: hf model on GPU %s", torch.cuda.get_device_name(0))
    else:
        why = "as configured" if requested == "cpu" else "no GPU visible to torch"
        log.info("quality: hf model on the CPU (%s), %d threads", why, torch.get_num_threads())
    return device


class HFClassifier:
    """A loaded sequence-classification model and its tokenizer."""

    def __init__(
        self,
        folder: str | os.PathLike,
        score: str,
        label: str | None,
        max_score: float,
        batch_size: int,
        max_length: int,
        max_chars: int | None,
        device: str = "auto",
        threads: int = 1,
    ) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        torch.set_num_threads(max(1, int(threads)))
        self.folder = str(folder)
        self.device = pick_device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(self.folder)
        self.model = AutoModelForSequenceClassification.from_pretrained(
            self.folder, dtype=torch.float32
        )
        self.model.to(self.device).eval()
        config = self.model.config
        self.id2label = {int(i): str(name) for i, name in (config.id2label or {}).items()}
        if score == "regression":
            if config.num_labels != 1:
                raise HFClassifierError(
                    f"quality.hf.score: regression needs a model with one output; "
                    f"{self.folder} has {config.num_labels} ({sorted(self.id2label.values())})"
                )
            self.label_index = None
        else:
            names = {name: i for i, name in self.id2label.items()}
            if label not in names:
                raise HFClassifierError(
                    f"quality.hf.label: {label!r} is not a label of {self.folder} "
                    f"(labels: {sorted(names)})"
                )
            self.label_index = names[label]
        self.score_kind, self.max_score = score, float(max_score)
        self.batch_size, self.max_length, self.max_chars = batch_size, max_length, max_chars

    def score(self, texts: Sequence[Any]) -> tuple[np.ndarray, list[str | None]]:
        import torch

        clean = [t[: self.max_chars] if isinstance(t, str) else "" for t in texts]
        order = sorted(range(len(clean)), key=lambda i: (-len(clean[i]), i))
        scores = np.zeros(len(clean))
        labels: list[str | None] = [None] * len(clean)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            batch = self.tokenizer(
                [clean[i] for i in rows],
                truncation=True,
                max_length=self.max_length,
                padding=True,
                return_tensors="pt",
            ).to(self.device)
            with torch.inference_mode():
                logits = self.model(**batch).logits.float().cpu()
            if self.label_index is None:
                values = logits[:, 0].clamp(0.0, self.max_score).numpy()
                names: list[str | None] = [None] * len(rows)
            else:
                probs = torch.softmax(logits, dim=-1)
                values = probs[:, self.label_index].numpy()
                names = [self.id2label[int(i)] for i in probs.argmax(dim=-1)]
            for row, value, name in zip(rows, values, names, strict=True):
                scores[row] = float(value)
                labels[row] = name
        return scores, labels
