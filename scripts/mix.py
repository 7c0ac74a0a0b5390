"""Snakemake adapter for rule ``mix`` (see corpusforge.mix)."""

from functools import partial

from corpusforge.mix import apply_mix
from corpusforge.runtime import doc_stage_job

doc_stage_job(snakemake, lambda: partial(apply_mix, cfg=snakemake.params.settings))
