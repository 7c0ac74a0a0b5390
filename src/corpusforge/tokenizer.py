"""The generation model's tokenizer alone: a small folder for token counts.

Web documents are counted in tokens of the generation model's tokenizer (rule
``collect``), so that web and generated documents are counted alike. A web build
needs no model weights for that: rule ``prepare_tokenizer`` writes only the
tokenizer files, from the same source as the model (``model`` config section):

- ``gguf``: transformers reads the tokenizer alone out of the GGUF file and saves
  it (the same call the model conversion makes, so the same ``tokenizer.json``);
- ``hf``: the tokenizer files of the pinned revision, saved again by transformers
  (so a ``tokenizer.json`` exists even when the repository ships only a slow one);
- ``local``: the model folder itself (no rule runs).

Counting uses the Rust tokenizer (``tokenizers``) of that folder directly, never
transformers (3 s to import per job). For a byte-level BPE tokenizer (GPT-2's
pre-tokenizer regex, no normalizer: SmolLM2, GPT-2, ...) a text is cut into pieces
that pre-tokenization never crosses, and the count of a text is the sum of its
pieces' counts, kept in a table: each distinct piece is tokenized once per job. A
piece is a word (a run of non-whitespace) with the one space before it, a word
alone, a run of whitespace before such a word less its last character, or the
last one when it is not a space; GPT-2's regex attaches a single space only to the
following word and splits whitespace runs only there. New pieces are tokenized
joined by newlines (one token each) in ``encode_batch_fast`` calls, in the
library's own threads (or the calling thread: :func:`use_threads`). Texts holding
an added token (``<|im_start|>``...) and other tokenizers are encoded whole.
Either way the counts equal those of ``AutoTokenizer(...)(texts,
add_special_tokens=False)`` (tests/test_tokenizer.py).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from itertools import chain, pairwise
from pathlib import Path
from typing import Any

log = logging.getLogger("corpusforge.tokenizer")

TokenCounter = Callable[[Sequence[str]], list[int]]

# Texts encoded per call: large enough for the thread pool, small enough for memory.
COUNT_BATCH = 256
# Files of a Hugging Face repository that make up its tokenizer.
TOKENIZER_FILES = [
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "config.json",
    "vocab.json",
    "vocab.txt",
    "merges.txt",
    "*.model",
    "*.tiktoken",
    "chat_template.jinja",
]


def _save(tokenizer: Any, dest: Path, provenance: dict[str, Any]) -> Path:
    """Save a transformers tokenizer into ``dest``, which appears only when complete."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        tokenizer.save_pretrained(tmp)
        (tmp / "corpusforge-tokenizer.json").write_text(json.dumps(provenance, indent=2) + "\n")
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("wrote %s", dest)
    return dest


def tokenizer_from_gguf(gguf_file: Path, dest: Path) -> Path:
    """The tokenizer of a GGUF checkpoint as a Hugging Face tokenizer folder.

    Read with transformers' generic fast tokenizer class, which is what
    ``AutoTokenizer`` gives for a GGUF file (the same saved files; tested), without
    its import of the model configuration classes, and with them of torch: the job
    peaked at ~360 MB instead of ~890 MB.
    """
    from transformers import PreTrainedTokenizerFast

    gguf_file = Path(gguf_file)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(
        str(gguf_file.parent), gguf_file=gguf_file.name
    )
    return _save(tokenizer, dest, {"source": "gguf", "gguf_file": gguf_file.name})


def tokenizer_from_hf(
    repo_id: str, revision: str, dest: Path, cache_dir: str | None = None
) -> Path:
    """The tokenizer files of a Hugging Face model at a pinned revision."""
    from transformers import AutoTokenizer

    from .model import hf_snapshot

    with tempfile.TemporaryDirectory() as tmp:
        hf_snapshot(repo_id, revision, Path(tmp), cache_dir, TOKENIZER_FILES)
        tokenizer = AutoTokenizer.from_pretrained(tmp)
        return _save(tokenizer, dest, {"source": "hf", "repo_id": repo_id, "revision": revision})


def prepare_tokenizer(cfg: dict[str, Any], dest: Path) -> Path:
    """Build the tokenizer folder of the model described by the ``model`` config section."""
    from .model import ModelError, gguf_path

    source = cfg.get("source", "gguf")
    if source == "gguf":
        return tokenizer_from_gguf(gguf_path(cfg), dest)
    if source == "hf":
        return tokenizer_from_hf(
            cfg["repo_id"], cfg.get("revision", ""), dest, cfg.get("cache_dir")
        )
    raise ModelError(f"model.source: {source!r} needs no preparation or is unknown")


def _backend(folder: str | Path) -> Any:
    """The Rust tokenizer of a folder: its tokenizer.json, else transformers' backend."""
    path = Path(folder) / "tokenizer.json"
    if path.is_file():
        from tokenizers import Tokenizer

        return Tokenizer.from_file(str(path))
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ValueError(f"tokenizer: {folder} has no fast (Rust) tokenizer to count with")
    return backend


# Unicode White_Space: the characters of `\s` in the tokenizers' regex engine.
_WS = "\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# The pieces of a text (see the module docstring), in order, covering it.
PIECES = re.compile(f" [^{_WS}]+|[^{_WS}]+|[{_WS}]+(?=[{_WS}][^{_WS}])|[{_WS}]+")
# New pieces are tokenized joined by newlines, PIECES_PER_CALL to a text, and
# TEXTS_PER_CALL such texts to a call of the tokenizer (side by side in its threads):
# the encodings of one call are held at once, ~8 MB per text.
PIECES_PER_CALL = 4096
TEXTS_PER_CALL = 2
# The table of piece counts is emptied when it holds this many characters.
TABLE_CHARS = 4 << 20


def _is_byte_level_bpe(backend: Any) -> bool:
    """GPT-2's pre-tokenization (ByteLevel with its regex), no normalizer."""
    spec = json.loads(backend.to_str())
    pre = spec.get("pre_tokenizer") or {}
    return (
        spec.get("normalizer") is None
        and pre.get("type") == "ByteLevel"
        and pre.get("use_regex", True)
        and not pre.get("add_prefix_space", False)
    )


def _encoder(backend: Any) -> Callable[..., list[Any]]:
    """The backend's batch encoder: encode_batch_fast (tokenizers >= 0.21), which skips
    the offsets, else encode_batch."""
    return getattr(backend, "encode_batch_fast", backend.encode_batch)


def _values(encodings: Sequence[Any], ids: bool) -> list[Any]:
    """Per encoding, its token ids (``ids``) or its token count."""
    return [e.ids for e in encodings] if ids else [len(e) for e in encodings]


class _Pieces:
    """Token counts (or ids) of texts as sums (or concatenations) of those of their
    pieces (byte-level BPE tokenizers): each distinct piece is tokenized once and
    kept in a table, a piece's count with ``ids`` False, its ids with ``ids`` True."""

    def __init__(self, backend: Any, newline_id: int, added: list[str], ids: bool = False):
        self.encode = _encoder(backend)
        self.newline_id = newline_id
        self.added = re.compile("|".join(map(re.escape, added))) if added else None
        self.ids = ids
        self.table: dict[str, Any] = {}
        self.table_chars = 0

    def _learn(self, pieces: list[str]) -> None:
        """Tokenize new pieces: words joined by newlines, whitespace runs alone."""
        spaces = [p for p in pieces if p.isspace()]
        words = [p for p in pieces if not p.isspace()]
        encode = self.encode
        if spaces:
            encs = encode(spaces, add_special_tokens=False)
            values = [tuple(e.ids) for e in encs] if self.ids else [len(e) for e in encs]
            self.table.update(zip(spaces, values, strict=True))
        chunks = [words[i : i + PIECES_PER_CALL] for i in range(0, len(words), PIECES_PER_CALL)]
        for start in range(0, len(chunks), TEXTS_PER_CALL):
            group = chunks[start : start + TEXTS_PER_CALL]
            encs = encode(["\n".join(chunk) for chunk in group], add_special_tokens=False)
            for chunk, enc in zip(group, encs, strict=True):
                self._note(chunk, enc)
        self.table_chars += sum(map(len, pieces))

    def _note(self, chunk: list[str], enc: Any) -> None:
        """The values of a chunk's pieces from the encoding of their newline-joined text."""
        import numpy as np

        ids = np.asarray(enc.ids, dtype=np.int64)
        cuts = np.concatenate(([-1], np.flatnonzero(ids == self.newline_id), [len(ids)]))
        if len(cuts) - 1 != len(chunk):
            raise RuntimeError("tokenizer: a newline did not stay one token between pieces")
        if self.ids:
            listed = enc.ids
            values = [tuple(listed[a + 1 : b]) for a, b in pairwise(cuts.tolist())]
        else:
            values = (np.diff(cuts) - 1).tolist()
        self.table.update(zip(chunk, values, strict=True))

    def __call__(self, texts: Sequence[str]) -> list[Any]:
        """Per text: its token count, or the list of its token ids."""
        out: list[Any] = [None] * len(texts)
        whole = [i for i, t in enumerate(texts) if self.added and self.added.search(t)]
        if whole:
            encs = self.encode([texts[i] for i in whole], add_special_tokens=False)
            for i, value in zip(whole, _values(encs, self.ids), strict=True):
                out[i] = value
        skip = set(whole)
        rows = [i for i in range(len(texts)) if i not in skip]
        pieces = [PIECES.findall(texts[i]) for i in rows]
        if self.table_chars > TABLE_CHARS:
            self.table.clear()
            self.table_chars = 0
        new: set[str] = set()
        for p in pieces:
            new.update(p)
        new.difference_update(self.table)
        if new:
            self._learn(sorted(new))
        get = self.table.__getitem__
        for i, p in zip(rows, pieces, strict=True):
            out[i] = list(chain.from_iterable(map(get, p))) if self.ids else sum(map(get, p))
        return out


def _piece_table(backend: Any, ids: bool) -> _Pieces | None:
    """The piece table of a byte-level BPE tokenizer whose newline is one token and
    whose added tokens hold no whitespace (they could form across the newlines that
    join pieces); None for any other tokenizer."""
    if not _is_byte_level_bpe(backend):
        return None
    newline = backend.encode("\n", add_special_tokens=False).ids
    added = [t.content for t in backend.get_added_tokens_decoder().values()]
    if len(newline) != 1 or any(c.isspace() for a in added for c in a):
        return None
    return _Pieces(backend, newline[0], added, ids)


def _in_batches(step: Callable[[Sequence[str]], list[Any]]) -> Callable[[Sequence[str]], list]:
    def batched(texts: Sequence[str]) -> list[Any]:
        out: list[Any] = []
        for start in range(0, len(texts), COUNT_BATCH):
            out.extend(step(list(texts[start : start + COUNT_BATCH])))
        return out

    return batched


def _tokens(backend: Any, ids: bool) -> Callable[[Sequence[str]], list[Any]]:
    """Per text, its token ids (``ids``) or count, no special tokens added: through the
    piece table where the tokenizer allows it (the same values as encoding each text
    whole, tests/test_tokenizer.py), else encoded whole; ``COUNT_BATCH`` texts a call."""
    pieces = _piece_table(backend, ids)
    if pieces is not None:
        return _in_batches(pieces)
    encode = _encoder(backend)

    def whole(batch: Sequence[str]) -> list[Any]:
        return _values(encode(batch, add_special_tokens=False), ids)

    return _in_batches(whole)


def token_ids(backend: Any) -> Callable[[Sequence[str]], list[list[int]]]:
    """Token ids (no special tokens added) of texts, with a Rust tokenizer."""
    return _tokens(backend, ids=True)


def token_counter(folder: str | Path, threads: int | None = None) -> TokenCounter:
    """Token counts (no special tokens added) with the tokenizer of ``folder``.

    ``threads``: as for :func:`use_threads`.
    """
    use_threads(threads)
    return _tokens(_backend(folder), ids=False)


def use_threads(threads: int | None) -> None:
    """Set the size of the tokenizers thread pool (RAYON_NUM_THREADS, read once per
    process when the pool starts), unless the environment already does: 1 encodes in
    the calling thread, with no pool (whose thread would hold its own allocations,
    ~20 MB); None leaves the library's default."""
    if threads == 1:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    elif threads:
        os.environ.setdefault("RAYON_NUM_THREADS", str(int(threads)))
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
