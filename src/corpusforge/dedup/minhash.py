"""MinHash signatures with datasketch's permutations, their files, and LSH bands."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .config import SCHEMES
from .hashing import C1, K_BAND, M64, U64, fmix32, fmix64

# Rows of the (shingles x permutations) matrix computed at once.
PERM_CHUNK_ELEMENTS = 1 << 20  # 4 MB of uint32


class Permutations:
    """datasketch's permutation parameters for (num_perm, seed, scheme)."""

    def __init__(self, num_perm: int = 128, seed: int = 1, scheme: str = "affine32"):
        from datasketch import MinHash

        if scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES}")
        mh = MinHash(num_perm=num_perm, seed=seed, scheme=scheme)
        a, b = mh.permutations
        self.scheme = scheme
        self.num_perm = num_perm
        self.seed = seed
        if scheme == "affine32":
            self.a = np.asarray(a, dtype=np.uint32)
            self.b = np.asarray(b, dtype=np.uint32)
        else:
            self.a = np.asarray(a, dtype=np.uint64)
            self.b = np.asarray(b, dtype=np.uint64)


def minhash(hv: np.ndarray, offsets: np.ndarray, perms: Permutations) -> np.ndarray:
    """MinHash signatures (n_docs x num_perm, uint32) from 32-bit shingle hashes.

    Document ``i`` owns ``hv[offsets[i]:offsets[i+1]]``. The values equal
    datasketch's ``MinHash(num_perm, seed, scheme, hashfunc=identity)`` after
    ``update_batch`` of the same hashes; a document without shingles gets
    datasketch's empty value (2^32 - 1 everywhere).
    """
    n_docs = len(offsets) - 1
    sig = np.full((n_docs, perms.num_perm), np.uint32(0xFFFFFFFF), dtype=np.uint32)
    if n_docs == 0 or offsets[-1] == 0:
        return sig
    if perms.scheme == "affine32":
        x = fmix32(np.asarray(hv, dtype=np.uint32))
    else:
        x = np.asarray(hv, dtype=np.uint64)
    nonempty = np.flatnonzero(np.diff(offsets) > 0)
    chunk = max(1, PERM_CHUNK_ELEMENTS // perms.num_perm)
    a = perms.a[:, None]
    b = perms.b[:, None]
    buf = np.empty((perms.num_perm, chunk), dtype=a.dtype)
    i = 0
    while i < len(nonempty):
        # whole documents, about `chunk` shingles (one document may be longer)
        lo = offsets[nonempty[i]]
        j = int(np.searchsorted(offsets[nonempty + 1], lo + chunk, side="right"))
        j = max(j, i + 1)
        docs = nonempty[i:j]
        hi = offsets[docs[-1] + 1]
        block = (
            buf[:, : hi - lo] if hi - lo <= chunk else np.empty((perms.num_perm, hi - lo), a.dtype)
        )
        np.multiply(a, x[None, lo:hi], out=block)
        block += b
        if perms.scheme == "legacy":
            block %= U64((1 << 61) - 1)
            block &= U64(0xFFFFFFFF)
        sig[docs] = np.minimum.reduceat(block, offsets[docs] - lo, axis=1).T
        i = j
    return sig


def estimated_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> np.ndarray:
    """Row-wise fraction of equal signature values."""
    return np.count_nonzero(sig_a == sig_b, axis=1) / sig_a.shape[1]


def signature_table(meta: pd.DataFrame, sig: np.ndarray) -> pa.Table:
    """Signature rows as Arrow: the meta columns plus ``signature`` (fixed-size uint32 list)."""
    table = pa.Table.from_pandas(meta.reset_index(drop=True), preserve_index=False)
    flat = pa.array(np.ascontiguousarray(sig, dtype=np.uint32).reshape(-1), type=pa.uint32())
    table = table.append_column(
        "signature", pa.FixedSizeListArray.from_arrays(flat, sig.shape[1] if sig.ndim == 2 else 0)
    )
    return table.replace_schema_metadata(None)


def read_signatures(path: str, num_perm: int) -> np.ndarray:
    """The signature matrix (rows x num_perm, uint32) of one signature file."""
    column = pq.read_table(path, columns=["signature"]).column("signature")
    if len(column) == 0:
        return np.zeros((0, num_perm), dtype=np.uint32)
    flat = column.combine_chunks().flatten().to_numpy()
    return flat.reshape(-1, num_perm)


SIGNATURE_BATCH = 4096  # signature rows read at a time


def iter_signatures(path: str, num_perm: int) -> Iterator[np.ndarray]:
    """The signature matrix of one signature file, SIGNATURE_BATCH rows at a time (in
    file order), so a job never holds a whole shard's."""
    source = pq.ParquetFile(path)
    for batch in source.iter_batches(
        batch_size=SIGNATURE_BATCH, columns=["signature"], use_threads=False
    ):
        flat = batch.column(0).flatten().to_numpy()
        yield flat.astype(np.uint32, copy=False).reshape(-1, num_perm)


def signature_rows(path: str, num_perm: int, rows: np.ndarray) -> np.ndarray:
    """The given rows (ascending positions) of one file's signature matrix, read a
    batch at a time."""
    rows = np.asarray(rows, dtype=np.int64)
    out = np.zeros((len(rows), num_perm), dtype=np.uint32)
    start = 0
    for sig in iter_signatures(path, num_perm):
        lo, hi = np.searchsorted(rows, [start, start + len(sig)])
        out[lo:hi] = sig[rows[lo:hi] - start]
        start += len(sig)
    if len(rows) and rows[-1] >= start:
        raise ValueError(f"{path}: row {rows[-1]} asked of {start} signatures")
    return out


def band_hashes(sig: np.ndarray, band: int, rows: int) -> np.ndarray:
    """One 64-bit hash per document of its ``rows`` signature values in ``band``."""
    block = sig[:, band * rows : (band + 1) * rows].astype(np.uint64)
    h = np.full(len(sig), U64(((band + 1) * int(K_BAND)) & M64), dtype=np.uint64)
    for j in range(rows):
        h ^= block[:, j]
        h *= C1
        h ^= h >> U64(29)
    return fmix64(h)


def bucket_pairs(h: np.ndarray, max_bucket_pairs: int) -> np.ndarray:
    """Candidate pairs among documents with equal hash, as uint64 ``lo << 32 | hi``.

    Buckets of up to ``max_bucket_pairs`` documents give all their pairs; larger
    ones link every member to the first (smallest index) and to its neighbour.
    """
    n = len(h)
    if n < 2:
        return np.zeros(0, dtype=np.uint64)
    order = np.argsort(h, kind="stable")
    hs = h[order]
    first = np.ones(n, dtype=bool)
    first[1:] = hs[1:] != hs[:-1]
    starts = np.flatnonzero(first)
    sizes = np.diff(np.append(starts, n))
    parts_a, parts_b = [], []
    small = (sizes >= 2) & (sizes <= max_bucket_pairs)
    for size in np.unique(sizes[small]):
        members = order[starts[sizes == size][:, None] + np.arange(size)]
        iu, ju = np.triu_indices(size, 1)
        parts_a.append(members[:, iu].ravel())
        parts_b.append(members[:, ju].ravel())
    big = sizes > max_bucket_pairs
    for start, size in zip(starts[big], sizes[big], strict=True):
        members = order[start : start + size]
        parts_a += [np.full(size - 1, members[0]), members[1:-1]]
        parts_b += [members[1:], members[2:]]
    if not parts_a:
        return np.zeros(0, dtype=np.uint64)
    a = np.concatenate(parts_a).astype(np.uint64)
    b = np.concatenate(parts_b).astype(np.uint64)
    return np.minimum(a, b) << U64(32) | np.maximum(a, b)


def band_candidates(
    sigs: Iterable[np.ndarray], bands: Sequence[int], cfg: dict[str, Any]
) -> tuple[np.ndarray, int]:
    """Distinct candidate pairs (global row indices) from some bands over all shards.

    ``sigs``: the signature matrix of each shard in order; a document's global
    index is its row in their concatenation. Only the band hashes are kept in
    memory (8 bytes per document and band).
    """
    rows = int(cfg["rows"])
    hashes: list[list[np.ndarray]] = [[] for _ in bands]
    total = 0
    for sig in sigs:
        total += len(sig)
        for k, band in enumerate(bands):
            hashes[k].append(band_hashes(sig, band, rows))
    pairs = [
        bucket_pairs(np.concatenate(hs) if hs else np.zeros(0, np.uint64), cfg["max_bucket_pairs"])
        for hs in hashes
    ]
    if total >= 1 << 32:
        raise ValueError("more than 2^32 documents: widen the pair encoding")
    return (np.unique(np.concatenate(pairs)) if pairs else np.zeros(0, np.uint64)), total
