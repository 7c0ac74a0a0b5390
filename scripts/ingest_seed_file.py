"""Snakemake adapter: ingest one part of a seed (see corpusforge.seed_shards)."""

from corpusforge.runtime import logged
from corpusforge.seed_shards import part_job

with logged(snakemake.log[0]):
    part_job(
        snakemake.input[0],
        snakemake.wildcards.file,
        snakemake.wildcards.seed,
        snakemake.params.seed,
        snakemake.output,
        listed=snakemake.params.listed,
        piece=snakemake.params.piece,
        shards=snakemake.params.shards,
        batch_rows=snakemake.params.batch_rows,
    )
