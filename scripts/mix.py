"""Snakemake adapter for rule ``mix`` (see corpusforge.mix)."""

from functools import partial

from corpusforge.mix import apply_mix, settings
from corpusforge.runtime import doc_stage_job

doc_stage_job(snakemake, lambda: partial(apply_mix, cfg=settings(snakemake.params.settings)))
