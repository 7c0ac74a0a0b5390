"""Snakemake adapter for rule ``collect`` (see corpusforge.collect)."""

from corpusforge.collect import SCHEMA, collect_shard, hf_token_counter
from corpusforge.io import read_parquet, read_parquets, write_json, write_parquet
from corpusforge.records import REJECT_SCHEMA, rejects_frame
from corpusforge.runtime import logged

with logged(snakemake.log[0]) as log:
    shard = snakemake.wildcards.shard
    generated = read_parquet(snakemake.input.generated) if snakemake.input.generated else None
    docs, stats = collect_shard(
        generated,
        read_parquets(snakemake.input.seeds),
        int(shard),
        snakemake.params.shards,
        hf_token_counter(snakemake.input.tokenizer),
    )
    write_parquet(docs, snakemake.output.docs, schema=SCHEMA)
    write_parquet(rejects_frame([]), snakemake.output.rejected, schema=REJECT_SCHEMA)
    write_json({**stats, "shard": shard}, snakemake.output.stats)
    log.info("collect %s: %s", shard, stats["by_origin"])
