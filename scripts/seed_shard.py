"""Snakemake adapter: a shard's seed records (see corpusforge.seed_shards)."""

from corpusforge.runtime import logged
from corpusforge.seed_shards import shard_job

with logged(snakemake.log[0]):
    shard_job(
        snakemake.input.records,
        snakemake.input.stats,
        snakemake.input.repeated,
        snakemake.input.sample,
        snakemake.wildcards.seed,
        snakemake.params.seed,
        snakemake.wildcards.shard,
        snakemake.params.shards,
        snakemake.output,
        batch_rows=snakemake.params.batch_rows,
    )
