"""Language codes and scores of lines of text, in batches through fastText."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from .config import AUTO_TOP_K, SCORE_DECIMALS, Settings
from .model import Model

BATCH_DOCS = 1_000  # documents per fastText call, at most (bounds the copies of the texts)


BATCH_CHARS = 4_000_000  # characters per fastText call, at most (unless one document has more)


def prepare_text(text: Any, max_chars: int | None) -> str:
    """The line fastText sees: at most ``max_chars`` characters, newlines as spaces."""
    if not isinstance(text, str):
        return ""
    return text[:max_chars].replace("\n", " ")


def predict(
    model: Model, lines: Sequence[str], codes: Sequence[str], top_k: int = 1
) -> tuple[list[str], list[float]]:
    """The best language code and its score for each line (no newline in a line).

    ``codes[i]`` is the code of the model's label ``i`` (``Model.codes``). With
    ``top_k`` > 1 the probabilities of the top labels are added up per code
    first, so labels of one language in several scripts count together.
    """
    label_code = dict(zip(model.labels, codes, strict=True))
    langs: list[str] = []
    raw: list[float] = []
    for start, end in _batches(lines):
        # fastText reads one line per text, ended by "\n" (its end-of-sentence token).
        # The binding's batch call skips FastText.predict's per-text checks (our
        # lines have no newline) and its single-string path, broken under numpy 2.
        batch = [line + "\n" for line in lines[start:end]]
        all_labels, all_probs = model.ft.f.multilinePredict(batch, top_k, 0.0, "strict")
        if top_k == 1 and all(all_labels):
            langs += [label_code[labels[0]] for labels in all_labels]
            raw += [float(probs[0]) for probs in all_probs]
            continue
        for labels, probs in zip(all_labels, all_probs, strict=True):
            if not labels:  # nothing above the threshold (cannot happen with threshold 0)
                langs.append("und")
                raw.append(0.0)
                continue
            totals: dict[str, float] = {}
            for label, prob in zip(labels, probs, strict=True):
                code = label_code[label]
                totals[code] = totals.get(code, 0.0) + float(prob)
            best = max(totals, key=lambda c: (totals[c], c))
            langs.append(best)
            raw.append(totals[best])
    # fastText's probabilities can exceed 1 by ~1e-5 (its log smoothing): clip.
    return langs, [round(s, SCORE_DECIMALS) if s < 1.0 else 1.0 for s in raw]


def _batches(lines: Sequence[str]) -> Iterator[tuple[int, int]]:
    """(start, end) of consecutive batches of at most BATCH_DOCS lines / BATCH_CHARS chars."""
    start, chars = 0, 0
    for i, line in enumerate(lines):
        if i > start and (i - start >= BATCH_DOCS or chars + len(line) > BATCH_CHARS):
            yield start, i
            start, chars = i, 0
        chars += len(line)
    if start < len(lines):
        yield start, len(lines)


def effective_top_k(settings: Settings, codes: Sequence[str]) -> int:
    """``top_k`` as configured, else 1 unless several labels share a code."""
    if settings.top_k is not None:
        return settings.top_k
    return AUTO_TOP_K if len(set(codes)) < len(codes) else 1
