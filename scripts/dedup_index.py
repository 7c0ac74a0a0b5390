"""Snakemake adapter for the rules of rules/index.smk (see corpusforge.dedup.index_jobs)."""

from corpusforge.dedup.index_jobs import run_rule

run_rule(snakemake)
