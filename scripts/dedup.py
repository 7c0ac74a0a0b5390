"""Snakemake adapter: the dedup steps (see corpusforge.dedup and rules/dedup.smk).

One script for the six rules; the rule's name picks the step.
"""

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from corpusforge import dedup as dd
from corpusforge.io import read_parquet, write_json, write_parquet, write_table
from corpusforge.records import REJECT_SCHEMA
from corpusforge.runtime import logged


def step_config(params):
    """The stage's configuration: defaults, overridden by this rule's params."""
    cfg = dd.resolve_config({})
    for key, value in dict(params).items():
        if key in ("tokens", "minhash"):
            cfg.update(value)
        else:
            cfg[key] = value
    return cfg


def read_hashes(path):
    return pq.read_table(path).column("hash").to_numpy().astype(np.uint64)


def fingerprint(smk, cfg, log):
    docs = read_parquet(smk.input.docs)
    fp, paras = dd.fingerprint(docs, cfg)
    write_parquet(fp, smk.output.fingerprints)
    write_parquet(paras, smk.output.paragraphs)
    log.info("%d documents, %d short, %d paragraph hashes", len(fp), fp["short"].sum(), len(paras))


def exact(smk, cfg, log):
    columns = ["id", "exact_hash", "length", "perplexity", "short"]
    fp, para = dd.concat_fingerprints(
        (read_parquet(fp_path, columns=columns), read_parquet(para_path))
        for fp_path, para_path in zip(smk.input.fingerprints, smk.input.paragraphs, strict=True)
    )
    removed, boiler, stats = dd.exact_duplicates(fp, para, cfg)
    write_parquet(removed, smk.output.exact)
    write_parquet(pd.DataFrame({"hash": boiler}), smk.output.boilerplate)
    write_json(stats, smk.output.stats)
    log.info("exact: %s", stats)


def signatures(smk, cfg, log):
    docs = read_parquet(smk.input.docs)
    removed = read_parquet(smk.input.exact, columns=["id"])["id"]
    meta, sig, stats = dd.signatures(docs, removed, read_hashes(smk.input.boilerplate), cfg)
    write_table(dd.signature_table(meta, sig), smk.output.signatures)
    log.info("signatures: %s", stats)


def bands(smk, cfg, log):
    group = smk.wildcards.group
    band_list = dd.bands_of_group(cfg, group)
    sigs = (dd.read_signatures(p, cfg["num_perm"]) for p in smk.input.signatures)
    pairs, total = dd.band_candidates(sigs, band_list, cfg)
    write_parquet(pd.DataFrame({"pair": pairs}), smk.output.pairs)
    log.info("group %s bands %s: %d documents, %d pairs", group, band_list, total, len(pairs))


def clusters(smk, cfg, log):
    pairs = np.concatenate(
        [pq.read_table(p).column("pair").to_numpy() for p in smk.input.pairs] or [np.zeros(0)]
    ).astype(np.uint64)
    metas = [read_parquet(p, columns=["id", "length", "perplexity"]) for p in smk.input.signatures]
    paths = list(smk.input.signatures)
    near, stats = dd.near_clusters(
        pairs, metas, lambda s: dd.read_signatures(paths[s], cfg["num_perm"]), cfg
    )
    exact_removed = read_parquet(smk.input.exact)
    table = dd.decisions(exact_removed, near)
    write_parquet(table, smk.output.removed)
    stats = {
        "threshold": cfg["threshold"],
        "bands": cfg["bands"],
        "rows": cfg["rows"],
        "verify": cfg["verify"],
        "verify_threshold": cfg["verify_threshold"],
        "candidate_probability_at_threshold": round(
            dd.candidate_probability(cfg["threshold"], cfg["bands"], cfg["rows"]), 4
        ),
        **stats,
        "exact_removed": len(exact_removed),
        "removed": len(table),
    }
    write_json(stats, smk.output.stats)
    log.info("clusters: %s", stats)


def filter_shard(smk, cfg, log):
    docs = read_parquet(smk.input.docs)
    removed = read_parquet(smk.input.removed)
    kept, rejects, stats = dd.filter_shard(docs, removed, read_hashes(smk.input.boilerplate), cfg)
    write_parquet(kept, smk.output.docs)
    write_parquet(rejects, smk.output.rejected, schema=REJECT_SCHEMA)
    write_json({**stats, "shard": smk.wildcards.shard}, smk.output.stats)
    log.info("dedup: %s", stats)


STEPS = {
    "dedup_fingerprint": fingerprint,
    "dedup_exact": exact,
    "dedup_signatures": signatures,
    "dedup_bands": bands,
    "dedup_clusters": clusters,
    "dedup": filter_shard,
}

with logged(snakemake.log[0]) as log:
    STEPS[snakemake.rule](snakemake, step_config(snakemake.params), log)
