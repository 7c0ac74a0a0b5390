"""Snakemake adapter: fetch a remote seed file (see corpusforge.fetch)."""

from corpusforge.fetch import fetch_source
from corpusforge.runtime import logged

with logged(snakemake.log[0]):
    p = snakemake.params
    fetch_source(p.source, snakemake.output[0], p.key, resume=p.resume, pin=p.pin)
