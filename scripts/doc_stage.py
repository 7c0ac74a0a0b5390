"""Snakemake adapter for the rule of any stage that follows the document-stage
protocol: the stage class named in ``params.stage`` over the shard (corpusforge.stage)."""

from corpusforge.stage import run_job

run_job(snakemake)
