"""Snakemake adapter for rule paragraphs_hash (see corpusforge.paragraphs)."""

from corpusforge.paragraphs import hash_job

hash_job(snakemake)
