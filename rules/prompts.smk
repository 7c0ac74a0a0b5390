"""Prompt construction: format x audience templates over seed extracts."""


rule build_prompts:
    """One shard of prompts from the seed rows whose id hashes to this shard."""
    input:
        seeds=seed_records(PROMPT_SEEDS),
        templates=config["prompts"]["templates"],
        quality_models=lambda wc: QL.model_files() if SEED_QUALITY else [],
        topics=out("topics/topics.parquet") if TOPICS_RUN else [],
    output:
        prompts=out("prompts/{shard}.parquet"),
        rejected=rejected("prompts"),
        stats=stage_stats("prompts"),
    log:
        log_path("build_prompts"),
    benchmark:
        bench_path("build_prompts")
    conda:
        "../envs/quality.yaml" if SEED_QUALITY else "../envs/core.yaml"
    params:
        shards=config["shards"],
        prompts=canon(
            {
                k: v
                for k, v in config["prompts"].items()
                if k not in ("templates", "seed_quality", "topics")
            }
        ),
        seed_quality=(
            canon(config["prompts"].get("seed_quality")) if SEED_QUALITY else None
        ),
        quality=lambda wc: canon(QL.scorer_settings()) if SEED_QUALITY else None,
        quality_models=lambda wc: QL.model_paths() if SEED_QUALITY else None,
    script:
        "../scripts/build_prompts.py"
