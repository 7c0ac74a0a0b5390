"""Snakemake adapter for rule dedup_exact (see corpusforge.dedup.stage)."""

from corpusforge.dedup.stage import exact_step, step_settings
from corpusforge.runtime import logged

s = snakemake
with logged(s.log[0]):
    cfg = step_settings(s.params)
    exact_step(
        s.input.fingerprints,
        s.input.paragraphs,
        cfg,
        s.output.exact,
        s.output.boilerplate,
        s.output.stats,
    )
