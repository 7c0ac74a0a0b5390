"""Snakemake adapter for rule download_langid_model: fetch a configured model file,
sha256-checked (see corpusforge.langid)."""

from corpusforge.langid import fetch_model
from corpusforge.runtime import logged

with logged(snakemake.log[0]):
    fetch_model(snakemake.params.source, snakemake.output[0])
