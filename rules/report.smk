"""Stats, the audit that proves nothing was lost, and the report."""


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
