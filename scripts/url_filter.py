"""Snakemake adapter: rule ``url_filter`` filters one shard (see corpusforge.url_filter)."""

from functools import partial

from corpusforge.runtime import doc_stage_job
from corpusforge.url_filter import filter_urls, settings

files = {k.removeprefix("list_"): v for k, v in snakemake.input.items() if k != "docs"}
doc_stage_job(
    snakemake,
    lambda: partial(filter_urls, url_filter=settings(snakemake.params.settings, files)),
)
