"""Snakemake adapter for rule ``collect`` (see corpusforge.collect)."""

from corpusforge.collect import collect_job
from corpusforge.runtime import logged

with logged(snakemake.log[0]):
    collect_job(
        snakemake.input.generated or None,
        snakemake.input.seeds,
        snakemake.wildcards.shard,
        snakemake.input.tokenizer,
        snakemake.output.docs,
        snakemake.output.rejected,
        snakemake.output.stats,
        snakemake.threads,
        snakemake.params.batch_rows,
    )
