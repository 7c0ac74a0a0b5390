"""Generation with vLLM: one job per prompt shard, GPU or CPU."""


rule generate:
    """Generate one document per prompt with vLLM and the model's chat template."""
    input:
        prompts=out("prompts/{shard}.parquet"),
        model=model_dir(),
    output:
        docs=docs_of("generate"),
        rejected=rejected("generate"),
        stats=stage_stats("generate"),
    log:
        log_path("generate"),
    benchmark:
        bench_path("generate")
    conda:
        "../envs/generate.yaml"
    threads: config["generation"]["threads"]
    resources:
        gpu=config["generation"]["gpus"],
    params:
        model_name=MODEL["name"],
        system_prompt=config["generation"]["system_prompt"],
        sampling=canon(config["generation"]["sampling"]),
        engine_args=canon(config["generation"]["engine_args"]),
        filters=canon(config["generation"]["filters"]),
        cpu_kvcache_gib=config["generation"]["cpu_kvcache_gib"],
    script:
        "../scripts/generate.py"
