"""Mix (mode both): the web share of the corpus, recorded, and brought to a target if set."""


rule mix:
    """Record documents, tokens and characters by origin; with `mix.web_share`,
    downsample the origin over its share (reason mix_downsampled)."""
    input:
        docs=upstream("mix"),
    output:
        docs=docs_of("mix"),
        rejected=rejected("mix"),
        stats=stage_stats("mix"),
    log:
        log_path("mix"),
    benchmark:
        bench_path("mix")
    conda:
        "../envs/core.yaml"
    params:
        settings=canon(config["mix"]),
    script:
        "../scripts/mix.py"
