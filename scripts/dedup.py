"""Snakemake adapter for every rule of rules/dedup.smk (see corpusforge.dedup.stage)."""

from corpusforge.dedup.stage import run_rule
from corpusforge.runtime import logged

with logged(snakemake.log[0]):
    s = snakemake
    run_rule(s.rule, s.input, s.output, s.params, s.wildcards)
