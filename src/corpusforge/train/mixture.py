"""The training mixture (rule ``train_mixture``): groups, held-out split, epochs,
shuffle, and the token files a trainer reads.

Groups (``train.groups``, in the order written): a pattern with a ``/`` is a glob
over a document's ``<lang>/<bucket>`` (``en/head``, ``zh/*``); one without names an
``origin`` (``generated``, ``web``) or a seed (``source``), also as a glob. A
document belongs to the first group that matches it; one matched by none is left
out of training (``unassigned`` in ``mixture.json``).

For each group, in this order:

1. Held-out split: a document goes to validation when a seeded hash of its id
   (``unit_hash("valid", seed, id)``) is below ``valid_fraction``; the rest are the
   group's training documents. The split is taken before anything is repeated or
   dropped, so no document is in both.
2. Target: ``epochs`` x the group's training tokens, or ``weight`` x
   ``total_tokens``; epochs above ``max_epochs`` are an error naming the group.
3. Choice: every training document ``floor(epochs)`` times, then, for the
   fraction left, the documents in a seeded random order (one order per group)
   until the target is reached: the last one taken crosses it, so the tokens
   chosen are the target up to less than one document.

Then all chosen documents (repeats included) are shuffled at document level with
the seed, across every file of the corpus, and written; validation documents are
shuffled too. Only an index of (file, document) pointers is shuffled (about 25
bytes a document: file, offset, length, group, split): texts are never loaded,
and tokens are read from the tokenized files one document at a time.
"""

from __future__ import annotations

import fnmatch
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..io import PathLike, write_json
from ..records import unit_hash
from . import TrainError
from .formats import MEGATRON_DTYPE, TokenWriter, data_files, read_megatron_index

# Weights must add up to 1 within this.
WEIGHT_TOLERANCE = 1e-6


def matches(pattern: str, lang_bucket: str, origin: str | None, source: str | None) -> bool:
    """Whether a group pattern takes a document (see the module docstring)."""
    if "/" in pattern:
        return fnmatch.fnmatchcase(lang_bucket, pattern)
    return any(v is not None and fnmatch.fnmatchcase(v, pattern) for v in (origin, source))


def slug(pattern: str, index: int) -> str:
    """A file-name-safe name for a group: ``en/head`` -> ``en_head``, ``zh/*`` -> ``zh_all``."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", pattern.replace("*", "all")).strip("_.")
    return f"{index:02d}-{name or 'group'}"


def check_groups(
    groups: Sequence[tuple[str, Mapping[str, Any]]],
    total_tokens: int | None,
    max_epochs: float,
    partitions: Sequence[str],
    names: Sequence[str],
) -> None:
    """The cross-field checks of the ``train`` section, before any job runs.

    ``partitions``: the corpus's ``<lang>/<bucket>`` folders; ``names``: the
    origins and seed names of the build. An unknown glob, weights without
    ``total_tokens`` or not adding up to 1, and ``epochs`` over ``max_epochs`` are
    errors naming the key.
    """
    if not groups:
        raise TrainError("train.groups: no group; name at least one (e.g. '*/*': {epochs: 1})")
    for pattern, spec in groups:
        key = f"train.groups.{pattern}"
        pool = partitions if "/" in pattern else names
        if not fnmatch.filter(pool, pattern):
            what = "<lang>/<bucket> of the corpus" if "/" in pattern else "origin or seed"
            raise TrainError(f"{key}: matches no {what} (there are: {', '.join(pool)})")
        if "epochs" in spec and spec["epochs"] > max_epochs:
            raise TrainError(
                f"{key}: epochs {spec['epochs']} is over train.max_epochs {max_epochs}"
            )
    weights = {p: s["weight"] for p, s in groups if "weight" in s}
    if weights and total_tokens is None:
        raise TrainError(
            f"train.total_tokens: groups {', '.join(weights)} have a weight, which is a "
            "share of train.total_tokens; set it (or give those groups epochs)"
        )
    if total_tokens is not None and not weights:
        raise TrainError("train.total_tokens: set, but no group has a weight to share it")
    if weights and abs(sum(weights.values()) - 1) > WEIGHT_TOLERANCE:
        listed = ", ".join(f"{p} {w}" for p, w in weights.items())
        raise TrainError(
            f"train.groups: the weights add up to {sum(weights.values()):g}, not 1 ({listed})"
        )


@dataclass
class Corpus:
    """The tokenized corpus as arrays, one entry per document (no texts)."""

    prefixes: list[str]  # per file
    file: np.ndarray  # int32, the document's file
    offset: np.ndarray  # int64, its first token in the file
    length: np.ndarray  # int64, its tokens
    group: np.ndarray  # int32, its group, -1 for none
    valid: np.ndarray  # bool, held out
    dtype: str


def load_corpus(
    files: Sequence[tuple[str, str]],
    groups: Sequence[tuple[str, Mapping[str, Any]]],
    valid_fraction: float,
    seed: int,
) -> Corpus:
    """Read the tokenized files' indexes and document lists.

    ``files``: (``<lang>/<bucket>``, prefix) per tokenized file, in a fixed order.
    """
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("file", "offset", "length", "group")}
    valid_parts: list[np.ndarray] = []
    dtypes = set()
    for index, (lang_bucket, prefix) in enumerate(files):
        dtype, lengths = read_megatron_index(prefix)
        dtypes.add("uint16" if dtype == np.uint16 else "uint32")
        lengths = lengths.astype(np.int64)
        group_of: dict[tuple, int] = {}
        group, valid = [], []
        with open(f"{prefix}.docs.jsonl", encoding="utf-8") as listing:
            for line in listing:
                doc = json.loads(line)
                key = (doc.get("origin"), doc.get("source"))
                if key not in group_of:
                    group_of[key] = next(
                        (i for i, (p, _) in enumerate(groups) if matches(p, lang_bucket, *key)),
                        -1,
                    )
                group.append(group_of[key])
                valid.append(unit_hash("valid", seed, doc["id"]) < valid_fraction)
        if len(group) != len(lengths):
            raise TrainError(f"{prefix}: {len(group)} documents listed, {len(lengths)} indexed")
        parts["file"].append(np.full(len(lengths), index, dtype=np.int32))
        parts["offset"].append(np.cumsum(lengths) - lengths)
        parts["length"].append(lengths)
        parts["group"].append(np.asarray(group, dtype=np.int32))
        valid_parts.append(np.asarray(valid, dtype=bool))
    if len(dtypes) > 1:
        raise TrainError(f"tokenized files in dtypes {sorted(dtypes)}: tokenize again")

    def joined(name: str, dtype: type) -> np.ndarray:
        return np.concatenate(parts[name]) if parts[name] else np.zeros(0, dtype=dtype)

    return Corpus(
        prefixes=[prefix for _, prefix in files],
        file=joined("file", np.int32),
        offset=joined("offset", np.int64),
        length=joined("length", np.int64),
        group=joined("group", np.int32),
        valid=np.concatenate(valid_parts) if valid_parts else np.zeros(0, dtype=bool),
        dtype=dtypes.pop() if dtypes else "uint16",
    )


def _rng(seed: int, *parts: object) -> np.random.Generator:
    return np.random.default_rng(int(unit_hash("shuffle", seed, *parts) * (1 << 53)))


def choose(
    corpus: Corpus,
    groups: Sequence[tuple[str, Mapping[str, Any]]],
    total_tokens: int | None,
    max_epochs: float,
    seed: int,
) -> tuple[list[np.ndarray], list[dict]]:
    """Per group the chosen training documents (indices into ``corpus``, repeats
    included) and the group's numbers for mixture.json."""
    chosen, report = [], []
    for g, (pattern, spec) in enumerate(groups):
        mine = corpus.group == g
        train = np.flatnonzero(mine & ~corpus.valid)
        valid = np.flatnonzero(mine & corpus.valid)
        available = int(corpus.length[train].sum())
        docs = len(train)
        if "epochs" in spec:
            epochs = float(spec["epochs"])
            target = epochs * available
        else:
            target = float(spec["weight"]) * total_tokens
            if available == 0:
                raise TrainError(
                    f"train.groups.{pattern}: weight {spec['weight']} asks for {target:.0f} "
                    "tokens of a group with no training documents"
                )
            epochs = target / available
        if epochs > max_epochs:
            raise TrainError(
                f"train.groups.{pattern}: {epochs:.3g} epochs asked of a group of {docs} "
                f"documents, {available} tokens (train.max_epochs {max_epochs})"
            )
        full = math.floor(epochs + 1e-9)
        rest = target - full * available
        picks = [train] * full
        if rest > 0 and docs:
            order = _rng(seed, pattern).permutation(train)
            reached = np.cumsum(corpus.length[order])
            picks.append(order[: int(np.searchsorted(reached, rest, side="left")) + 1])
        taken = np.concatenate(picks) if picks else np.zeros(0, dtype=np.int64)
        chosen.append(taken)
        report.append(
            {
                "group": pattern,
                "spec": dict(spec),
                "available": {
                    "documents": int(mine.sum()),
                    "tokens": int(corpus.length[mine].sum()),
                },
                "valid": {"documents": len(valid), "tokens": int(corpus.length[valid].sum())},
                "train_available": {"documents": docs, "tokens": available},
                "target_tokens": round(target, 3),
                "epochs": round(epochs, 6),
                "chosen": {
                    "documents": len(taken),
                    "distinct_documents": len(np.unique(taken)),
                    "tokens": int(corpus.length[taken].sum()),
                },
                "max_document_tokens": int(corpus.length[train].max()) if docs else 0,
            }
        )
    return chosen, report


def _write(corpus: Corpus, order: np.ndarray, fmt: str, prefix: str, tokenizer_name: str) -> dict:
    """Copy documents ``order`` (indices into ``corpus``) into one dataset."""
    dtype = np.dtype(MEGATRON_DTYPE[corpus.dtype]).newbyteorder("<")
    size = dtype.itemsize
    fds: dict[int, int] = {}
    try:
        with TokenWriter(fmt, prefix, corpus.dtype, tokenizer_name) as writer:
            for i in order:
                f = int(corpus.file[i])
                if f not in fds:
                    fds[f] = os.open(f"{corpus.prefixes[f]}.bin", os.O_RDONLY)
                # pread, not a memory map: the pages read are not counted to the job
                data = os.pread(fds[f], int(corpus.length[i]) * size, int(corpus.offset[i]) * size)
                writer.add(np.frombuffer(data, dtype=dtype))
    finally:
        for fd in fds.values():
            os.close(fd)
    return {
        "documents": len(order),
        "tokens": int(corpus.length[order].sum()),
        "files": [
            Path(p).relative_to(Path(prefix).parent).as_posix() for p in data_files(fmt, prefix)
        ],
    }


def build_mixture(
    files: Sequence[tuple[str, str]],
    cfg: Mapping[str, Any],
    groups: Sequence[tuple[str, Mapping[str, Any]]],
    out_dir: PathLike,
    tokenizer_name: str,
) -> dict:
    """The whole job of rule ``train_mixture``: the datasets under ``out_dir`` and
    ``out_dir/mixture.json``; returns what mixture.json holds.

    ``cfg``: the ``train`` section (``format``, ``layout``, ``total_tokens``,
    ``max_epochs``, ``valid_fraction``, ``seed``); ``groups``: (pattern, spec) in
    the order written.
    """
    seed, fmt, layout = cfg["seed"], cfg["format"], cfg["layout"]
    corpus = load_corpus(files, groups, cfg["valid_fraction"], seed)
    chosen, report = choose(corpus, groups, cfg["total_tokens"], cfg["max_epochs"], seed)
    out_dir = Path(out_dir)
    datasets: dict[str, dict] = {}
    valid_all = np.flatnonzero(corpus.valid & (corpus.group >= 0))
    if layout == "single":
        train_all = np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)
        order = _rng(seed, "train").permutation(train_all)
        datasets["train"] = _write(corpus, order, fmt, str(out_dir / "train"), tokenizer_name)
    else:
        for g, (pattern, _) in enumerate(groups):
            order = _rng(seed, "train", pattern).permutation(chosen[g])
            name = f"train-{slug(pattern, g)}"
            datasets[name] = _write(corpus, order, fmt, str(out_dir / name), tokenizer_name)
            report[g]["dataset"] = name
    order = _rng(seed, "valid").permutation(valid_all)
    datasets["valid"] = _write(corpus, order, fmt, str(out_dir / "valid"), tokenizer_name)
    unassigned = corpus.group < 0
    chosen_tokens = sum(r["chosen"]["tokens"] for r in report)
    for r in report:
        r["share"] = round(r["chosen"]["tokens"] / chosen_tokens, 6) if chosen_tokens else 0.0
    mixture = {
        "format": fmt,
        "layout": layout,
        "dtype": corpus.dtype,
        "tokenizer": tokenizer_name,
        "seed": seed,
        "valid_fraction": cfg["valid_fraction"],
        "total_tokens": cfg["total_tokens"],
        "max_epochs": cfg["max_epochs"],
        "groups": report,
        "unassigned": {
            "documents": int(unassigned.sum()),
            "tokens": int(corpus.length[unassigned].sum()),
        },
        "datasets": datasets,
    }
    if fmt == "megatron":
        mixture["megatron_data_path"] = megatron_data_path(mixture, out_dir)
    else:
        mixture["nanotron_dataset_folder"] = nanotron_dataset_folder(mixture, out_dir)
    write_json(mixture, out_dir / "mixture.json")
    return mixture


def megatron_data_path(mixture: Mapping[str, Any], out_dir: PathLike) -> str:
    """Megatron-LM's ``--data-path`` (``--train-data-path``) value: the training
    prefix, or with one file per group each group's share of the chosen tokens and
    its prefix."""
    if mixture["layout"] == "single":
        return str(Path(out_dir) / "train")
    return " ".join(
        f"{r['share']:g} {Path(out_dir) / r['dataset']}"
        for r in mixture["groups"]
        if r["chosen"]["tokens"]
    )


def nanotron_dataset_folder(mixture: Mapping[str, Any], out_dir: PathLike) -> Any:
    """nanotron's ``dataset_folder`` (its Nanoset reads every ``*.ds`` of a folder):
    the training folder, or with one per group a mapping folder -> share."""
    if mixture["layout"] == "single":
        return str(Path(out_dir) / "train")
    return {
        str(Path(out_dir) / r["dataset"]): r["share"]
        for r in mixture["groups"]
        if r["chosen"]["tokens"]
    }


def mixture_summary(mixture: Mapping[str, Any]) -> dict:
    """What summary.json keeps of mixture.json: everything but the file lists."""
    summary = {k: v for k, v in mixture.items() if k != "datasets"}
    summary["datasets"] = {
        name: {"documents": d["documents"], "tokens": d["tokens"]}
        for name, d in mixture["datasets"].items()
    }
    return summary
