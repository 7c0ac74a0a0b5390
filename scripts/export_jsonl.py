"""Snakemake adapter: export one shard as jsonl partitions (see corpusforge.export)."""

from corpusforge.export import export_stats, partition, to_records
from corpusforge.io import read_parquet, write_json, write_jsonl
from corpusforge.runtime import logged

with logged(snakemake.log[0]):
    docs = read_parquet(snakemake.input.docs)
    parts = partition(to_records(docs), snakemake.params.langs, snakemake.params.buckets)
    written = 0
    for (lang, bucket), path in zip(
        [(lang, bucket) for lang in snakemake.params.langs for bucket in snakemake.params.buckets],
        snakemake.output.jsonl,
        strict=True,
    ):
        written += write_jsonl(parts[(lang, bucket)], path)
    write_json(
        {
            **export_stats(len(docs), written),
            "shard": snakemake.wildcards.shard,
            "partitions": {f"{k[0]}/{k[1]}": len(v) for k, v in sorted(parts.items())},
        },
        snakemake.output.stats,
    )
