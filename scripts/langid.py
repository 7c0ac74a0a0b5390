"""Snakemake adapter for rule langid: identify the language of one shard of documents
(see corpusforge.langid)."""

from corpusforge.langid import stage_step
from corpusforge.runtime import doc_stage_job

s = snakemake
doc_stage_job(s, lambda: stage_step(s.input.model, s.params.settings, s.params.model))
