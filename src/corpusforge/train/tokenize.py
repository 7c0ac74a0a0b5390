"""Tokenize one final jsonl file (rule ``tokenize``, one job per file).

Texts are encoded with the Rust ``tokenizers`` library in batches, no special
tokens added by the tokenizer's template; a byte-level BPE tokenizer's ids are
those of each distinct piece of text, tokenized once and kept in a table
(``corpusforge.tokenizer.token_ids``: the same ids as encoding the text whole); the
configured BOS token goes before and the EOS token after each document (by
default EOS only, as Megatron's ``--append-eod`` and datatrove's
``DocumentTokenizer`` do). The job writes, beside each other:

- ``<prefix>.bin`` / ``<prefix>.idx``: the documents' tokens in file order, as a
  Megatron indexed dataset (corpusforge.train.formats), in the dtype the
  vocabulary needs (uint16 up to 65,536 ids, else uint32, stored as int32);
- ``<prefix>.docs.jsonl``: per document, in the same order, its ``id``,
  ``origin`` and ``source`` (what the mixture's groups and split read).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import PathLike, atomic_output
from ..tokenizer import token_ids, use_threads
from . import TrainError
from .formats import TokenWriter, dtype_for_vocab

# Documents encoded per call of the tokenizer.
BATCH = 1024


def load_tokenizer(folder: PathLike, key: str = "train.tokenizer") -> Any:
    """The Rust tokenizer of a Hugging Face tokenizer folder, or an error naming ``key``
    (loaded once per process and folder: a job tokenizes one file, a benchmark many)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise TrainError(f"{key}: {folder} is not a tokenizer folder")
    try:
        return _load(str(folder.resolve()))
    except Exception as error:  # any reason it cannot be loaded: say which folder and why
        raise TrainError(f"{key}: cannot load a tokenizer from {folder}: {error}") from error


@lru_cache(maxsize=4)
def _load(folder: str) -> Any:
    from ..tokenizer import _backend

    return _backend(folder)


def vocab_size(tokenizer: Any) -> int:
    """One more than the largest id the tokenizer can give: its vocabulary with the
    added tokens (which may sit past the model's ids)."""
    added = tokenizer.get_added_tokens_decoder()
    return max(tokenizer.get_vocab_size(with_added_tokens=True), max(added, default=-1) + 1)


def _tokenizer_config(folder: PathLike) -> dict:
    path = Path(folder) / "tokenizer_config.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def special_id(tokenizer: Any, folder: PathLike, cfg: Mapping[str, Any], kind: str) -> int | None:
    """The id of the BOS or EOS token (``kind`` "bos"/"eos") to add, or None when off.

    ``train.<kind>_token`` names it; null takes the tokenizer's own
    (``tokenizer_config.json``'s ``bos_token``/``eos_token``).
    """
    if not cfg[kind]:
        return None
    token = cfg.get(f"{kind}_token")
    key = f"train.{kind}_token"
    if token is None:
        token = _tokenizer_config(folder).get(f"{kind}_token")
        if isinstance(token, dict):  # an AddedToken saved as a mapping
            token = token.get("content")
        if not token:
            raise TrainError(
                f"{key}: the tokenizer in {folder} names no {kind}_token; set {key} "
                f"or train.{kind}: false"
            )
    token_id = tokenizer.token_to_id(token)
    if token_id is None:
        raise TrainError(f"{key}: {token!r} is not a token of the tokenizer in {folder}")
    return int(token_id)


def read_documents(path: PathLike) -> Iterator[dict]:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _batches(path: PathLike) -> Iterator[list[dict]]:
    batch: list[dict] = []
    for doc in read_documents(path):
        batch.append(doc)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def tokenize_file(
    jsonl: PathLike,
    tokenizer_dir: PathLike,
    cfg: Mapping[str, Any],
    prefix: PathLike,
    threads: int | None = None,
) -> dict:
    """Tokenize one final jsonl file into ``<prefix>.bin``, ``.idx`` and ``.docs.jsonl``.

    ``cfg``: the ``train`` config section (``bos``, ``eos``, ``bos_token``,
    ``eos_token``, ``dtype``). Returns the job's numbers (documents, tokens, dtype).
    """
    use_threads(threads)
    tokenizer = load_tokenizer(tokenizer_dir)
    dtype = dtype_for_vocab(vocab_size(tokenizer), cfg["dtype"])
    bos = special_id(tokenizer, tokenizer_dir, cfg, "bos")
    eos = special_id(tokenizer, tokenizer_dir, cfg, "eos")
    head = [] if bos is None else [bos]
    tail = [] if eos is None else [eos]
    encode = token_ids(tokenizer)
    docs, tokens = 0, 0
    with (
        TokenWriter("megatron", prefix, dtype) as writer,
        atomic_output(f"{prefix}.docs.jsonl") as tmp,
        open(tmp, "w", encoding="utf-8") as listing,
    ):
        for batch in _batches(jsonl):
            ids = [[*head, *enc, *tail] for enc in encode([doc["text"] for doc in batch])]
            lengths = list(map(len, ids))
            flat = np.fromiter(chain.from_iterable(ids), dtype=np.int64, count=sum(lengths))
            writer.add_many(flat, lengths)
            tokens += len(flat)
            listing.writelines(
                json.dumps(
                    {"id": doc["id"], "origin": doc.get("origin"), "source": doc.get("source")},
                    ensure_ascii=False,
                )
                + "\n"
                for doc in batch
            )
            docs += len(batch)
    return {"documents": docs, "tokens": tokens, "dtype": dtype, "bos": bos, "eos": eos}
