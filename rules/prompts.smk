"""Prompt construction: format x audience templates over seed extracts."""


rule build_prompts:
    """One shard of prompts from the seed rows whose id hashes to this shard."""
    input:
        seeds=expand(out("seed/{seed}.parquet"), seed=PROMPT_SEEDS),
        templates=config["prompts"]["templates"],
    output:
        prompts=out("prompts/{shard}.parquet"),
        rejected=rejected("prompts"),
        stats=stage_stats("prompts"),
    log:
        log_path("build_prompts"),
    benchmark:
        bench_path("build_prompts")
    conda:
        "../envs/core.yaml"
    params:
        shards=config["shards"],
        prompts=canon({k: v for k, v in config["prompts"].items() if k != "templates"}),
    script:
        "../scripts/build_prompts.py"
