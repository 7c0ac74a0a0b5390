"""Snakemake adapter for rule prepare_quality_model (see corpusforge.quality.jobs)."""

from corpusforge.quality.jobs import prepare_model_job

prepare_model_job(snakemake)
