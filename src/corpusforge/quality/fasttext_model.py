"""The ``fasttext`` engine of the quality stage: train a classifier, score texts.

A model is a fastText supervised classifier whose labels name quality classes
(``__label__hq`` / ``__label__lq`` for the ones the workflow trains; DCLM's
classifier uses ``hq`` / ``cc``). A document's ``quality_score`` is the
probability of the configured positive label, its ``quality_label`` the most
probable label (without the prefix).

Texts are put into one line the same way at training and at scoring
(:func:`prepare_line`): newlines become spaces, optionally lower-cased, and
in languages written without spaces (zh, ja, ko) every Han/kana/hangul
character is its own token, so fastText's word n-grams are character n-grams.

Training is deterministic: one thread and a fixed seed give the same model file
bytes on every run (fastText's asynchronous SGD is only nondeterministic with
several threads).
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..langid import load_fasttext
from ..records import stable_id, unit_hash

log = logging.getLogger("corpusforge.quality")

PREFIX = "__label__"
POSITIVE, NEGATIVE = "hq", "lq"
BATCH_LINES = 1000
_CJK = "\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_CJK_CHAR = re.compile(rf"([{_CJK}])")


def prepare_line(text: Any, lowercase: bool, split_cjk: bool, max_chars: int | None) -> str:
    """The one line fastText sees for a text (see the module docstring)."""
    if not isinstance(text, str):
        return ""
    text = text[:max_chars] if max_chars else text
    if lowercase:
        text = text.lower()
    if split_cjk:
        text = _CJK_CHAR.sub(r" \1 ", text)
    return " ".join(text.split())  # runs of any whitespace (newlines too) -> one space


# ---------------------------------------------------------------- training


def training_lines(
    positives: Sequence[str],
    negatives: Sequence[str],
    lowercase: bool,
    split_cjk: bool,
    heldout_fraction: float,
    seed: int,
) -> tuple[list[str], list[str], dict[str, int]]:
    """(training lines, held-out lines, counts): ``__label__hq text`` per document.

    Documents repeated within or across the two sets are dropped (a text in both
    would teach nothing); held-out membership depends on the text only, and the
    lines are ordered by a seeded hash so training does not see one class first.
    """
    seen: dict[str, str] = {}
    conflicts: set[str] = set()
    for label, texts in ((POSITIVE, positives), (NEGATIVE, negatives)):
        for text in texts:
            line = prepare_line(text, lowercase, split_cjk, None)
            if not line:
                continue
            if line in seen and seen[line] != label:
                conflicts.add(line)
            seen.setdefault(line, label)
    train: list[tuple[float, str]] = []
    heldout: list[tuple[float, str]] = []
    for line, label in seen.items():
        if line in conflicts:
            continue
        key = stable_id(line)
        part = heldout if unit_hash("heldout", seed, key) < heldout_fraction else train
        part.append((unit_hash("order", seed, key), f"{PREFIX}{label} {line}"))
    counts = {
        "positive": sum(1 for _, line in train + heldout if line.startswith(PREFIX + POSITIVE)),
        "negative": sum(1 for _, line in train + heldout if line.startswith(PREFIX + NEGATIVE)),
        "conflicting": len(conflicts),
        "train": len(train),
        "heldout": len(heldout),
    }
    return [line for _, line in sorted(train)], [line for _, line in sorted(heldout)], counts


def train_classifier(
    positives: Sequence[str],
    negatives: Sequence[str],
    model_path: str | os.PathLike,
    training: Mapping[str, Any],
    lowercase: bool,
    split_cjk: bool,
) -> dict[str, Any]:
    """Train a positive/negative fastText classifier into ``model_path``; its description.

    ``training``: fastText arguments (``epoch``, ``lr``, ``word_ngrams``, ``dim``,
    ``min_count``, ``bucket``, ``loss``, ``seed``) and ``heldout_fraction``. The
    description has the counts, the held-out accuracy and the model's sha256.
    """
    from ..fetch import sha256_file
    from ..io import atomic_output

    seed = int(training["seed"])
    train, heldout, counts = training_lines(
        positives, negatives, lowercase, split_cjk, float(training["heldout_fraction"]), seed
    )
    for label in ("positive", "negative"):
        if not counts[label]:
            raise ValueError(f"no {label} reference document left to train on")
    model_path = Path(model_path)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=model_path.parent) as tmp:
        data = Path(tmp) / "train.txt"
        data.write_text("\n".join(train) + "\n", encoding="utf-8")
        args = {
            "input": str(data),
            "epoch": int(training["epoch"]),
            "lr": float(training["lr"]),
            "wordNgrams": int(training["word_ngrams"]),
            "dim": int(training["dim"]),
            "minCount": int(training["min_count"]),
            "bucket": int(training["bucket"]),
            "loss": str(training["loss"]),
            "seed": seed,
            "thread": 1,
            "verbose": 0,
        }
        with atomic_output(model_path) as out:
            train_in_fresh_process(args, out)
    model = load_fasttext(model_path)
    accuracy = None
    if heldout:
        labels = [line.split(" ", 1)[0] for line in heldout]
        texts = [line.split(" ", 1)[1] + "\n" for line in heldout]
        predicted, _ = model.f.multilinePredict(texts, 1, 0.0, "strict")
        right = sum(p[0] == t for p, t in zip(predicted, labels, strict=True))
        accuracy = round(right / len(labels), 4)
    log.info("trained %s: %s, held-out accuracy %s", model_path, counts, accuracy)
    return {
        "engine": "fasttext",
        "counts": counts,
        "heldout_accuracy": accuracy,
        "labels": [POSITIVE, NEGATIVE],
        "model_sha256": sha256_file(model_path),
        "training": dict(sorted(training.items())),
        "lowercase": lowercase,
        "split_cjk": split_cjk,
    }


def train_in_fresh_process(args: Mapping[str, Any], out: Path) -> None:
    """Train with ``fasttext.train_supervised(**args)`` and save to ``out``, in a new
    Python process: fastText 0.9.3 leaves state behind in a process that saved a
    model, and a later training there gives other weights (or diverges to NaN)."""
    code = (
        "import json, sys, fasttext; a = json.loads(sys.argv[1]); "
        "fasttext.train_supervised(**a).save_model(sys.argv[2])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(dict(args)), str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"fastText training failed: {proc.stderr.strip()[-2000:]}")


# ---------------------------------------------------------------- scoring


class FastTextClassifier:
    """A loaded quality classifier: scores texts of one language."""

    def __init__(
        self,
        path: str | os.PathLike,
        positive_label: str,
        lowercase: bool,
        split_cjk: bool,
        max_chars: int | None,
    ) -> None:
        self.path = str(path)
        self.model = load_fasttext(path)
        self.labels = [label.removeprefix(PREFIX) for label in self.model.get_labels()]
        if positive_label not in self.labels:
            raise ValueError(
                f"{path}: the model has no label {positive_label!r} (labels: {self.labels})"
            )
        self.positive = positive_label
        self.lowercase, self.split_cjk, self.max_chars = lowercase, split_cjk, max_chars

    def score(self, texts: Sequence[Any]) -> tuple[np.ndarray, list[str | None]]:
        """P(positive label) per text and the most probable label."""
        lines = [prepare_line(t, self.lowercase, self.split_cjk, self.max_chars) for t in texts]
        scores = np.zeros(len(lines))
        labels: list[str | None] = []
        k = len(self.labels)
        for start in range(0, len(lines), BATCH_LINES):
            batch = [line + "\n" for line in lines[start : start + BATCH_LINES]]
            # The binding's batch call (FastText.predict's single-text path is broken
            # under numpy 2); every label's probability, best first.
            all_labels, all_probs = self.model.f.multilinePredict(batch, k, 0.0, "strict")
            positive = PREFIX + self.positive
            for i, (names, probs) in enumerate(zip(all_labels, all_probs, strict=True)):
                # every label is returned (k = all of them), best first
                scores[start + i] = probs[names.index(positive)] if names else 0.0
                labels.append(names[0][len(PREFIX) :] if names else None)
        # fastText's probabilities can exceed 1 by ~1e-5 (its log smoothing): clip.
        return np.clip(scores, 0.0, 1.0), labels
