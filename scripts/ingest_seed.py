"""Snakemake adapter: ingest one seed file (see corpusforge.seed)."""

from corpusforge.io import write_json, write_parquet
from corpusforge.records import REJECT_SCHEMA
from corpusforge.runtime import logged
from corpusforge.seed import SeedSpec, ingest_file

with logged(snakemake.log[0]):
    spec = SeedSpec.from_config(snakemake.wildcards.seed, snakemake.params.seed)
    records, rejects, stats = ingest_file(snakemake.input[0], spec)
    write_parquet(records, snakemake.output.records)
    write_parquet(rejects, snakemake.output.rejected, schema=REJECT_SCHEMA)
    write_json(stats, snakemake.output.stats)
