"""Export the final corpus as jsonl, and gather stats with the audit."""


rule export_jsonl:
    """Write one shard of final documents as jsonl (UTF-8, sorted by id)."""
    input:
        docs=final_docs(),
    output:
        jsonl=out("final/corpus-{shard}.jsonl"),
        stats=stage_stats("export"),
    log:
        log_path("export_jsonl"),
    benchmark:
        bench_path("export_jsonl")
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/export_jsonl.py"


rule summarize:
    """Counts per stage, and the audit that fails the run if any record is lost."""
    input:
        seed_stats=expand(stage_stats("seed", "{seed}"), seed=SEEDS),
        seed_records=expand(out("seed/{seed}.parquet"), seed=SEEDS),
        prompts=expand(out("prompts/{shard}.parquet"), shard=SHARDS),
        prompts_rejected=expand(rejected("prompts"), shard=SHARDS),
        prompts_stats=expand(stage_stats("prompts"), shard=SHARDS),
        generated=expand(docs_of("generate"), shard=SHARDS),
        generate_rejected=expand(rejected("generate"), shard=SHARDS),
        generate_stats=expand(stage_stats("generate"), shard=SHARDS),
        final=expand(out("final/corpus-{shard}.jsonl"), shard=SHARDS),
        export_stats=expand(stage_stats("export"), shard=SHARDS),
    output:
        summary=out("stats/summary.json"),
    log:
        log_path("summarize", "summary"),
    benchmark:
        bench_path("summarize", "summary")
    localrule: True
    conda:
        "../envs/core.yaml"
    script:
        "../scripts/summarize.py"
