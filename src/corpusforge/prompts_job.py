"""The job of rule ``build_prompts`` (rules/prompts.smk), called by scripts/build_prompts.py:
one shard of prompts from the seed records whose ``seed_id`` hashes to it."""

from __future__ import annotations

from typing import Any

from .io import read_parquet, read_parquets, write_json, write_parquet
from .prompts import build_prompts, load_template_dir
from .quality.jobs import seed_selector
from .records import REJECT_SCHEMA, select_shard
from .runtime import logged
from .topics.select import topic_selector


def run_job(smk: Any) -> dict:
    """Read the seeds and templates Snakemake hands the job, build the shard's prompts
    (through ``prompts.topics`` and ``prompts.seed_quality`` when they are on), write
    prompts, rejects and stats."""
    p = smk.params
    with logged(smk.log[0]):
        seeds = read_parquets(smk.input.seeds)
        shard = select_shard(seeds, int(smk.wildcards.shard), p.shards, "seed_id")
        templates = load_template_dir(smk.input.templates)
        select = seed_selector(p.seed_quality, p.quality, p.quality_models)
        topics = None
        if getattr(smk.input, "topics", None):  # prompts.topics: rule topic_labels' decisions
            topics = topic_selector(read_parquet(smk.input.topics))
        prompts, rejects, stats = build_prompts(shard, templates, p.prompts, select, topics)
        stats = {**stats, "shard": smk.wildcards.shard}
        write_parquet(prompts, smk.output.prompts)
        write_parquet(rejects, smk.output.rejected, schema=REJECT_SCHEMA)
        write_json(stats, smk.output.stats)
    return stats
