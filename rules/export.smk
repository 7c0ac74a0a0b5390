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
        unpack(summary_inputs),
    output:
        summary=out("stats/summary.json"),
    log:
        log_path("summarize", "summary"),
    benchmark:
        bench_path("summarize", "summary")
    localrule: True
    conda:
        "../envs/core.yaml"
    params:
        doc_stages=DOC_STAGES,
    script:
        "../scripts/summarize.py"
