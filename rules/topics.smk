"""Topic clusters of the seed extracts before prompts (prompts.topics, corpusforge.topics).

  topic_clusters  (once)  extracts embedded (the model's mean-pooled hidden states, or a
                          sentence-transformers encoder) and clustered (HDBSCAN or KMeans)
  topic_labels    (once)  each cluster named and rated by the generation engine; clusters
                          under min_score dropped, extracts balanced over the clusters

build_prompts (rules/prompts.smk) reads topics/topics.parquet: the rows it drops are
rejected rows of the prompts stage, the kept ones name their cluster's topic.
Included after rules/generate.smk (the Snakefile): topic_labels runs the engine rule generate
is given (GEN_ENGINE, ENGINE_ARGS).
"""


rule topic_clusters:
    """Embed every extract of the prompt seeds and cluster them, seeded."""
    input:
        seeds=all_seed_records(PROMPT_SEEDS),
        model=model_dir() if TOPICS["encoder"]["kind"] == "model" else [],
    output:
        clusters=out("topics/clusters.parquet"),
        stats=out("stats/topics/clusters.json"),
    log:
        log_path("topic_clusters", "clusters"),
    benchmark:
        bench_path("topic_clusters", "clusters")
    conda:
        "../envs/generate.yaml"
    threads: TOPICS["encoder"]["threads"]
    resources:
        gpu=TOPICS["encoder"]["gpus"],
    params:
        # only what the clusters depend on: a label or selection setting reruns topic_labels
        topics={key: TOPICS[key] for key in ("encoder", "cluster")},
    script:
        "../scripts/topic_clusters.py"


rule topic_labels:
    """Label and rate each cluster with the generation engine; judge and balance."""
    input:
        clusters=out("topics/clusters.parquet"),
        seeds=all_seed_records(PROMPT_SEEDS),
        model=model_dir() if GEN_ENGINE == "vllm" else [],
        server=out("serve/server.json") if SERVER_MANAGED else [],
    output:
        topics=out("topics/topics.parquet"),
        stats=out("stats/topics/topics.json"),
    log:
        log_path("topic_labels", "topics"),
    benchmark:
        bench_path("topic_labels", "topics")
    conda:
        "../envs/generate.yaml"
    threads: GENERATION["threads"] if GEN_ENGINE == "vllm" else 1
    resources:
        gpu=GENERATION["gpus"] if GEN_ENGINE == "vllm" else 0,
    params:
        topics=TOPICS,
        engine=GEN_ENGINE,
        model_name=GEN_MODEL_NAME,
        sampling=canon(TOPICS["label"]["sampling"]),
        engine_args=ENGINE_ARGS if GEN_ENGINE == "vllm" else {},
        cpu_kvcache_gib=GENERATION["cpu_kvcache_gib"],
    script:
        "../scripts/topic_labels.py"
