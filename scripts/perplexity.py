"""Snakemake adapter for every rule of rules/perplexity.smk (see corpusforge.perplexity.stage)."""

from corpusforge.perplexity.stage import run_rule
from corpusforge.runtime import logged

with logged(snakemake.log[0]):
    s = snakemake
    run_rule(s.rule, s.input, s.output, s.params, s.wildcards, s.threads)
