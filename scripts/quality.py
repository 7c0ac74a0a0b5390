"""Snakemake adapter for rules quality, quality_cutoffs, quality_bucket and
prepare_quality_model (see corpusforge.quality.jobs)."""

from corpusforge.quality.jobs import run_rule

run_rule(snakemake)
