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

import json
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..io import read_parquet, write_json, write_parquet, write_table
from ..stage import DocStage, Verdict
from .hashing import U64
from .index import SEEN, find_documents, open_segments, publish
from .minhash import read_signatures, signature_table
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
    rule index_update (:meth:`write_outputs`)."""

    name = STAGE

    def prepare(self) -> None:
        self.segments = open_segments(self.cfg["read"])
        self.keys: list[pd.DataFrame] = []
        self.signed: list[pd.DataFrame] = []
        self.signatures: list[np.ndarray] = []

    def judge(self, docs: pd.DataFrame) -> Verdict:
        docs = docs.sort_values("id", kind="stable")
        labels = docs.index
        frame = docs.reset_index(drop=True)
        keys, meta, sig = shard_keys(frame, self.cfg)
        self.keys.append(keys)
        self.signed.append(meta)
        self.signatures.append(sig)
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
        keys = pd.concat(self.keys, ignore_index=True) if len(self.keys) > 1 else self.keys[0]
        meta = pd.concat(self.signed, ignore_index=True) if len(self.signed) > 1 else self.signed[0]
        write_table(signature_table(meta, np.concatenate(self.signatures)), output.signatures)
        write_parquet(keys, output.hashes)


def update_job(
    final_docs: Sequence[PathLike],
    key_files: Sequence[PathLike],
    signature_files: Sequence[PathLike],
    cfg: Mapping[str, Any],
    out_published: PathLike,
) -> dict:
    """Publish the documents of the final corpus (their keys from the check step) and
    the line hashes of their texts as the index's next version."""
    from ..paragraphs import shard_line_hashes

    ids, exact, sigs, signed, lines = [], [], [], [], []
    n = 0
    for docs_path, key_path, sig_path in zip(final_docs, key_files, signature_files, strict=True):
        docs = read_parquet(docs_path)
        final = set(docs["id"].astype(str))
        keys = read_parquet(key_path)
        keys = keys[keys["id"].astype(str).isin(final) & ~keys["short"].to_numpy(bool)]
        meta = read_parquet(sig_path, columns=["id"])
        sig = read_signatures(sig_path, int(cfg["params"]["num_perm"]))
        pos = pd.Series(np.arange(len(meta)), index=meta["id"].astype(str).to_numpy())
        keys = keys.reset_index(drop=True)
        has_sig = keys["id"].astype(str).isin(pos.index).to_numpy()
        ids += keys["id"].astype(str).tolist()
        exact.append(keys["exact_hash"].to_numpy(U64))
        sigs.append(sig[pos.loc[keys.loc[has_sig, "id"].astype(str)].to_numpy(np.int64)])
        signed.append(np.flatnonzero(has_sig) + n)
        n += len(keys)
        lines.append(np.unique(shard_line_hashes(docs, cfg["line_origins"])))
    num_perm = int(cfg["params"]["num_perm"])
    result = publish(
        cfg["update"]["path"],
        cfg["update"]["build"],
        cfg["params"],
        ids,
        np.concatenate(exact) if exact else np.zeros(0, U64),
        np.concatenate(sigs) if sigs else np.zeros((0, num_perm), np.uint32),
        np.concatenate(signed) if signed else np.zeros(0, np.int64),
        np.concatenate(lines) if lines else np.zeros(0, U64),
        {"config_hash": cfg["config_hash"], "checked_against": cfg["update"]["checked_against"]},
    )
    write_json(result, out_published)
    log.info("index: published %s", result)
    return result


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
        )
