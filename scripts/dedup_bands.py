"""Snakemake adapter for rule dedup_bands (see corpusforge.dedup.stage)."""

from corpusforge.dedup.stage import band_step, step_settings
from corpusforge.runtime import logged

s = snakemake
with logged(s.log[0]):
    cfg = step_settings(s.params)
    band_step(s.wildcards.group, s.input.signatures, cfg, s.output.pairs)
