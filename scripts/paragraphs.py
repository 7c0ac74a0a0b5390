"""Snakemake adapter for rules/paragraphs.smk (see corpusforge.paragraphs)."""

from corpusforge.paragraphs import run_rule

run_rule(snakemake)
