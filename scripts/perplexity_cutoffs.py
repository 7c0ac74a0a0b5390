"""Snakemake adapter for rule perplexity_cutoffs (see corpusforge.perplexity.stage)."""

from corpusforge.perplexity.stage import write_cutoffs
from corpusforge.runtime import logged

s = snakemake
with logged(s.log[0]):
    write_cutoffs(
        s.params.models,
        s.input.meta,
        s.input.get("scored", []),
        s.params.cutoffs,
        s.params.models_cfg,
        s.output.cutoffs,
    )
