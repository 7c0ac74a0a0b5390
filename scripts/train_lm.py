"""Snakemake adapter for rule train_lm (see corpusforge.perplexity.stage)."""

from corpusforge.perplexity.stage import train_lm
from corpusforge.runtime import logged

s = snakemake
with logged(s.log[0]):
    train_lm(
        s.wildcards.lang,
        s.input.reference,
        s.output.sp,
        s.output.lm,
        s.output.meta,
        s.params.training,
        s.params.reference_format,
        s.params.text_field,
        s.threads,
    )
