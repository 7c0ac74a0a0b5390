"""Line-wise corrections (RefinedWeb): counter, interface and menu lines. One job per shard.

LINE_CORRECTIONS and LINE_CORRECTIONS_RUN (auto: on where documents of its
apply_to origins exist) are in common.smk: they decide whether the stage runs.
"""


rule line_corrections:
    """Remove counter/interface/menu lines; reject a document that loses more than
    max_removed_share of its characters (line_corrections)."""
    input:
        docs=upstream("line_corrections"),
    output:
        docs=docs_of("line_corrections"),
        rejected=rejected("line_corrections"),
        stats=stage_stats("line_corrections"),
    log:
        log_path("line_corrections"),
    benchmark:
        bench_path("line_corrections")
    conda:
        "../envs/clean.yaml"
    threads: 1
    params:
        stage="corpusforge.line_corrections:LineCorrectionsStage",
        settings={k: v for k, v in LINE_CORRECTIONS.items() if k != "enabled"},
        batch_rows=config["batch_rows"],
    script:
        "../scripts/doc_stage.py"
