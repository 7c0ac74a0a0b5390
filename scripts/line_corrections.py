"""Snakemake adapter for rule ``line_corrections`` (see corpusforge.line_corrections)."""

from functools import partial

from corpusforge.line_corrections import correct_docs, settings
from corpusforge.runtime import doc_stage_job

doc_stage_job(
    snakemake,
    lambda: partial(correct_docs, corrections=settings(snakemake.params.settings)),
)
