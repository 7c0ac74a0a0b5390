"""Snakemake adapter for rule dedup_fingerprint (see corpusforge.dedup.stage)."""

from corpusforge.dedup.stage import fingerprint_shard, step_settings
from corpusforge.runtime import logged

s = snakemake
with logged(s.log[0]):
    cfg = step_settings(s.params)
    batch_rows = cfg.pop("batch_rows")
    fingerprint_shard(s.input.docs, cfg, s.output.fingerprints, s.output.paragraphs, batch_rows)
