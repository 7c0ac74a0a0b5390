"""Snakemake adapter: fetch a remote seed file (see corpusforge.fetch)."""

from corpusforge.fetch import fetch_source
from corpusforge.runtime import logged

with logged(snakemake.log[0]):
    fetch_source(snakemake.params.source, snakemake.output[0], snakemake.params.key)
