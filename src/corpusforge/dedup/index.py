"""A deduplication index that outlives the build: builds made dump by dump check their
documents and lines against the builds before them, then join the index.

Folder layout (``dedup.index.path``)::

    CURRENT                  the published version's name, e.g. "v0002" (replaced atomically)
    v0001.json, v0002.json   version manifests: parameters, parent, the build that joined,
                             and every segment (one per build) with its counts
    segments/<name>/         one build's kept documents and lines, never changed once written:
        exact/PP.key.npy     exact-text hashes (uint64, sorted) of partition PP (top 4 bits)
        exact/PP.ref.npy     the document (row of docs.parquet) of each hash (uint32)
        bands/BB.key.npy     MinHash band keys of band BB (the band hash's top 32 bits, sorted)
        bands/BB.ref.npy     the document of each key (uint32)
        lines/PP.npy         CC-NET line hashes (uint64, sorted) of partition PP
        signatures.npy       per document, the low 16 bits of each MinHash value (verification)
        docs.parquet         per document: ``id`` (what a rejection names)

A check is a merge of sorted arrays: the shard's keys are sorted and looked up with a
binary search in each memory-mapped partition file, so a job holds its own shard and
the pages it touches, never the whole index. Candidates from the bands are verified as
within the build (:func:`corpusforge.dedup.estimated_jaccard` against
``verify_threshold``), on the stored 16-bit signature values (two different 32-bit
values agree in their low 16 bits with chance 1/65536, which moves an estimate by
less than 0.0001).

Publishing (``update: true``) writes the build's segment into a temporary folder, then,
holding the index's lock (``LOCK``, a POSIX record lock: the system releases it when
its holder exits or is killed, and it holds across NFS clients), renames the folder
into ``segments/``, writes the next version's manifest and replaces ``CURRENT``. Two
builds publishing at once therefore take turns, and each version's parent is the one
published before it. A build killed at any point leaves the previous version published
and whole; what it left behind (a ``.tmp-*`` folder, an unreferenced manifest) is
never read. A build that another build's version overtook while it ran was checked
against the older one: its manifest entry names the version it was ``checked_against``.

A build is checked against the version before it first joined (:func:`base_version`):
rerunning a build that has joined does not find its own documents. Parameters that
shape the keys (:func:`key_params`) must equal the index's; :func:`resolve` checks
them while the workflow is parsed.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..atomic import atomic_output
from .hashing import U64
from .minhash import band_hashes, estimated_jaccard

log = logging.getLogger("corpusforge.dedup.index")

FORMAT = 1
PARTITION_BITS = 4  # 16 hash-range partitions for exact and line hashes
SEEN = "seen_in_index"
# What the key hashes depend on beside the config values (a change in the code's
# normalization would bump these).
NORMALIZATION = "nfkc-lower-alnum-tokens/1"
LINE_NORMALIZATION = "ccnet-line/1"
KEY_FIELDS = (
    "word_ngram",
    "char_ngram",
    "char_langs",
    "min_tokens",
    "num_perm",
    "seed",
    "scheme",
    "bands",
    "rows",
)
PathLike = str | os.PathLike[str]
_VERSION = re.compile(r"^v\d{4,}$")


class DedupIndexError(ValueError):
    """A dedup index that cannot be used: missing, damaged, or made with other parameters."""


def key_params(dedup: Mapping[str, Any]) -> dict[str, Any]:
    """The resolved ``dedup`` settings the index's keys depend on."""
    out = {k: dedup[k] for k in KEY_FIELDS}
    out["char_langs"] = sorted(out["char_langs"])
    out["normalization"] = NORMALIZATION
    out["line_normalization"] = LINE_NORMALIZATION
    return out


def _partition(keys: np.ndarray) -> np.ndarray:
    return (np.asarray(keys, dtype=U64) >> U64(64 - PARTITION_BITS)).astype(np.int64)


def _band_keys(sig: np.ndarray, band: int, rows: int) -> np.ndarray:
    return (band_hashes(sig, band, rows) >> U64(32)).astype(np.uint32)


# ---------------------------------------------------------------- versions


def current_version(path: PathLike) -> str | None:
    """The published version of the index at ``path`` (None: no index there yet)."""
    pointer = Path(path) / "CURRENT"
    if not pointer.exists():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    if not _VERSION.match(name) or not (Path(path) / f"{name}.json").exists():
        raise DedupIndexError(f"{pointer}: names {name!r}, which is not a version of this index")
    return name


def read_manifest(path: PathLike, version: str | None) -> dict[str, Any]:
    """A version's manifest; the empty index (no segments) when ``version`` is None."""
    if version is None:
        return {"format": FORMAT, "version": None, "parent": None, "segments": []}
    manifest = json.loads((Path(path) / f"{version}.json").read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise DedupIndexError(f"{path}/{version}.json: index format {manifest.get('format')}")
    return manifest


def base_version(path: PathLike, build: str) -> str | None:
    """The version a build is checked against: the published one, or, when the build
    has joined already, the one before it first did (so a rerun does not find itself)."""
    version = current_version(path)
    chain = []
    while version is not None:
        manifest = read_manifest(path, version)
        chain.append(manifest)
        version = manifest.get("parent")
    for manifest in reversed(chain):  # oldest first
        if manifest.get("joined") == build:
            return manifest.get("parent")
    return chain[0]["version"] if chain else None


def check_params(path: PathLike, version: str | None, params: Mapping[str, Any], key: str) -> None:
    """Raise naming the first parameter that differs from the index's."""
    if version is None:
        return
    indexed = read_manifest(path, version).get("params", {})
    for name in sorted(set(indexed) | set(params)):
        if indexed.get(name) != params.get(name):
            raise DedupIndexError(
                f"{key}: the index {path} ({version}) was made with dedup.{name} = "
                f"{indexed.get(name)!r}, this build has dedup.{name} = {params.get(name)!r}; "
                "build with the index's value or name another index folder"
            )


def resolve(
    index_cfg: Mapping[str, Any] | None, dedup: Mapping[str, Any], build: str
) -> dict[str, Any]:
    """What the workflow's rules get, from ``dedup.index`` (parsed once, at parse time).

    Returns ``{"read": [{path, version}, ...], "update": {path, build, checked_against}
    | None, "params": key params}``; ``read`` is empty without an index (or with an
    empty one); ``checked_against`` is the version of the updated index read.
    Raises :class:`DedupIndexError` for a read-only index that is missing and for
    parameters that differ.
    """
    out: dict[str, Any] = {"read": [], "update": None, "params": key_params(dedup)}
    if not index_cfg:
        return out
    params = out["params"]
    if index_cfg.get("path"):
        path = str(index_cfg["path"])
        version = base_version(path, build)
        check_params(path, version, params, "dedup.index.path")
        if version is not None:
            out["read"].append({"path": path, "version": version})
        if index_cfg.get("update", True):
            out["update"] = {"path": path, "build": build, "checked_against": version}
    for i, path in enumerate(index_cfg.get("check") or []):
        path = str(path)
        version = current_version(path)
        if version is None:
            raise DedupIndexError(
                f"dedup.index.check[{i}]: {path} holds no index (no CURRENT file)"
            )
        check_params(path, version, params, f"dedup.index.check[{i}]")
        out["read"].append({"path": path, "version": version})
    return out


# ---------------------------------------------------------------- reading


class Segment:
    """One build's part of an index version, memory-mapped."""

    def __init__(self, root: Path, entry: Mapping[str, Any], index_path: str):
        self.dir = root / "segments" / entry["name"]
        self.build = entry["build"]
        self.index_path = index_path
        self.documents = int(entry["documents"])
        self.bands = int(entry["bands"])

    def _load(self, name: str) -> np.ndarray:
        return np.load(self.dir / name, mmap_mode="r", allow_pickle=False)

    def exact(self, part: int) -> tuple[np.ndarray, np.ndarray]:
        return self._load(f"exact/{part:02d}.key.npy"), self._load(f"exact/{part:02d}.ref.npy")

    def band(self, band: int) -> tuple[np.ndarray, np.ndarray]:
        return self._load(f"bands/{band:02d}.key.npy"), self._load(f"bands/{band:02d}.ref.npy")

    def lines(self, part: int) -> np.ndarray:
        return self._load(f"lines/{part:02d}.npy")

    def signatures(self, refs: np.ndarray) -> np.ndarray:
        return np.asarray(self._load("signatures.npy")[np.asarray(refs, dtype=np.int64)])

    def ids(self, refs: np.ndarray) -> list[str]:
        table = pq.read_table(self.dir / "docs.parquet", columns=["id"], memory_map=True)
        return table.column("id").take(pa.array(np.asarray(refs, dtype=np.int64))).to_pylist()


def open_segments(read: Sequence[Mapping[str, Any]]) -> list[Segment]:
    """The segments of every index version named in ``read`` ({path, version})."""
    segments = []
    for entry in read:
        root = Path(entry["path"])
        manifest = read_manifest(root, entry["version"])
        segments += [Segment(root, seg, str(entry["path"])) for seg in manifest["segments"]]
    return segments


def _lookup(
    index_keys: np.ndarray, queries: np.ndarray, limit: int
) -> tuple[np.ndarray, np.ndarray]:
    """(query position, index position) of every match of the queries in sorted
    ``index_keys``, at most ``limit`` per query."""
    if len(index_keys) == 0 or len(queries) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = np.argsort(queries, kind="stable")
    q = queries[order]
    lo = np.searchsorted(index_keys, q, side="left")
    hi = np.searchsorted(index_keys, q, side="right")
    n = np.minimum(hi - lo, limit)
    hit = np.flatnonzero(n > 0)
    if len(hit) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    reps = n[hit]
    qpos = np.repeat(order[hit], reps)
    within = np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)
    return qpos.astype(np.int64), (np.repeat(lo[hit], reps) + within).astype(np.int64)


def _by_partition(keys: np.ndarray) -> Iterable[tuple[int, np.ndarray]]:
    parts = _partition(keys)
    for p in np.unique(parts):
        yield int(p), np.flatnonzero(parts == p)


def find_documents(
    exact: np.ndarray,
    checked: np.ndarray,
    sig: np.ndarray,
    signed: np.ndarray,
    segments: Sequence[Segment],
    cfg: Mapping[str, Any],
) -> pd.DataFrame:
    """The index match of each document that has one.

    ``exact``: the documents' exact hashes; ``checked``: which take part (not short);
    ``sig``: MinHash signatures of the rows ``signed`` (their row numbers). An exact
    match wins over a near one; among near ones, the highest estimated Jaccard, then
    the earlier segment and document. Returns rows ``row``, ``match`` (exact or near),
    ``build``, ``matched_id``, ``jaccard`` and ``index``.
    """
    n = len(exact)
    best_seg = np.full(n, -1, dtype=np.int64)
    best_ref = np.zeros(n, dtype=np.int64)
    best_j = np.full(n, -1.0)
    kind = np.zeros(n, dtype=np.int8)  # 2 exact, 1 near
    rows_checked = np.flatnonzero(checked)
    limit = int(cfg.get("max_matches", 16))
    for s, seg in enumerate(segments):
        for part, at in _by_partition(exact[rows_checked]):
            keys, refs = seg.exact(part)
            q, pos = _lookup(keys, exact[rows_checked[at]], 1)
            rows = rows_checked[at[q]]
            new = kind[rows] < 2
            best_seg[rows[new]] = s
            best_ref[rows[new]] = np.asarray(refs[pos[new]], dtype=np.int64)
            best_j[rows[new]] = 1.0
            kind[rows[new]] = 2
    signed = np.asarray(signed, dtype=np.int64)
    if cfg["near"] and len(signed):
        sig16 = (np.asarray(sig) & np.uint32(0xFFFF)).astype(np.uint16)
        threshold = float(cfg["verify_threshold"]) if cfg["verify"] else -1.0
        for s, seg in enumerate(segments):
            cand_q, cand_r = [], []
            for band in range(int(cfg["bands"])):
                keys, refs = seg.band(band)
                q, pos = _lookup(keys, _band_keys(sig, band, int(cfg["rows"])), limit)
                cand_q.append(q)
                cand_r.append(np.asarray(refs[pos], dtype=np.int64))
            if not cand_q:
                continue
            pairs = np.unique(
                np.stack([np.concatenate(cand_q), np.concatenate(cand_r)], axis=1), axis=0
            )
            if len(pairs) == 0:
                continue
            est = np.zeros(len(pairs))
            step = 1 << 15
            for i in range(0, len(pairs), step):
                chunk = pairs[i : i + step]
                est[i : i + step] = estimated_jaccard(
                    sig16[chunk[:, 0]], seg.signatures(chunk[:, 1])
                )
            ok = est >= threshold
            for (q, ref), j in zip(pairs[ok], est[ok], strict=True):
                row = signed[q]
                if kind[row] == 2 or j <= best_j[row]:
                    continue
                best_seg[row], best_ref[row], best_j[row], kind[row] = s, ref, j, 1
    rows = np.flatnonzero(kind > 0)
    ids: list[str] = [""] * len(rows)
    for s, seg in enumerate(segments):
        mine = np.flatnonzero(best_seg[rows] == s)
        if len(mine):
            for k, value in zip(mine, seg.ids(best_ref[rows[mine]]), strict=True):
                ids[k] = value
    return pd.DataFrame(
        {
            "row": rows,
            "match": np.where(kind[rows] == 2, "exact", "near"),
            "build": [segments[s].build for s in best_seg[rows]],
            "matched_id": ids,
            "jaccard": np.round(best_j[rows], 4),
            "index": [segments[s].index_path for s in best_seg[rows]],
        }
    )


def lines_in_index(hashes: np.ndarray, segments: Sequence[Segment]) -> np.ndarray:
    """The sorted distinct line hashes among ``hashes`` that some segment holds."""
    hashes = np.unique(np.asarray(hashes, dtype=U64))
    hashes = hashes[hashes != 0]
    found = np.zeros(len(hashes), dtype=bool)
    for seg in segments:
        for part, at in _by_partition(hashes):
            q, _ = _lookup(seg.lines(part), hashes[at], 1)
            found[at[q]] = True
    return hashes[found]


# ---------------------------------------------------------------- writing


def _save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        np.save(handle, np.ascontiguousarray(array), allow_pickle=False)


class SegmentWriter:
    """A segment's files written from batches of documents, with memory bounded by
    the batch and the largest partition: each batch's keys are appended to spill files
    (per hash-range partition, per band), which :meth:`close` sorts one at a time
    into the segment's files; the ids and 16-bit signature values are written as they
    come. Documents are numbered (their ``ref``) in the order they are added."""

    def __init__(self, folder: Path, num_perm: int, bands: int, rows: int):
        self.folder, self.num_perm, self.bands, self.rows = Path(folder), num_perm, bands, rows
        self.spill = self.folder / ".spill"
        self.spill.mkdir(parents=True, exist_ok=True)
        self.n = self.signed = 0
        self.ids = pq.ParquetWriter(
            self.folder / "docs.parquet", pa.schema([("id", pa.string())]), compression="zstd"
        )

    def _append(self, name: str, array: np.ndarray) -> None:
        with open(self.spill / name, "ab") as handle:
            handle.write(np.ascontiguousarray(array).tobytes())

    def _read(self, name: str, dtype: Any) -> np.ndarray:
        path = self.spill / name
        return np.fromfile(path, dtype=dtype) if path.exists() else np.zeros(0, dtype)

    def add(
        self,
        ids: Sequence[str],
        exact: np.ndarray,
        sig: np.ndarray,
        signed: np.ndarray,
        line_hashes: np.ndarray,
    ) -> None:
        """A batch: documents ``ids`` with their exact hashes, the signatures of the
        batch's rows ``signed``, and line hashes (any order, repeats allowed)."""
        n = len(ids)
        if self.n + n >= 1 << 32:
            raise ValueError("a segment holds fewer than 2^32 documents")
        exact = np.asarray(exact, dtype=U64)
        refs = np.arange(self.n, self.n + n, dtype=np.uint32)
        parts = _partition(exact)
        for p in np.unique(parts):
            sel = np.flatnonzero(parts == p)
            self._append(f"exact-{p:02d}.key", exact[sel])
            self._append(f"exact-{p:02d}.ref", refs[sel])
        signed = np.asarray(signed, dtype=np.int64)
        if len(signed):
            for band in range(self.bands):
                self._append(f"band-{band:02d}.key", _band_keys(sig, band, self.rows))
                self._append(f"band-{band:02d}.ref", refs[signed])
        sig16 = np.zeros((n, self.num_perm), dtype=np.uint16)
        if len(signed):
            sig16[signed] = (np.asarray(sig) & np.uint32(0xFFFF)).astype(np.uint16)
        self._append("signatures", sig16)
        lines = np.unique(np.asarray(line_hashes, dtype=U64))
        lines = lines[lines != 0]
        lparts = _partition(lines)
        for p in np.unique(lparts):
            self._append(f"lines-{p:02d}", lines[lparts == p])
        self.ids.write_table(pa.table({"id": pa.array([str(x) for x in ids], pa.string())}))
        self.n += n
        self.signed += len(signed)

    def _sort_keys(self, spilled: str, dtype: Any, name: str) -> None:
        """The spilled keys ``spilled.key`` and their documents ``spilled.ref``, sorted
        by key (ties in document order), as ``name.key.npy`` and ``name.ref.npy``."""
        keys = self._read(f"{spilled}.key", dtype)
        order = np.argsort(keys, kind="stable")
        _save(self.folder / f"{name}.key.npy", keys[order])
        _save(self.folder / f"{name}.ref.npy", self._read(f"{spilled}.ref", np.uint32)[order])

    def _write_signatures(self) -> None:
        """signatures.npy from the spilled rows, a block at a time."""
        path, shape = self.folder / "signatures.npy", (self.n, self.num_perm)
        if not self.n or not self.num_perm:
            _save(path, np.zeros(shape, dtype=np.uint16))
            return
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint16, shape=shape)
        step = 1 << 16
        with open(self.spill / "signatures", "rb") as raw:
            for lo in range(0, self.n, step):
                rows = min(step, self.n - lo)
                block = np.frombuffer(raw.read(rows * self.num_perm * 2), dtype=np.uint16)
                out[lo : lo + rows] = block.reshape(rows, self.num_perm)
        out.flush()
        del out

    def close(self) -> dict[str, int]:
        """Sort the spilled keys into the segment's files; the segment's counts."""
        self.ids.close()
        for p in range(1 << PARTITION_BITS):
            self._sort_keys(f"exact-{p:02d}", U64, f"exact/{p:02d}")
        for band in range(self.bands):
            self._sort_keys(f"band-{band:02d}", np.uint32, f"bands/{band:02d}")
        self._write_signatures()
        n_lines = 0
        for p in range(1 << PARTITION_BITS):
            lines = np.unique(self._read(f"lines-{p:02d}", U64))
            _save(self.folder / f"lines/{p:02d}.npy", lines)
            n_lines += len(lines)
        shutil.rmtree(self.spill)
        return {"documents": self.n, "signed": self.signed, "lines": n_lines}


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:80]


def _replace_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, synced to disk before the rename (the
    index's version file: other builds read it)."""
    with atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def publish(
    path: PathLike,
    build: str,
    params: Mapping[str, Any],
    ids: Sequence[str],
    exact: np.ndarray,
    sig: np.ndarray,
    signed: np.ndarray,
    line_hashes: np.ndarray,
    info: Mapping[str, Any],
) -> dict[str, Any]:
    """:func:`publish_segment` of one batch: documents ``ids`` with their exact
    hashes, the signatures of rows ``signed``, and line hashes."""
    return publish_segment(
        path, build, params, lambda seg: seg.add(ids, exact, sig, signed, line_hashes), info
    )


def publish_segment(
    path: PathLike,
    build: str,
    params: Mapping[str, Any],
    fill: Callable[[SegmentWriter], None],
    info: Mapping[str, Any],
) -> dict[str, Any]:
    """Publish the next version of the index: the current one with this build's
    segment added (an earlier segment of the same build replaced). ``fill`` adds the
    build's documents to the segment, batch by batch. Atomic: the segment is written
    into a temporary folder, then, holding the lock, the folder is renamed into
    place, the manifest written and ``CURRENT`` replaced."""
    root = Path(path)
    (root / "segments").mkdir(parents=True, exist_ok=True)
    check_params(root, current_version(root), params, "dedup.index.path")
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{_safe(build)}.", dir=root / "segments"))
    try:
        writer = SegmentWriter(
            tmp, int(params["num_perm"]), int(params["bands"]), int(params["rows"])
        )
        fill(writer)
        counts = writer.close()
        size = _folder_bytes(tmp)
        with publish_lock(root):
            current = current_version(root)
            check_params(root, current, params, "dedup.index.path")
            previous = read_manifest(root, current)
            number = 1 + max(
                [int(p.stem[1:]) for p in root.glob("v*.json") if _VERSION.match(p.stem)] or [0]
            )
            version = f"v{number:04d}"
            seg_name = f"{version}-{_safe(build)}"
            os.replace(tmp, root / "segments" / seg_name)
            entry = {
                "name": seg_name,
                "build": build,
                "bands": int(params["bands"]),
                "bytes": size,
                **counts,
                **dict(info),
                "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            kept = [s for s in previous["segments"] if s["build"] != build]
            manifest = {
                "format": FORMAT,
                "version": version,
                "parent": current,
                "joined": build,
                "params": dict(params),
                "segments": [*kept, entry],
            }
            text = json.dumps(manifest, indent=1, sort_keys=True) + "\n"
            _replace_text(root / f"{version}.json", text)
            _replace_text(root / "CURRENT", version + "\n")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # gone already once renamed
        raise
    return {"path": str(root), "version": version, "parent": current, "segment": entry}


@contextlib.contextmanager
def publish_lock(root: Path) -> Iterator[None]:
    """Hold the index's publish lock (``root/LOCK``), waiting for another holder (its
    host and process id are logged once)."""
    with open(root / "LOCK", "a+", encoding="utf-8") as handle:
        try:
            fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            log.info("index %s: waiting for the publish lock, held by %s", root, holder)
            fcntl.lockf(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{socket.gethostname()} pid {os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.lockf(handle, fcntl.LOCK_UN)


def config_hash(config: Mapping[str, Any]) -> str:
    """The sha256 of a config (keys sorted), as the index's manifest records it."""
    text = json.dumps(config, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def workflow_index(config: Mapping[str, Any], results: str) -> dict[str, Any]:
    """``resolve`` for the workflow (rules/common.smk): the dedup settings resolved, the
    build's name (``dedup.index.name``, else the results folder's name and a hash of its
    absolute path) and the config hash the manifest records."""
    from .config import settings

    index_cfg = (config.get("dedup") or {}).get("index")
    dedup = settings({k: v for k, v in config["dedup"].items() if k != "index"})
    where = Path(results).resolve()
    build = (index_cfg or {}).get("name") or (
        f"{where.name}-{hashlib.sha256(str(where).encode()).hexdigest()[:8]}"
    )
    out = resolve(index_cfg, dedup, build)
    out["build"] = build
    out["config_hash"] = config_hash(config)
    out["max_matches"] = int((index_cfg or {}).get("max_matches", 16))
    check = ("near", "verify", "verify_threshold")
    out["dedup"] = {k: dedup[k] for k in sorted({*KEY_FIELDS, *check})}
    return out
