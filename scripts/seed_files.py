"""Snakemake adapter: list the files of a seed of many files (see corpusforge.seed_files)."""

from corpusforge.runtime import logged
from corpusforge.seed_files import list_job

with logged(snakemake.log[0]):
    p = snakemake.params
    list_job(p.source, snakemake.input.paths_file or None, snakemake.output[0], p.key, p.listed)
