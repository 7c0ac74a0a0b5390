"""Cluster labels from the generation engine: a short topic and an educational score.

Each cluster is shown to the model once, through the project's engine layer
(corpusforge.engines: vLLM in the job or an OpenAI-compatible server), with the
``examples`` extracts nearest its centre, each cut to ``example_chars``; the model
is asked for a topic of a few words and a score from 0 (not educational) to 10
(textbook material), as Cosmopedia had its clusters labelled and rated.

Answers are parsed leniently (``Topic: ...`` / ``Score: ...`` lines in any case,
a score written ``7/10`` or ``7 out of 10``, or a JSON object with ``topic`` and
``score``); a topic that only repeats the question's placeholder does not count.
A cluster whose answer cannot be parsed, or whose request failed, is asked again
(``retries`` times, each with its own sampling seed); after that it is recorded as
unlabelled with the reason, and its extracts stay unlabelled (no topic, no score),
never failing the build.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

log = logging.getLogger("corpusforge.topics")

MAX_SCORE = 10.0
INSTRUCTION = (
    "Below are {n} extracts from web pages that belong to one group.\n"
    "{examples}\n"
    "Name the topic the extracts share in a few words, and rate from 0 to 10 how "
    "useful the topic is for teaching in a school or university textbook "
    "(0: not educational at all, 10: excellent textbook material).\n"
    "Answer with exactly two lines and nothing else:\n"
    "Topic: <the topic in a few words>\n"
    "Score: <a whole number from 0 to 10>"
)
_TOPIC = re.compile(r"^[^\w\n]*(?:the\s+)?(?:topic|label|主题)[^\w\n]+(.+?)\s*$", re.I | re.M)
_SCORE = re.compile(
    r"^[^\w\n]*(?:educational\s+)?(?:score|rating|评分)[^\w\n]+(\d+(?:\.\d+)?)", re.I | re.M
)
_OUT_OF_TEN = re.compile(r"\b(\d+(?:\.\d+)?)\s*(?:/|out of)\s*10\b", re.I)
# A topic that repeats the question's placeholder is no topic.
_ECHO = re.compile(r"the topic in a few words|<.*>", re.I)


class LabelParseError(ValueError):
    """An answer without a usable topic and score (the message is the reason)."""


def label_prompt(examples: Sequence[str], example_chars: int) -> str:
    """The question for one cluster, with its example extracts."""
    from ..prompts import truncate_extract

    shown = "\n".join(
        f"---\nExtract {i}: {truncate_extract(' '.join(text.split()), example_chars)}"
        for i, text in enumerate(examples, 1)
    )
    return INSTRUCTION.format(n=len(examples), examples=shown + "\n---")


def clean_topic(text: str, max_chars: int) -> str:
    """A topic without quotes, markdown marks and trailing punctuation, cut at ``max_chars``."""
    topic = re.sub(r"[*_`#\"“”「」]", "", text).strip().strip(".,;:。，").strip()
    if len(topic) > max_chars:
        topic = (
            topic[:max_chars].rsplit(" ", 1)[0] if " " in topic[:max_chars] else topic[:max_chars]
        )
    return topic.strip()


def parse_answer(text: str, max_topic_chars: int = 60) -> tuple[str, float]:
    """(topic, score) from a model's answer; raises LabelParseError with the reason."""
    topic, score = None, None
    match = re.search(r"\{.*?\}", text, re.S)
    if match:
        try:
            data = json.loads(match.group(0))
            if isinstance(data, dict):
                topic, score = data.get("topic"), data.get("score")
        except json.JSONDecodeError:
            pass
    if topic is None:
        found = _TOPIC.search(text)
        topic = found.group(1) if found else None
    if score is None:
        found = _SCORE.search(text) or _OUT_OF_TEN.search(text)
        score = found.group(1) if found else None
    if not isinstance(topic, str) or not clean_topic(topic, max_topic_chars):
        raise LabelParseError("no `Topic:` line in the answer")
    if _ECHO.search(topic):
        raise LabelParseError("the topic repeats the question's placeholder")
    try:
        value = float(score)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise LabelParseError("no `Score:` line with a number in the answer") from None
    if not 0 <= value <= MAX_SCORE:
        raise LabelParseError(f"score {value:g} is outside 0-{MAX_SCORE:g}")
    return clean_topic(topic, max_topic_chars), value


def label_clusters(
    engine: Any, examples: Mapping[int, Sequence[str]], cfg: Mapping[str, Any]
) -> dict[int, dict[str, Any]]:
    """Ask the engine once per cluster (again for the failed ones, ``retries`` times).

    Returns per cluster ``topic``, ``score`` (None when unlabelled), ``attempts``,
    ``error`` (None, or why the cluster is unlabelled) and ``answer`` (the last
    answer, cut to 300 characters, for the stats).
    """
    results: dict[int, dict[str, Any]] = {}
    pending = sorted(examples)
    prompts = {c: label_prompt(examples[c], int(cfg["example_chars"])) for c in pending}
    for attempt in range(int(cfg["retries"]) + 1):
        if not pending:
            break
        outputs = engine.generate(
            [prompts[c] for c in pending], [f"topics-cluster-{c}-try-{attempt}" for c in pending]
        )
        still = []
        for c, output in zip(pending, outputs, strict=True):
            answer = output.get("text") or ""
            entry = {"topic": None, "score": None, "attempts": attempt + 1, "answer": answer[:300]}
            if output.get("error"):
                entry["error"] = f"request failed: {output['error']}"
            else:
                try:
                    entry["topic"], entry["score"] = parse_answer(
                        answer, int(cfg["max_topic_chars"])
                    )
                    entry["error"] = None
                except LabelParseError as exc:
                    entry["error"] = f"unparsable answer: {exc}"
            results[c] = entry
            if entry["error"]:
                still.append(c)
                log.warning("cluster %d, attempt %d: %s", c, attempt + 1, entry["error"])
        pending = still
    for c in pending:
        results[c]["error"] += f" (after {results[c]['attempts']} attempts)"
    return results
