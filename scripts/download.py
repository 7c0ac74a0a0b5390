"""Snakemake adapter of every rule that downloads a configured url/hf source (seeds,
benchmarks, word and URL lists, reference texts, models): fetch it into the rule's
output, checked against its sha256 (see corpusforge.fetch)."""

from corpusforge.fetch import fetch_source
from corpusforge.runtime import logged

with logged(snakemake.log[0]):
    p = snakemake.params
    options = {name: getattr(p, name) for name in ("resume", "pin") if hasattr(p, name)}
    fetch_source(p.source, snakemake.output[0], p.key, **options)
