"""Snakemake adapter: a seed from its file or its files (see corpusforge.seed_files)."""

from corpusforge.runtime import logged
from corpusforge.seed_files import ingest_seed_job

with logged(snakemake.log[0]):
    ingest_seed_job(
        dict(snakemake.input.items()),
        snakemake.wildcards.seed,
        snakemake.params.seed,
        snakemake.params.files,
        snakemake.output,
        shards=snakemake.params.shards,
        batch_rows=snakemake.params.batch_rows,
    )
