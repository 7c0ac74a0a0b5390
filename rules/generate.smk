"""Generation: one job per prompt shard, vLLM in the job or an OpenAI-compatible
server (given, or started and stopped by the build: rule serve_model)."""


rule generate:
    """Generate one document per prompt with the model's chat template.

    Resumable: finished chunks of `generation.chunk_size` prompts are kept in
    docs/generate/.chunks/<shard>/ (not a declared output, so Snakemake does not
    delete it after a killed job); with --rerun-incomplete (profiles/default) a
    restarted job continues at the first unfinished chunk. Settings that do not
    change the documents (max_failure_rate, allow_cpu_fallback, the OpenAI
    client's address, key variable, concurrency, timeout, retries) are read from
    the config by the script, so tuning them reruns nothing.
    """
    input:
        prompts=out("prompts/{shard}.parquet"),
        # the model folder, when vLLM runs in the job (none for a server)
        model=model_dir() if GEN_ENGINE == "vllm" else [],
        # the address of the build's own server (generation.server.managed)
        server=out("serve/server.json") if SERVER_MANAGED else [],
    output:
        docs=docs_of("generate"),
        rejected=rejected("generate"),
        stats=stage_stats("generate"),
    log:
        log_path("generate"),
    benchmark:
        bench_path("generate")
    group:
        # on a cluster the managed server and its clients share one allocation
        "generation" if SERVER_MANAGED else None
    conda:
        "../envs/generate.yaml"
    threads: GENERATION["threads"] if GEN_ENGINE == "vllm" else 1
    resources:
        gpu=GENERATION["gpus"] if GEN_ENGINE == "vllm" else 0,
    params:
        engine=GEN_ENGINE,
        model_name=GEN_MODEL_NAME,
        system_prompt=GENERATION["system_prompt"],
        sampling=canon(GENERATION["sampling"]),
        engine_args=ENGINE_ARGS if GEN_ENGINE == "vllm" else {},
        # the managed server's model and engine settings decide the texts too
        server=(
            {
                "model": GEN_MODEL_NAME,
                "engine_args": ENGINE_ARGS,
                "args": GENERATION["server"]["args"],
            }
            if SERVER_MANAGED
            else {}
        ),
        filters=canon(GENERATION["filters"]),
        cpu_kvcache_gib=GENERATION["cpu_kvcache_gib"],
        chunk_size=GENERATION["chunk_size"],
    script:
        "../scripts/generate.py"


rule serve_model:
    """Start vLLM's OpenAI-compatible server for the build (corpusforge.serve).

    Its output is a temp() file with the server's address: Snakemake deletes
    it when the last generate job is done, and the server's supervisor then
    stops the server; it also stops it when the Snakemake process ends
    (failed, interrupted or killed build)."""
    input:
        model=model_dir(),
    output:
        server=temp(out("serve/server.json")),
    log:
        log_path("serve_model", "server"),
    group:
        "generation"
    conda:
        "../envs/generate.yaml"
    threads: GENERATION["server"]["threads"]
    resources:
        gpu=GENERATION["gpus"],
    params:
        served_name=GEN_MODEL_NAME,
        engine_args=ENGINE_ARGS,
        args=GENERATION["server"]["args"],
        startup_timeout=GENERATION["server"]["startup_timeout"],
        cpu_kvcache_gib=GENERATION["cpu_kvcache_gib"],
    script:
        "../scripts/serve_model.py"
