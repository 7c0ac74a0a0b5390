"""Snakemake adapter for rule index_update (see corpusforge.dedup.index_jobs)."""

from corpusforge.dedup.index_jobs import update_rule

update_rule(snakemake)
