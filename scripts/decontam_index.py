"""Snakemake adapter for rule decontam_index: hash the benchmarks' n-grams into one
index file (see corpusforge.decontam)."""

from corpusforge.decontam import run_index
from corpusforge.runtime import logged

with logged(snakemake.log[0]):
    files = {name: str(path) for name, path in snakemake.input.items()}
    run_index(files, snakemake.params.settings, snakemake.output.index, snakemake.output.stats)
