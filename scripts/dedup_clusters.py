"""Snakemake adapter for rule dedup_clusters (see corpusforge.dedup.stage)."""

from corpusforge.dedup.stage import cluster_step, step_settings
from corpusforge.runtime import logged

s = snakemake
with logged(s.log[0]):
    cfg = step_settings(s.params)
    cluster_step(
        s.input.pairs, s.input.signatures, s.input.exact, cfg, s.output.removed, s.output.stats
    )
