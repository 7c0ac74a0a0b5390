"""Snakemake adapter for rules/url_filter.smk (see corpusforge.url_filter).

Rule ``download_url_list``: fetch a remote list. Rule ``url_filter``: filter one shard.
"""

from functools import partial

from corpusforge.fetch import fetch_source
from corpusforge.runtime import doc_stage_job, logged
from corpusforge.url_filter import filter_urls, settings

if snakemake.rule == "url_filter":
    files = {k.removeprefix("list_"): v for k, v in snakemake.input.items() if k != "docs"}
    doc_stage_job(
        snakemake,
        lambda: partial(filter_urls, url_filter=settings(snakemake.params.settings, files)),
    )
else:
    with logged(snakemake.log[0]):
        fetch_source(snakemake.params.source, snakemake.output[0])
