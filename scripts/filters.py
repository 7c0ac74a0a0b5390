"""Snakemake adapter for rule ``filters`` (see corpusforge.filters)."""

from functools import partial

from corpusforge.filters import apply_filters, settings
from corpusforge.runtime import doc_stage_job

doc_stage_job(
    snakemake,
    lambda: partial(apply_filters, settings=settings(snakemake.params.settings)),
)
