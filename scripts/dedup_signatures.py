"""Snakemake adapter for rule dedup_signatures (see corpusforge.dedup.stage)."""

from corpusforge.dedup.stage import signature_shard, step_settings
from corpusforge.runtime import logged

s = snakemake
with logged(s.log[0]):
    cfg = step_settings(s.params)
    batch_rows = cfg.pop("batch_rows")
    signature_shard(
        s.input.docs, s.input.exact, s.input.boilerplate, cfg, s.output.signatures, batch_rows
    )
