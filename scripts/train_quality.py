"""Snakemake adapter for rule train_quality (see corpusforge.quality.jobs.train_job)."""

from corpusforge.quality.jobs import train_job

train_job(snakemake)
