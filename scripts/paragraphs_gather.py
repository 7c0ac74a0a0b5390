"""Snakemake adapter for rule paragraphs_gather (see corpusforge.paragraphs)."""

from corpusforge.paragraphs import gather_job

gather_job(snakemake)
