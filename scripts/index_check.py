"""Snakemake adapter for rule index_check (see corpusforge.dedup.index_jobs)."""

from corpusforge.dedup.index_jobs import check_rule

check_rule(snakemake)
