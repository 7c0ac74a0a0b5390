"""Snakemake adapter: export one shard as jsonl (see corpusforge.export)."""

from corpusforge.export import export_stats, to_records
from corpusforge.io import read_parquet, write_json, write_jsonl
from corpusforge.runtime import logged

with logged(snakemake.log[0]):
    docs = read_parquet(snakemake.input.docs)
    written = write_jsonl(to_records(docs), snakemake.output.jsonl)
    write_json(
        {**export_stats(len(docs), written), "shard": snakemake.wildcards.shard},
        snakemake.output.stats,
    )
