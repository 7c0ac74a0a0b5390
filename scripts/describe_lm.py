"""Snakemake adapter for rule describe_lm (see corpusforge.perplexity.stage)."""

from corpusforge.perplexity.stage import describe_lm
from corpusforge.runtime import logged

s = snakemake
with logged(s.log[0]):
    describe_lm(
        s.wildcards.lang,
        s.input.sp,
        s.input.lm,
        s.input.get("reference"),
        s.params.reference_format,
        s.params.text_field,
        s.output.meta,
    )
