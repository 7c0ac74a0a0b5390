"""Snakemake adapter: rule ``clean`` cleans one shard of documents (see corpusforge.clean)."""

from functools import partial

from corpusforge.clean import clean_docs, settings
from corpusforge.runtime import doc_stage_job

words = {k.removeprefix("words_"): v for k, v in snakemake.input.items() if k != "docs"}
doc_stage_job(
    snakemake,
    lambda: partial(clean_docs, cleaner=settings(snakemake.params.settings, words)),
)
