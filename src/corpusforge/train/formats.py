"""Token files a trainer reads, written from document token arrays.

Megatron-LM's indexed dataset (read by Megatron-LM's and NeMo's ``IndexedDataset``,
``megatron/core/datasets/indexed_dataset.py``), one sequence per document:

- ``<prefix>.bin``: the documents' tokens one after the other, little-endian, in the
  index's dtype;
- ``<prefix>.idx``: the 9 bytes ``MMIDIDX\\0\\0``, version 1 (``<Q``), the dtype code
  (``<B``: uint8 1, int8 2, int16 3, int32 4, int64 5, float64 6, float32 7,
  uint16 8), the sequence count ``N`` and the document-index count ``N + 1``
  (``<Q`` each), then the sequence lengths (int32, ``N``), their byte offsets in
  the ``.bin`` (int64, ``N``) and the document indices (int64: ``0, 1, ..., N``).
  Megatron has no uint32 code: a vocabulary over 65,536 ids is written as int32,
  as Megatron's own preprocessing does.

datatrove's token files (``DocumentTokenizer``; nanotron's datatrove datasets read
them), one folder per dataset:

- ``<name>.ds``: the tokens, little-endian uint16 (token size 2) or uint32 (4);
- ``<name>.ds.index``: every document's end, in tokens from the file's start (uint64);
- ``<name>.ds.metadata``: three lines: ``<tokenizer>|<token size>``, the token count,
  and the count in short (``1.23 MT``).

Writers take documents one at a time (a ``TokenWriter``), so memory holds one
document and the index (12 to 20 bytes a document), never the corpus.
"""

from __future__ import annotations

import contextlib
import struct
from array import array
from pathlib import Path

import numpy as np

from ..atomic import PathLike, atomic_output

MEGATRON_HEADER = b"MMIDIDX\x00\x00"
MEGATRON_VERSION = 1
MEGATRON_CODES = {
    "uint8": 1,
    "int8": 2,
    "int16": 3,
    "int32": 4,
    "int64": 5,
    "float64": 6,
    "float32": 7,
    "uint16": 8,
}
# Our token dtypes -> what each format stores them as.
MEGATRON_DTYPE = {"uint16": "uint16", "uint32": "int32"}
TOKEN_SIZE = {"uint16": 2, "uint32": 4}
FORMATS = ("megatron", "datatrove")
# Bytes buffered before each write of the token file.
WRITE_BUFFER = 8 << 20


def dtype_for_vocab(vocab_size: int, wanted: str = "auto") -> str:
    """``uint16`` when every id fits (vocabulary <= 65,536), else ``uint32``; a
    ``wanted`` dtype too small for the vocabulary is an error naming the key."""
    fits16 = vocab_size <= 1 << 16
    if wanted == "auto":
        return "uint16" if fits16 else "uint32"
    if wanted == "uint16" and not fits16:
        raise ValueError(
            f"train.dtype: uint16 holds ids below 65,536 but the tokenizer's vocabulary "
            f"has {vocab_size:,} ids (use uint32 or auto)"
        )
    return wanted


def data_files(fmt: str, prefix: PathLike) -> list[str]:
    """The files one dataset of a format is made of: Megatron's ``<prefix>.bin`` and
    ``.idx``; datatrove's in a folder of their own, ``<prefix>/<name>.ds`` and its
    ``.index`` and ``.metadata`` (nanotron reads every ``*.ds`` of a folder)."""
    prefix = str(prefix)
    if fmt == "megatron":
        return [f"{prefix}.bin", f"{prefix}.idx"]
    ds = f"{prefix}/{Path(prefix).name}.ds"
    return [ds, f"{ds}.index", f"{ds}.metadata"]


def short_count(count: int) -> str:
    """A token count in short, as datatrove's metadata writes it (``1.23 MT``)."""
    for power, prefix in ((12, "T"), (9, "G"), (6, "M"), (3, "k")):
        if count >= 10**power:
            return f"{count / 10**power:.2f} {prefix}T"
    return f"{count} T"


class TokenWriter:
    """Write documents' tokens into one dataset of a format, atomically: the files
    appear together on ``close`` and a failed write leaves none of them."""

    def __init__(self, fmt: str, prefix: PathLike, dtype: str, tokenizer_name: str = ""):
        if fmt not in FORMATS:
            raise ValueError(f"train.format: {fmt!r} is not one of {list(FORMATS)}")
        self.fmt, self.dtype, self.tokenizer_name = fmt, dtype, tokenizer_name
        self.paths = [Path(p) for p in data_files(fmt, prefix)]
        stored = MEGATRON_DTYPE[dtype] if fmt == "megatron" else dtype
        self.np_dtype = np.dtype(stored).newbyteorder("<")
        self.code = MEGATRON_CODES.get(stored)
        self.lengths = array("q")  # 8 bytes a document
        self._contexts = [atomic_output(p) for p in self.paths]
        self._tmps = [c.__enter__() for c in self._contexts]
        self._data = open(self._tmps[0], "wb")  # noqa: SIM115 - closed in close()/abort()
        self._buffer: list[bytes] = []
        self._buffered = 0

    def add(self, tokens: np.ndarray) -> None:
        """Append one document's tokens."""
        self.add_many(tokens, [len(tokens)])

    def add_many(self, tokens: np.ndarray, lengths: list[int]) -> None:
        """Append several documents' tokens, one after the other (``lengths`` each)."""
        data = np.asarray(tokens).astype(self.np_dtype, copy=False).tobytes()
        self._buffer.append(data)
        self._buffered += len(data)
        self.lengths.extend(lengths)
        if self._buffered >= WRITE_BUFFER:
            self._flush()

    def _flush(self) -> None:
        self._data.write(b"".join(self._buffer))
        self._buffer, self._buffered = [], 0

    def _write_index(self) -> None:
        lengths = (
            np.frombuffer(self.lengths, dtype=np.int64) if self.lengths else np.zeros(0, np.int64)
        )
        if self.fmt == "megatron":
            with open(self._tmps[1], "wb") as idx:
                count = len(lengths)
                idx.write(MEGATRON_HEADER)
                idx.write(struct.pack("<Q", MEGATRON_VERSION))
                idx.write(struct.pack("<B", self.code))
                idx.write(struct.pack("<Q", count))
                idx.write(struct.pack("<Q", count + 1))
                idx.write(lengths.astype("<i4").tobytes())
                offsets = np.cumsum(lengths) - lengths
                idx.write((offsets * self.np_dtype.itemsize).astype("<i8").tobytes())
                idx.write(np.arange(count + 1, dtype="<i8").tobytes())
            return
        ends = np.cumsum(lengths).astype("<u8")
        Path(self._tmps[1]).write_bytes(ends.tobytes())
        total = int(ends[-1]) if len(ends) else 0
        name = f"{self.tokenizer_name}|{TOKEN_SIZE[self.dtype]}"
        Path(self._tmps[2]).write_text(f"{name}\n{total}\n{short_count(total)}", encoding="utf-8")

    def close(self) -> list[Path]:
        """Write the index, then put every file in place; returns the paths."""
        try:
            self._flush()
            self._data.close()
            self._write_index()
        except BaseException as error:
            self.abort(error)
            raise
        for context in self._contexts:
            context.__exit__(None, None, None)
        return self.paths

    def abort(self, error: BaseException | None = None) -> None:
        """Remove the temporary files; nothing appears."""
        self._data.close()
        exc = (type(error), error, error.__traceback__) if error else (RuntimeError, None, None)
        for context in self._contexts:
            with contextlib.suppress(BaseException):  # atomic_output re-raises what it gets
                context.__exit__(*exc)

    def __enter__(self) -> TokenWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is None:
            self.close()
        else:
            self.abort(exc)


def read_megatron_index(prefix: PathLike) -> tuple[np.dtype, np.ndarray]:
    """(token dtype, sequence lengths) of a Megatron ``.idx`` file we wrote."""
    path = f"{prefix}.idx"
    with open(path, "rb") as handle:
        head = handle.read(34)
    if len(head) < 34 or head[:9] != MEGATRON_HEADER:
        raise ValueError(f"{path}: not a Megatron indexed dataset index")
    (code,) = struct.unpack("<B", head[17:18])
    (count,) = struct.unpack("<Q", head[18:26])
    names = {v: k for k, v in MEGATRON_CODES.items()}
    lengths = np.fromfile(path, dtype="<i4", count=count, offset=34)
    return np.dtype(names[code]), lengths
