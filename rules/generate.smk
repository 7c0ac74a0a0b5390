"""Generation: one job per prompt shard, vLLM in the job or an OpenAI-compatible server."""

GENERATION = config["generation"]
GEN_ENGINE = GENERATION.get("engine", "vllm")
# The `model` field of the documents: the served model name for engine openai.
GEN_MODEL_NAME = (
    (GENERATION.get("openai") or {}).get("model") or MODEL["name"]
    if GEN_ENGINE == "openai"
    else MODEL["name"]
)


rule generate:
    """Generate one document per prompt with the model's chat template.

    Resumable: finished chunks of `generation.chunk_size` prompts are kept in
    docs/generate/.chunks/<shard>/ (not a declared output, so Snakemake does not
    delete it after a killed job); with --rerun-incomplete (profiles/default) a
    restarted job continues at the first unfinished chunk. Settings that do not
    change the documents (max_failure_rate, the OpenAI client's address, key
    variable, concurrency, timeout, retries) are read from the config by the
    script, so tuning them reruns nothing.
    """
    input:
        prompts=out("prompts/{shard}.parquet"),
        # the model folder, when vLLM runs in the job (none for a server)
        model=model_dir() if GEN_ENGINE == "vllm" else [],
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
    threads: GENERATION["threads"]
    resources:
        gpu=GENERATION["gpus"] if GEN_ENGINE == "vllm" else 0,
    params:
        engine=GEN_ENGINE,
        model_name=GEN_MODEL_NAME,
        system_prompt=GENERATION["system_prompt"],
        sampling=canon(GENERATION["sampling"]),
        engine_args=canon(GENERATION["engine_args"]) if GEN_ENGINE == "vllm" else {},
        filters=canon(GENERATION["filters"]),
        cpu_kvcache_gib=GENERATION["cpu_kvcache_gib"],
        chunk_size=GENERATION.get("chunk_size", 1024),
    script:
        "../scripts/generate.py"
