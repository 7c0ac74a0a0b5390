"""Snakemake adapter for rules quality, download_quality_file and prepare_quality_model
(see corpusforge.quality.jobs)."""

from corpusforge.quality.jobs import run_rule

run_rule(snakemake)
