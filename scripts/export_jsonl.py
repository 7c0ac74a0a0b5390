"""Snakemake adapter: export one shard as jsonl partitions (see corpusforge.export)."""

from corpusforge.export import export_shard
from corpusforge.runtime import logged

with logged(snakemake.log[0]):
    export_shard(
        snakemake.input.docs,
        snakemake.input.seeds,
        snakemake.params.langs,
        snakemake.params.buckets,
        snakemake.output.jsonl,
        snakemake.output.stats,
        snakemake.wildcards.shard,
        snakemake.params.batch_rows,
    )
