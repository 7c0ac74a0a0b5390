"""Snakemake adapter: a seed's choices across its parts (see corpusforge.seed_shards)."""

from corpusforge.runtime import logged
from corpusforge.seed_shards import keys_job

with logged(snakemake.log[0]):
    keys_job(
        snakemake.input.records,
        snakemake.input.stats,
        snakemake.wildcards.seed,
        snakemake.params.seed,
        snakemake.output.repeated,
        snakemake.output.sample,
        batch_rows=snakemake.params.batch_rows,
    )
