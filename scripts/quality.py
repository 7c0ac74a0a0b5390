"""Snakemake adapter for rule quality (see corpusforge.quality.jobs)."""

from corpusforge.quality.jobs import quality_job

quality_job(snakemake)
