"""Snakemake adapter for rules/clean.smk (see corpusforge.clean).

Rule ``download_clean_words``: fetch a remote flagged-word list.
Rule ``clean``: clean one shard of documents.
"""

from functools import partial

from corpusforge.clean import clean_docs, settings
from corpusforge.fetch import fetch_source
from corpusforge.runtime import doc_stage_job, logged

if snakemake.rule == "clean":
    words = {k.removeprefix("words_"): v for k, v in snakemake.input.items() if k != "docs"}
    doc_stage_job(
        snakemake,
        lambda: partial(clean_docs, cleaner=settings(snakemake.params.settings, words)),
    )
else:
    with logged(snakemake.log[0]):
        fetch_source(snakemake.params.source, snakemake.output[0])
