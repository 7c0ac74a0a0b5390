"""Snakemake adapter: build one shard of prompts (see corpusforge.prompts_job)."""

from corpusforge.prompts_job import run_job

run_job(snakemake)
