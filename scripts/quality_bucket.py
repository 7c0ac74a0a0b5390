"""Snakemake adapter for rule quality_bucket (see corpusforge.quality.jobs)."""

from corpusforge.quality.jobs import bucket_job

bucket_job(snakemake)
