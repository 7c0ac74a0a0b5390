"""Snakemake adapter for rule paragraphs (see corpusforge.paragraphs)."""

from corpusforge.paragraphs import apply_job

apply_job(snakemake)
