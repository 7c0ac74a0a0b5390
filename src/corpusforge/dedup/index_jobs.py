"""The jobs of rules/index.smk: check one shard against the dedup index (document stage
``index``), and publish the build's kept documents and lines as the index's next version.

``index_check`` (per shard, after language ID, before paragraph dedup): each document's
exact hash and MinHash signature, computed as the dedup stage does
(:func:`corpusforge.dedup.fingerprint`, :func:`corpusforge.dedup.signatures`), looked up
in the index versions the build reads; a match is rejected ``seen_in_index`` with the
build and id of the document it matched. The keys are kept for the update.

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
from ..records import REJECT_SCHEMA, reject_records, stage_stats
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


def check_docs(
    docs: pd.DataFrame, cfg: Mapping[str, Any], read: Sequence[Mapping[str, Any]]
) -> tuple[pd.DataFrame, pd.DataFrame, dict, pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Kept documents, rejected rows, stats, and the shard's keys (for the update)."""
    docs = docs.sort_values("id", kind="stable").reset_index(drop=True)
    keys, meta, sig = shard_keys(docs, cfg)
    row_of = pd.Series(np.arange(len(docs)), index=docs["id"].astype(str).to_numpy())
    signed = row_of.loc[meta["id"].astype(str)].to_numpy(np.int64)
    segments = open_segments(read)
    found = find_documents(
        keys["exact_hash"].to_numpy(U64),
        ~keys["short"].to_numpy(bool),
        sig,
        signed,
        segments,
        cfg,
    )
    gone = np.zeros(len(docs), dtype=bool)
    gone[found["row"].to_numpy(np.int64)] = True
    rows = docs.iloc[found["row"].to_numpy(np.int64)]
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
    rejects = reject_records(rows, STAGE, SEEN, pd.Series(detail, index=rows.index, dtype=object))
    kept = docs[~gone].reset_index(drop=True)
    by_build = found["build"].value_counts()
    by_match = found["match"].value_counts()
    stats = stage_stats(
        STAGE,
        len(docs),
        len(kept),
        rejects,
        checked=int((~keys["short"]).sum()),
        signed=len(meta),
        indexed_segments=len(segments),
        indexes=[dict(r) for r in read],
        seen_by_build={str(k): int(by_build[k]) for k in sorted(by_build.index)},
        seen_by_match={str(k): int(by_match[k]) for k in sorted(by_match.index)},
    )
    return kept, rejects, stats, keys, meta, sig


def check_job(
    docs_path: PathLike,
    cfg: Mapping[str, Any],
    read: Sequence[Mapping[str, Any]],
    outputs: Any,
    shard: str,
) -> dict:
    kept, rejects, stats, keys, meta, sig = check_docs(read_parquet(docs_path), cfg, read)
    write_table(signature_table(meta, sig), outputs.signatures)
    write_parquet(keys, outputs.hashes)
    write_parquet(kept, outputs.docs)
    write_parquet(rejects, outputs.rejected, schema=REJECT_SCHEMA)
    stats = {**stats, "shard": shard}
    write_json(stats, outputs.stats)
    log.info("index: kept %d of %d; seen %s", stats["kept"], stats["in"], stats["seen_by_build"])
    return stats


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
        {"config_hash": cfg["config_hash"]},
    )
    write_json(result, out_published)
    log.info("index: published %s", result)
    return result


def check_rule(smk: Any) -> None:
    """Rule index_check: reject the shard's documents already in the index."""
    from ..runtime import logged

    with logged(smk.log[0] if smk.log else None):
        cfg = smk.params.settings
        check_job(smk.input.docs, cfg, cfg["read"], smk.output, smk.wildcards.shard)


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
