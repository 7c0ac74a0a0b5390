"""The jobs of rules/index.smk: check one shard against the dedup index (document stage
``index``), and publish the build's kept documents and lines as the index's next version.

``index_check`` (per shard, after language ID, before paragraph dedup): each document's
exact hash and MinHash signature, computed as the dedup stage does
(:func:`corpusforge.dedup.fingerprint`, :func:`corpusforge.dedup.signatures`), looked up
in the index versions the build reads; a match is rejected ``seen_in_index`` with the
build and id of the document it matched. The keys are kept for the update. A protocol
stage (``IndexCheckStage``, corpusforge.stage) run by scripts/doc_stage.py.

``index_update`` (once, at the end): the keys of the documents in the final corpus and
the line hashes of their texts, published (:func:`corpusforge.dedup.index.publish`).
"""

from __future__ import annotations

import bisect
import json
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..io import (
    ParquetSink,
    iter_parquet_frames,
    open_parquet,
    read_parquet,
    write_json,
)
from ..paragraphs import shard_line_hashes
from ..stage import DocStage, Verdict
from .hashing import U64
from .index import SEEN, SegmentWriter, find_documents, open_segments, publish_segment
from .minhash import signature_table
from .steps import fingerprint, signatures

log = logging.getLogger("corpusforge.dedup.index")
STAGE = "index"
PathLike = str | os.PathLike[str]


def shard_keys(
    docs: pd.DataFrame, cfg: Mapping[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """(keys: ``id``, ``exact_hash``, ``short`` per document; meta of the signed
    documents; their signatures), as the dedup stage computes them."""
    cfg = {**cfg, "boilerplate": {"enabled": False}, "near": True}
    fp, _ = fingerprint(docs, cfg)
    meta, sig, _ = signatures(docs, [], np.zeros(0, dtype=U64), cfg)
    keys = fp[["id", "exact_hash", "short"]].copy()
    return keys, meta[["id"]].reset_index(drop=True), sig


class IndexCheckStage(DocStage):
    """Rule ``index_check``: reject the documents already in the index versions the
    build reads (``seen_in_index``, with the build and id of the document matched).

    ``cfg``: the dedup settings the index was built with, ``read`` (the index versions)
    and ``max_matches``. Beside the documents it writes the shard's keys (``hashes``:
    ``id``, ``exact_hash``, ``short``) and MinHash signatures (``signatures``), for
    rule index_update, a batch at a time (:meth:`open_outputs`; a stage never opened
    only checks)."""

    name = STAGE

    def prepare(self) -> None:
        self.segments = open_segments(self.cfg["read"])
        self.sinks: dict[str, ParquetSink] = {}

    def open_outputs(self, output: Any) -> None:
        self.sinks = {name: ParquetSink(getattr(output, name)) for name in ("hashes", "signatures")}

    def judge(self, docs: pd.DataFrame) -> Verdict:
        docs = docs.sort_values("id", kind="stable")
        labels = docs.index
        frame = docs.reset_index(drop=True)
        keys, meta, sig = shard_keys(frame, self.cfg)
        if self.sinks:
            self.sinks["hashes"].add(keys)
            self.sinks["signatures"].add(signature_table(meta, sig))
        row_of = pd.Series(np.arange(len(frame)), index=frame["id"].astype(str).to_numpy())
        signed = row_of.loc[meta["id"].astype(str)].to_numpy(np.int64)
        found = find_documents(
            keys["exact_hash"].to_numpy(U64),
            ~keys["short"].to_numpy(bool),
            sig,
            signed,
            self.segments,
            self.cfg,
        )
        seen = labels[found["row"].to_numpy(np.int64)]
        detail = [
            json.dumps(
                {
                    "build": r.build,
                    "matched_id": r.matched_id,
                    "match": r.match,
                    "jaccard": float(r.jaccard),
                    "index": r.index,
                },
                sort_keys=True,
                ensure_ascii=False,
            )
            for r in found.itertuples()
        ]
        by_build = found["build"].value_counts()
        by_match = found["match"].value_counts()
        return Verdict(
            keep=pd.Series(~labels.isin(seen), index=labels),
            reason=SEEN,
            detail=pd.Series(detail, index=seen, dtype=object),
            counters={
                "checked": int((~keys["short"]).sum()),
                "signed": len(meta),
                "indexed_segments": len(self.segments),
                "indexes": [dict(r) for r in self.cfg["read"]],
                "seen_by_build": {str(k): int(by_build[k]) for k in sorted(by_build.index)},
                "seen_by_match": {str(k): int(by_match[k]) for k in sorted(by_match.index)},
            },
        )

    def write_outputs(self, output: Any) -> None:
        for sink in self.sinks.values():
            sink.close()

    def close(self) -> None:
        for sink in self.sinks.values():
            sink.discard()


def update_job(
    final_docs: Sequence[PathLike],
    key_files: Sequence[PathLike],
    signature_files: Sequence[PathLike],
    cfg: Mapping[str, Any],
    out_published: PathLike,
    batch_rows: int = 2_000,
) -> dict:
    """Publish the documents of the final corpus (their keys from the check step) and
    the line hashes of their texts as the index's next version, ``batch_rows`` final
    documents at a time: the job holds a batch, a shard's keys (about 30 bytes a
    document) and the segment's largest spilled partition, never the build's keys."""
    num_perm = int(cfg["params"]["num_perm"])

    def fill(segment: SegmentWriter) -> None:
        for docs_path, key_path, sig_path in zip(
            final_docs, key_files, signature_files, strict=True
        ):
            keys = read_parquet(key_path)
            keys = keys[~keys["short"].to_numpy(bool)]
            keys = keys.set_index(keys["id"].astype(str))
            signatures = _SignatureRows(sig_path, num_perm)
            for docs in iter_parquet_frames(docs_path, batch_rows):
                # the batch's rows of the shard's keys, in the keys' order: a hash
                # lookup per document (not a pass over the shard's keys per batch)
                at = keys.index.get_indexer(docs["id"].astype(str))
                mine = keys.iloc[np.sort(at[at >= 0])]
                ids = mine.index.to_list()
                sig, signed = signatures.take(ids)
                segment.add(
                    ids,
                    mine["exact_hash"].to_numpy(U64),
                    sig,
                    signed,
                    shard_line_hashes(docs, cfg["line_origins"]),
                )

    result = publish_segment(
        cfg["update"]["path"],
        cfg["update"]["build"],
        cfg["params"],
        fill,
        {"config_hash": cfg["config_hash"], "checked_against": cfg["update"]["checked_against"]},
    )
    write_json(result, out_published)
    log.info("index: published %s", result)
    return result


class _SignatureRows:
    """The rows of a signature file (in id order) taken in id order, a Parquet
    batch at a time: the job holds the rows not yet taken of one batch."""

    def __init__(self, path: PathLike, num_perm: int):
        self.num_perm = num_perm
        self.batches = open_parquet(path).iter_batches(columns=["id", "signature"])
        self.ids: list[str] = []
        self.sig = np.zeros((0, num_perm), dtype=np.uint32)
        self.last: str | None = None

    def _more(self) -> bool:
        batch = next(self.batches, None)
        if batch is None:
            return False
        ids = batch.column("id").to_pylist()
        flat = batch.column("signature").flatten().to_numpy(zero_copy_only=False)
        self.ids += ids
        self.sig = np.concatenate([self.sig, flat.reshape(-1, self.num_perm).astype(np.uint32)])
        return True

    def take(self, wanted: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(signatures, positions in ``wanted``) of the ids in ``wanted`` (ascending,
        after every id taken before) that have a signature."""
        if wanted and self.last is not None and wanted[0] <= self.last:
            raise ValueError("index_update: the final documents are not in id order")
        if not wanted:
            return np.zeros((0, self.num_perm), dtype=np.uint32), np.zeros(0, np.int64)
        self.last = wanted[-1]
        while (not self.ids or self.ids[-1] < self.last) and self._more():
            pass
        upto = bisect.bisect_right(self.ids, self.last)
        here = pd.Series(np.arange(upto), index=self.ids[:upto])
        position = pd.Series(np.arange(len(wanted)), index=list(wanted))
        common = here.index.intersection(position.index, sort=False)
        rows = here.loc[common].to_numpy(np.int64)
        order = np.argsort(position.loc[common].to_numpy(np.int64), kind="stable")
        sig, signed = self.sig[rows[order]], position.loc[common].to_numpy(np.int64)[order]
        self.ids, self.sig = self.ids[upto:], self.sig[upto:]
        return sig, signed


def update_rule(smk: Any) -> None:
    """Rule index_update: publish the final corpus as the index's next version."""
    from ..runtime import logged

    with logged(smk.log[0] if smk.log else None):
        update_job(
            smk.input.docs,
            smk.input.hashes,
            smk.input.signatures,
            smk.params.settings,
            smk.output.published,
            smk.params.batch_rows,
        )
