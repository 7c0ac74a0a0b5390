"""Paragraph dedup (CC-NET, Wenzek et al. 2020): every line seen before in the build
is removed, over all shards.

A line (CC-NET's "paragraph") is normalized as CC-NET does before hashing:
stripped, lower-cased, accents removed (NFD, combining marks dropped), every digit
made ``0``, punctuation, symbols and control characters removed, whitespace runs
made one space. Lines empty after that (blank, rules of dashes) are never
removed. The hash is the first 8 bytes of BLAKE2b of the normalized line's UTF-8
(cc_net takes SHA-1's first 8 bytes; any 64-bit digest serves).

The first occurrence of a line in the build's order -- shard, then the shard's
documents by ``id``, then line number -- is kept; every later one is removed.
Three rules (rules/paragraphs.smk), after language ID:

1. ``paragraphs_hash`` (per shard): the hash of every line of the shard, in order
   (``lines/``, written a batch of documents at a time), and the distinct ones,
   sorted (``hashes/``, picked out of the written file a range of the hash space
   at a time), as ``.npy`` uint64 arrays: 8 bytes a line and 8 a distinct line.
2. ``paragraphs_gather`` (once): for each shard, the hashes it shares with an
   earlier shard. Memory bounded: the hash space is cut into ranges of about
   ``gather_batch`` hashes, and each range is read from every shard's file
   (memory-mapped, sorted: a binary search finds the range) and decided alone.
3. ``paragraphs`` (per shard): a line goes if its hash came earlier in the shard
   or is in the shard's list from step 2 (the hashes come from step 1's ``lines/``
   file: the text is not normalized twice), decided a range of the hash space at
   a time over the memory-mapped file, so a job holds a byte a line, a range and
   a batch of documents. Lines are removed by
   :func:`corpusforge.clean.text.remove_lines`.

Documents whose ``origin`` is not in ``apply_to`` are neither hashed nor changed.
Kept documents record ``removed_lines`` and ``removed_chars``; a document that
lost lines and is left with fewer than ``min_chars`` non-blank characters is
rejected ``paragraph_dedup``, the detail saying how much went.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import math
import os
import re
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .clean.text import remove_lines
from .io import atomic_output, write_json
from .records import origins, reject_records, stage_stats

STAGE = "paragraphs"
REASON = "paragraph_dedup"
KIND = "duplicate"
U64 = np.uint64
PathLike = str | os.PathLike[str]
DIGITS = re.compile(r"\d")
# Lines (hashes) decided at once when no gather_batch is given: the schema's default.
DEFAULT_BATCH = 4_000_000


@functools.cache
def _drop_table() -> dict[int, None]:
    """Code points removed by normalization: punctuation, symbols, controls, formats,
    combining marks (accents once NFD has split them off); blanks stay blanks."""
    drop = {}
    for cp in range(0x110000):
        cat = unicodedata.category(chr(cp))
        if (cat[0] in "PS" or cat in ("Cc", "Cf", "Mn")) and not chr(cp).isspace():
            drop[cp] = None
    return drop


def _fold(text: str) -> str:
    """Lower case, accents stripped, digits 0, punctuation, symbols and controls gone;
    blanks (newlines included) kept, so a whole text folds line by line."""
    text = text.lower()
    if not text.isascii():
        text = unicodedata.normalize("NFD", text)
    return DIGITS.sub("0", text).translate(_drop_table())


def normalize_line(line: str) -> str:
    """CC-NET's normalization of a line for dedup (see the module docstring)."""
    return " ".join(_fold(line).split())


def line_hash(normalized: str) -> int:
    """The 64-bit hash of a normalized line, as an unsigned integer."""
    digest = hashlib.blake2b(normalized.encode("utf-8", "surrogatepass"), digest_size=8)
    return int.from_bytes(digest.digest(), "little")


def text_hashes(text: str) -> tuple[list[str], np.ndarray]:
    """(lines, hash per line): 0 for a line empty once normalized (it never goes), and
    a line whose hash is 0 gets 1. The text is folded at once, then split."""
    lines = text.split("\n")
    folded = _fold(text).split("\n")
    if len(folded) != len(lines):  # cannot happen: folding keeps blanks
        raise ValueError("paragraphs: normalization changed the number of lines")
    hashes = np.fromiter(
        ((line_hash(n) or 1) if (n := " ".join(f.split())) else 0 for f in folded),
        dtype=U64,
        count=len(folded),
    )
    return lines, hashes


def _in_scope(docs: pd.DataFrame, apply_to: Iterable[str]) -> np.ndarray:
    return origins(docs).isin(set(apply_to)).to_numpy()


def _ordered(docs: pd.DataFrame) -> pd.DataFrame:
    if "id" in docs.columns:
        docs = docs.sort_values("id", kind="stable")
    return docs.reset_index(drop=True)


def _texts(docs: pd.DataFrame) -> list[str]:
    return [t if isinstance(t, str) else "" for t in docs["text"].tolist()]


# ---------------------------------------------------------------- 1. hash (per shard)


def shard_line_hashes(docs: pd.DataFrame, apply_to: Iterable[str]) -> np.ndarray:
    """The hash of every line of one shard's documents in scope, in (id, line) order
    (0: a line that takes no part)."""
    docs = _ordered(docs)
    scope = _in_scope(docs, apply_to)
    parts = [text_hashes(t)[1] for t, on in zip(_texts(docs), scope, strict=True) if on]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=U64)


def distinct_hashes(line_hashes: np.ndarray) -> np.ndarray:
    """The sorted distinct hashes of the lines that take part (what the gather reads)."""
    return np.unique(line_hashes[line_hashes != 0])


def _npy_header(count: int) -> bytes:
    """np.save's header of a 1-d uint64 array of ``count`` values (numpy pads it to
    the same length whatever the count, so it can be written last)."""
    buffer = io.BytesIO()
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(U64)), "fortran_order": False}
    np.lib.format.write_array_header_1_0(buffer, {**header, "shape": (count,)})
    return buffer.getvalue()


@contextlib.contextmanager
def hash_writer(path: PathLike) -> Iterator[Callable[[np.ndarray], None]]:
    """``add(hashes)`` appends uint64 hashes to a ``.npy`` written atomically, a part at
    a time (never held whole); the file is np.save's of all the parts together."""
    count = 0
    with atomic_output(path, suffix=".npy") as tmp, open(tmp, "wb") as handle:
        handle.write(_npy_header(0))

        def add(hashes: np.ndarray) -> None:
            nonlocal count
            part = np.ascontiguousarray(hashes, dtype=U64)
            handle.write(part.tobytes())
            count += len(part)

        yield add
        header = _npy_header(count)
        if len(header) != len(_npy_header(0)):  # numpy pads for growth: cannot happen
            raise RuntimeError(f"{path}: the .npy header changed length")
        handle.seek(0)
        handle.write(header)


def save_hashes(hashes: np.ndarray, path: PathLike) -> None:
    """A uint64 array as ``.npy``, atomically."""
    with hash_writer(path) as add:
        add(hashes)


def load_hashes(path: PathLike, mmap: bool = False) -> np.ndarray:
    arr = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    if arr.dtype != U64 or arr.ndim != 1:
        raise ValueError(f"{path}: not a 1-d uint64 hash array ({arr.dtype}, {arr.shape})")
    return arr


# ---------------------------------------------------------------- 2. gather (once)


def _ranges(total: int, batch: int) -> Iterator[tuple[int, int | None]]:
    """Ranges [lo, hi) of the 64-bit hash space holding about ``batch`` hashes each
    (hashes are uniform); the last ``hi`` is None (to the end)."""
    parts = 1 << max(0, math.ceil(math.log2(max(1, total / max(1, batch)))))
    step = (1 << 64) // parts
    for k in range(parts):
        yield k * step, None if k == parts - 1 else (k + 1) * step


SCAN = 1 << 20  # line hashes compared at a time when a range is picked out of a file


def in_range(hashes: np.ndarray, lo: int, hi: int | None) -> np.ndarray:
    """Positions (ascending) of the non-zero hashes in [lo, hi) (hi None: to the end),
    ``hashes`` (often memory-mapped) read SCAN at a time."""
    parts = []
    for start in range(0, len(hashes), SCAN):
        chunk = np.asarray(hashes[start : start + SCAN])
        keep = chunk != 0
        if lo:
            keep &= chunk >= U64(lo)
        if hi is not None:
            keep &= chunk < U64(hi)
        parts.append(np.flatnonzero(keep) + start)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def sorted_range(hashes: np.ndarray, lo: int, hi: int | None) -> np.ndarray:
    """The part of a sorted hash array in [lo, hi)."""
    i0 = int(np.searchsorted(hashes, U64(lo)))
    i1 = len(hashes) if hi is None else int(np.searchsorted(hashes, U64(hi)))
    return np.asarray(hashes[i0:i1])


def earlier_repeats(
    shard_files: Sequence[PathLike], batch: int
) -> Iterator[tuple[int, np.ndarray, dict[str, int]]]:
    """For each range of the hash space, in order: (shard, its hashes in the range
    that an earlier shard has, sorted) for every shard with some, then stats of the
    range. Reads each range from every file, so memory is about ``batch`` hashes."""
    arrays = [load_hashes(p, mmap=True) for p in shard_files]
    total = sum(len(a) for a in arrays)
    for lo, hi in _ranges(total, batch):
        values, owners = [], []
        for s, arr in enumerate(arrays):
            values.append(sorted_range(arr, lo, hi))
            owners.append(np.full(len(values[-1]), s, dtype=np.int32))
        vals = np.concatenate(values) if values else np.zeros(0, U64)
        owner = np.concatenate(owners) if owners else np.zeros(0, np.int32)
        order = np.argsort(vals, kind="stable")  # equal hashes stay in shard order
        vals, owner = vals[order], owner[order]
        first = np.ones(len(vals), dtype=bool)
        first[1:] = vals[1:] != vals[:-1]
        for s in np.unique(owner[~first]):
            yield int(s), vals[~first & (owner == s)], {}
        yield -1, np.zeros(0, U64), {"hashes": len(vals), "distinct": int(first.sum())}


def gather(
    shard_files: Sequence[PathLike],
    out_files: Sequence[PathLike],
    out_stats: PathLike | None,
    batch: int,
) -> dict[str, Any]:
    """Write, for each shard, the sorted hashes it shares with an earlier shard."""
    if len(shard_files) != len(out_files):
        raise ValueError("paragraphs gather: one output per shard file")
    repeated = [0] * len(shard_files)
    stats: Counter = Counter()
    peak = 0
    first_out = Path(out_files[0]) if out_files else Path(".")
    first_out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=first_out.parent, prefix=".gather.") as tmp:
        raws = [Path(tmp) / f"{i}.u64" for i in range(len(shard_files))]
        handles = [open(raw, "wb") for raw in raws]  # noqa: SIM115 (closed below)
        try:
            for shard, hashes, range_stats in earlier_repeats(shard_files, batch):
                if shard < 0:
                    stats.update(range_stats)
                    peak = max(peak, range_stats["hashes"])
                    stats["ranges"] += 1
                    continue
                handles[shard].write(hashes.astype("<u8").tobytes())
                repeated[shard] += len(hashes)
        finally:
            for handle in handles:
                handle.close()
        for raw, dest in zip(raws, out_files, strict=True):
            save_hashes(np.fromfile(raw, dtype="<u8").astype(U64), dest)
    result = {
        "shards": len(shard_files),
        "shard_distinct_hashes": int(stats["hashes"]),
        "distinct_hashes": int(stats["distinct"]),
        "earlier_shard_repeats": repeated,
        "ranges": int(stats["ranges"]),
        "largest_range_hashes": int(peak),
        "gather_batch": int(batch),
    }
    if out_stats is not None:
        write_json(result, out_stats)
    return result


# ---------------------------------------------------------------- 3. apply (per shard)


def removed_mask(
    line_hashes: np.ndarray,
    earlier: np.ndarray,
    batch: int = DEFAULT_BATCH,
) -> np.ndarray:
    """Which lines of a shard go: those (taking part) whose hash is in ``earlier``
    (sorted: seen in an earlier shard) or came before in the shard. Decided one range
    of the hash space at a time (about ``batch`` lines each), so that besides a byte a
    line only a range is held; ``line_hashes`` may be memory-mapped."""
    return _decide(line_hashes, earlier, batch)[0]


def _decide(
    line_hashes: np.ndarray, earlier: np.ndarray, batch: int, indexed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """(:func:`removed_mask`, and with ``indexed`` (sorted) which lines it holds)."""
    gone = np.zeros(len(line_hashes), dtype=bool)
    in_index = None if indexed is None else np.zeros(len(line_hashes), dtype=bool)
    for lo, hi in _ranges(len(line_hashes), batch):
        at = in_range(line_hashes, lo, hi)
        values = np.asarray(line_hashes[at])
        order = np.argsort(values, kind="stable")  # a hash's lines stay in line order
        values, at = values[order], at[order]
        repeat = np.zeros(len(values), dtype=bool)
        repeat[1:] = values[1:] == values[:-1]
        repeat |= _member(values, sorted_range(earlier, lo, hi))
        if in_index is not None:
            held = _member(values, sorted_range(indexed, lo, hi))
            in_index[at[held]] = True
            repeat |= held
        gone[at[repeat]] = True
    return gone, in_index


def _member(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Which of ``values`` are in the sorted array ``sorted_set``."""
    if not len(sorted_set):
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    return sorted_set[at] == values


def dedup_paragraphs(
    docs: pd.DataFrame,
    earlier: np.ndarray,
    cfg: Mapping[str, Any],
    line_hashes: np.ndarray | None = None,
    indexed: np.ndarray | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(kept documents, rejected rows, stats) of one shard; ``earlier``: the shard's
    hashes seen in an earlier shard (from the gather step); ``line_hashes``: the
    shard's line hashes from the hash step (computed again when None); ``indexed``:
    the shard's hashes a dedup index holds (lines of earlier builds, removed too;
    stats ``removed_lines_in_index``)."""
    if line_hashes is None:
        line_hashes = shard_line_hashes(docs, cfg["apply_to"])
    step = BatchedApply(line_hashes, earlier, cfg, indexed)
    result = step(docs)
    step.check_all_used()
    return result


def _apply(
    docs: pd.DataFrame,
    line_hashes: np.ndarray,
    gone: np.ndarray,
    cfg: Mapping[str, Any],
    extra: Mapping[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """:func:`dedup_paragraphs` once the lines to remove (``gone``, aligned with
    ``line_hashes``: the documents' lines in (id, line) order) are known."""
    docs = _ordered(docs)
    scope = _in_scope(docs, cfg["apply_to"])
    texts = _texts(docs)
    langs = (
        docs["lang"].fillna("unknown").astype(str).tolist()
        if "lang" in docs.columns
        else ["unknown"] * len(docs)
    )
    at = np.flatnonzero(scope)
    new_texts = list(texts)
    n_lines = np.zeros(len(docs), dtype=np.int64)
    n_chars = np.zeros(len(docs), dtype=np.int64)
    reject = np.zeros(len(docs), dtype=bool)
    details: dict[int, str] = {}
    min_chars = int(cfg["min_chars"])
    pos = 0
    for i in at:
        lines = texts[i].split("\n")
        drop, pos = gone[pos : pos + len(lines)], pos + len(lines)
        if not drop.any():
            continue
        kinds = [KIND if d else None for d in drop]
        new, removed, chars = remove_lines(texts[i], lines, kinds)
        left = len("".join(new.split()))
        n_lines[i], n_chars[i] = removed[KIND], chars
        if left < min_chars:
            reject[i] = True
            details[i] = (
                f"removed {removed[KIND]} of {len(lines)} lines, {chars} characters; "
                f"{left} characters left < {min_chars}"
            )
        new_texts[i] = new
    if pos != len(line_hashes):
        raise ValueError(
            f"paragraphs: {len(line_hashes)} line hashes for {pos} lines (another shard's?)"
        )
    kept = docs[~reject].copy()
    kept["text"] = pd.Series(
        [new_texts[i] for i in np.flatnonzero(~reject)], index=kept.index, dtype=object
    )
    kept["removed_lines"] = n_lines[~reject]
    kept["removed_chars"] = n_chars[~reject]
    kept = kept.reset_index(drop=True)
    gone = docs[reject]
    detail = pd.Series([details[i] for i in np.flatnonzero(reject)], index=gone.index, dtype=object)
    rejects = reject_records(gone, STAGE, REASON, detail)
    by_lang: Counter = Counter()
    lines_by_lang: Counter = Counter()
    chars_in: Counter = Counter()
    for i in at:
        by_lang[langs[i]] += int(n_chars[i])
        lines_by_lang[langs[i]] += int(n_lines[i])
        chars_in[langs[i]] += len(texts[i])
    stats = stage_stats(
        STAGE,
        len(docs),
        len(kept),
        rejects,
        not_deduplicated=int((~scope).sum()),
        documents_changed=int((n_lines > 0).sum()),
        removed_lines=int(n_lines.sum()),
        removed_chars=int(n_chars.sum()),
        chars_in=int(sum(chars_in.values())),
        removed_chars_by_lang={k: by_lang[k] for k in sorted(chars_in)},
        removed_lines_by_lang={k: lines_by_lang[k] for k in sorted(chars_in)},
        chars_in_by_lang={k: chars_in[k] for k in sorted(chars_in)},
        **extra,
    )
    return kept, rejects, stats


def indexed_lines(line_hashes: np.ndarray, read: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """The distinct hashes among a shard's that the dedup index versions ``read`` hold."""
    from .dedup.index import lines_in_index, open_segments

    return lines_in_index(line_hashes, open_segments(read))


# ---------------------------------------------------------------- jobs


class BatchedApply:
    """The step of rule paragraphs over a shard's documents in batches, in id order:
    which lines go is decided once over the shard's line hashes (memory-mapped, a
    range of the hash space at a time: a byte a line is held, never the text), then
    each batch takes its own run of them."""

    def __init__(
        self,
        line_hashes: np.ndarray,
        earlier: np.ndarray,
        cfg: Mapping[str, Any],
        indexed: np.ndarray | None = None,
    ):
        self.lines, self.cfg = line_hashes, cfg
        batch = int(cfg.get("gather_batch", DEFAULT_BATCH))
        self.gone, self.in_index = _decide(line_hashes, earlier, batch, indexed)
        self.pos = 0

    def __call__(self, docs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
        docs = _ordered(docs)
        scope = _in_scope(docs, self.cfg["apply_to"])
        count = sum(t.count("\n") + 1 for t, on in zip(_texts(docs), scope, strict=True) if on)
        run = slice(self.pos, self.pos + count)
        self.pos += count
        extra = (
            {}
            if self.in_index is None
            else {"removed_lines_in_index": int(self.in_index[run].sum())}
        )
        return _apply(docs, self.lines[run], self.gone[run], self.cfg, extra)

    def check_all_used(self) -> None:
        """After the shard's last batch: its documents had as many lines as it has
        line hashes (else the hashes are another shard's, or of other documents)."""
        if self.pos != len(self.lines):
            raise ValueError(
                f"paragraphs: {len(self.lines)} line hashes for {self.pos} lines (another shard's?)"
            )


def apply_job(smk: Any) -> None:
    """Rule paragraphs: remove the shard's lines an earlier shard (or the index) has,
    ``params.batch_rows`` documents at a time."""
    from .runtime import doc_stage_job

    cfg = smk.params.settings
    lines = load_hashes(smk.input.lines, mmap=True)
    built: list[BatchedApply] = []

    def build() -> BatchedApply:
        index = None
        if cfg.get("index"):
            index = indexed_lines(load_hashes(smk.input.hashes, mmap=True), cfg["index"])
        built.append(BatchedApply(lines, load_hashes(smk.input.earlier), cfg, index))
        return built[-1]

    doc_stage_job(smk, build, finish=lambda: built[-1].check_all_used())


def iter_line_hashes(
    path: PathLike, apply_to: Iterable[str], batch_rows: int
) -> Iterator[np.ndarray]:
    """:func:`shard_line_hashes` of a shard's documents file, ``batch_rows`` documents at
    a time (whole when its ids are out of order), a part per batch."""
    from .io import ids_sorted, iter_parquet_frames

    batch = batch_rows if ids_sorted(path) else None
    for docs in iter_parquet_frames(path, batch):
        yield shard_line_hashes(docs, apply_to)


def hash_shard(
    docs: PathLike,
    apply_to: Iterable[str],
    batch_rows: int,
    out_lines: PathLike,
    out_hashes: PathLike,
    batch: int = DEFAULT_BATCH,
) -> tuple[int, int]:
    """Rule paragraphs_hash's files: every line's hash, written batch by batch, then
    the sorted distinct ones, a range of the hash space (about ``batch`` lines) at a
    time from the written file. Returns (lines, distinct hashes)."""
    with hash_writer(out_lines) as add:
        for part in iter_line_hashes(docs, apply_to, batch_rows):
            add(part)
    lines = load_hashes(out_lines, mmap=True)
    distinct = 0
    with hash_writer(out_hashes) as add:
        for lo, hi in _ranges(len(lines), batch):
            found = np.unique(np.asarray(lines[in_range(lines, lo, hi)]))
            add(found)
            distinct += len(found)
    return len(lines), distinct


def hash_job(smk: Any) -> None:
    """Rule paragraphs_hash: every line's hash of one shard, and the distinct ones."""
    from .runtime import logged

    with logged(smk.log[0] if smk.log else None) as log:
        lines, distinct = hash_shard(
            smk.input.docs,
            smk.params.settings["apply_to"],
            smk.params.batch_rows,
            smk.output.lines,
            smk.output.hashes,
            smk.params.gather_batch,
        )
        log.info("%d lines, %d distinct line hashes", lines, distinct)


def gather_job(smk: Any) -> None:
    """Rule paragraphs_gather: per shard, the hashes an earlier shard has."""
    from .runtime import logged

    with logged(smk.log[0] if smk.log else None) as log:
        cfg = smk.params.settings
        stats = gather(smk.input.hashes, smk.output.earlier, smk.output.stats, cfg["gather_batch"])
        log.info("gather: %s", stats)
