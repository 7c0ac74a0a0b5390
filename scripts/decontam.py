"""Snakemake adapter for rule decontam: check one shard of documents against the
benchmarks' n-gram index (see corpusforge.decontam)."""

from corpusforge.decontam import index_step
from corpusforge.runtime import doc_stage_job

doc_stage_job(snakemake, lambda: index_step(snakemake.input.index, snakemake.params.settings))
