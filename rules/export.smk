"""Export the final corpus as jsonl."""


rule export_jsonl:
    """Write one shard of final documents as jsonl (UTF-8, sorted by id), one file
    per language and bucket."""
    input:
        docs=final_docs(),
        seeds=seed_records(SEEDS),  # the shard's, for source_id
    output:
        jsonl=final_files(),
        stats=stage_stats("export"),
    log:
        log_path("export_jsonl"),
    benchmark:
        bench_path("export_jsonl")
    conda:
        "../envs/core.yaml"
    params:
        langs=EXPORT_LANGS,
        buckets=EXPORT_BUCKETS,
        batch_rows=config["batch_rows"],
    script:
        "../scripts/export_jsonl.py"
