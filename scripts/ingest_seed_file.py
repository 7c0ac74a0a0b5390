"""Snakemake adapter: ingest one listed file of a seed (see corpusforge.seed_files)."""

from corpusforge.runtime import logged
from corpusforge.seed_files import ingest_part_job

with logged(snakemake.log[0]):
    ingest_part_job(
        snakemake.input[0],
        snakemake.wildcards.file,
        snakemake.wildcards.seed,
        snakemake.params.seed,
        snakemake.output,
    )
