"""The jobs of the stage's rules (rules/dedup.smk), from files to files.

fingerprint (per shard) -> exact (gather) -> signatures (per shard)
-> bands (per band group) -> clusters (gather) -> dedup (filter, per shard: the
protocol stage ``steps.DedupStage``, run by scripts/doc_stage.py)

Each job gets the settings its rule passes as params (``step_settings``); each
rule's script (scripts/<rule>.py) calls its one function here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..io import ParquetSink, iter_parquet_frames, read_parquet, write_json, write_parquet
from ..stats.merge import merge_stats
from .clusters import decisions, near_clusters
from .config import bands_of_group, candidate_probability
from .minhash import (
    Permutations,
    band_candidates,
    iter_signatures,
    signature_rows,
    signature_table,
)
from .steps import concat_fingerprints, exact_duplicates, fingerprint, read_hashes, signatures

log = logging.getLogger("corpusforge.dedup")
PathLike = str | os.PathLike[str]
META_COLUMNS = ["id", "length", "perplexity"]  # of a signature file, besides the signatures


def step_settings(params: Mapping[str, Any]) -> dict[str, Any]:
    """A step's settings from its rule's params: the ``tokens`` and ``minhash`` groups
    are flattened into the others."""
    cfg: dict[str, Any] = {}
    for key, value in dict(params).items():
        if key in ("tokens", "minhash"):
            cfg.update(value)
        else:
            cfg[key] = value
    return cfg


def fingerprint_shard(
    docs: PathLike,
    cfg: Mapping[str, Any],
    out_fingerprints: PathLike,
    out_paragraphs: PathLike,
    batch_rows: int | None = None,
) -> None:
    """Fingerprints and paragraph hashes of one shard, ``batch_rows`` documents at a
    time (None: the shard at once); the rows are the same either way, each
    paragraph's ``doc`` its document's row in the shard."""
    docs_seen = short = para_rows = 0
    with ParquetSink(out_fingerprints) as fps, ParquetSink(out_paragraphs) as paras:
        for frame in iter_parquet_frames(docs, batch_rows):
            fp, para = fingerprint(frame, cfg)
            fps.add(fp)
            paras.add(para.assign(doc=para["doc"] + docs_seen))
            docs_seen += len(fp)
            short += int(fp["short"].sum())
            para_rows += len(para)
    log.info("%d documents, %d short, %d paragraph hashes", docs_seen, short, para_rows)


def exact_step(
    fingerprints: Iterable[PathLike],
    paragraphs: Iterable[PathLike],
    cfg: Mapping[str, Any],
    out_exact: PathLike,
    out_boilerplate: PathLike,
    out_stats: PathLike,
) -> dict[str, Any]:
    columns = ["id", "exact_hash", "length", "perplexity", "short"]
    fp, para = concat_fingerprints(
        (read_parquet(fp_path, columns=columns), read_parquet(para_path))
        for fp_path, para_path in zip(fingerprints, paragraphs, strict=True)
    )
    removed, boiler, stats = exact_duplicates(fp, para, cfg)
    write_parquet(removed, out_exact)
    write_parquet(pd.DataFrame({"hash": boiler}), out_boilerplate)
    write_json(stats, out_stats)
    log.info("exact: %s", stats)
    return stats


def signature_shard(
    docs: PathLike,
    exact: PathLike,
    boilerplate: PathLike,
    cfg: Mapping[str, Any],
    out_signatures: PathLike,
    batch_rows: int | None = None,
) -> None:
    """MinHash signatures of one shard, ``batch_rows`` documents at a time (None: the
    shard at once); the rows are the same either way."""
    removed = frozenset(read_parquet(exact, columns=["id"])["id"])
    boiler = read_hashes(boilerplate)
    perms = Permutations(cfg["num_perm"], cfg["seed"], cfg["scheme"])
    per_batch = []
    with ParquetSink(out_signatures) as out:
        for frame in iter_parquet_frames(docs, batch_rows):
            meta, sig, stats = signatures(frame, removed, boiler, cfg, perms)
            out.add(signature_table(meta, sig))
            per_batch.append(stats)
    log.info("signatures: %s", merge_stats(per_batch))


def band_step(
    group: str, signature_files: Iterable[PathLike], cfg: Mapping[str, Any], out_pairs: PathLike
) -> None:
    band_list = bands_of_group(cfg, group)
    sigs = (sig for p in signature_files for sig in iter_signatures(p, cfg["num_perm"]))
    pairs, total = band_candidates(sigs, band_list, cfg)
    write_parquet(pd.DataFrame({"pair": pairs}), out_pairs)
    log.info("group %s bands %s: %d documents, %d pairs", group, band_list, total, len(pairs))


def cluster_step(
    pair_files: Iterable[PathLike],
    signature_files: Iterable[PathLike],
    exact: PathLike,
    cfg: Mapping[str, Any],
    out_removed: PathLike,
    out_stats: PathLike,
) -> dict[str, Any]:
    pairs = np.concatenate(
        [pq.read_table(p).column("pair").to_numpy() for p in pair_files] or [np.zeros(0)]
    ).astype(np.uint64)
    paths = [str(p) for p in signature_files]

    def load_rows(s: int, rows: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        # the meta columns stay in Arrow until the candidate rows are taken
        meta = pq.read_table(paths[s], columns=META_COLUMNS, use_threads=False)
        taken = meta.take(pa.array(rows)).to_pandas()
        return taken, signature_rows(paths[s], cfg["num_perm"], rows)

    sizes = [pq.ParquetFile(p).metadata.num_rows for p in paths]
    near, stats = near_clusters(pairs, sizes, load_rows, cfg)
    exact_removed = read_parquet(exact)
    table = decisions(exact_removed, near)
    write_parquet(table, out_removed)
    stats = {
        "threshold": cfg["threshold"],
        "bands": cfg["bands"],
        "rows": cfg["rows"],
        "verify": cfg["verify"],
        "verify_threshold": cfg["verify_threshold"],
        "candidate_probability_at_threshold": round(
            candidate_probability(cfg["threshold"], cfg["bands"], cfg["rows"]), 4
        ),
        **stats,
        "exact_removed": len(exact_removed),
        "removed": len(table),
    }
    write_json(stats, out_stats)
    log.info("clusters: %s", stats)
    return stats
