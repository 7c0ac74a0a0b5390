"""Heuristic quality filters (Gopher quality + repetition, C4, SlimPajama): one job per shard."""

# A bad-words list is an input, so editing it reruns the stage.
FILTERS_BAD_WORDS = (FILTERS.get("c4") or {}).get("bad_words")


rule filters:
    """Reject documents that fail a heuristic rule (reason = rule name) and drop
    C4's non-sentence lines from the rest."""
    input:
        docs=upstream("filters"),
        bad_words=FILTERS_BAD_WORDS or [],
    output:
        docs=docs_of("filters"),
        rejected=rejected("filters"),
        stats=stage_stats("filters"),
    log:
        log_path("filters"),
    benchmark:
        bench_path("filters")
    conda:
        "../envs/web.yaml"
    threads: 1
    params:
        stage="corpusforge.filters:FiltersStage",
        settings=FILTERS,
        batch_rows=config["batch_rows"],
    script:
        "../scripts/doc_stage.py"
