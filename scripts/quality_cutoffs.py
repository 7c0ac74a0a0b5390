"""Snakemake adapter for rule quality_cutoffs (see corpusforge.quality.jobs)."""

from corpusforge.quality.jobs import cutoffs_job

cutoffs_job(snakemake)
