"""Snakemake adapter for rule dedup (see corpusforge.dedup.stage)."""

from corpusforge.dedup.stage import filter_step, step_settings
from corpusforge.runtime import logged

s = snakemake
with logged(s.log[0]):
    cfg = step_settings(s.params)
    filter_step(
        s.input.docs,
        s.input.removed,
        s.input.boilerplate,
        cfg,
        s.output.docs,
        s.output.rejected,
        s.output.stats,
        shard=s.wildcards.shard,
        batch_rows=s.params.batch_rows,
    )
