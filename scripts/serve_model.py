"""Snakemake adapter: start the build's vLLM server (see corpusforge.serve)."""

from corpusforge.serve import run_job

run_job(snakemake)
