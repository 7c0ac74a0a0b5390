"""Snakemake adapter: build one shard of prompts (see corpusforge.prompts)."""

from corpusforge.io import read_parquets, write_json, write_parquet
from corpusforge.prompts import build_prompts, load_template_dir
from corpusforge.quality.jobs import seed_selector
from corpusforge.records import REJECT_SCHEMA, select_shard
from corpusforge.runtime import logged

with logged(snakemake.log[0]):
    seeds = read_parquets(snakemake.input.seeds)
    shard = select_shard(seeds, int(snakemake.wildcards.shard), snakemake.params.shards, "seed_id")
    templates = load_template_dir(snakemake.input.templates)
    p = snakemake.params
    select = seed_selector(p.seed_quality, p.quality, p.quality_models)
    prompts, rejects, stats = build_prompts(shard, templates, p.prompts, select)
    write_parquet(prompts, snakemake.output.prompts)
    write_parquet(rejects, snakemake.output.rejected, schema=REJECT_SCHEMA)
    write_json({**stats, "shard": snakemake.wildcards.shard}, snakemake.output.stats)
