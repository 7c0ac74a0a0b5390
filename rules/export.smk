"""Export the final corpus as jsonl."""


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
