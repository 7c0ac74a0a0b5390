"""Snakemake adapter: a seed's rejected rows and stats (see corpusforge.seed_shards)."""

from corpusforge.runtime import logged
from corpusforge.seed_shards import seed_job

with logged(snakemake.log[0]):
    seed_job(
        snakemake.input.part_rejected,
        snakemake.input.part_stats,
        snakemake.input.shard_rejected,
        snakemake.input.shard_stats,
        snakemake.wildcards.seed,
        snakemake.output.rejected,
        snakemake.output.stats,
    )
