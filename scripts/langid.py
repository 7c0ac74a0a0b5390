"""Snakemake adapter for rules/langid.smk (see corpusforge.langid).

Rule ``langid``: identify the language of one shard of documents.
Rule ``download_langid_model``: fetch a configured model file (sha256 checked).
"""

from corpusforge.langid import fetch_model, stage_step
from corpusforge.runtime import doc_stage_job, logged

s = snakemake
if s.rule == "download_langid_model":
    with logged(s.log[0]):
        fetch_model(s.params.source, s.output[0])
else:
    doc_stage_job(s, lambda: stage_step(s.input.model, s.params.settings, s.params.model))
