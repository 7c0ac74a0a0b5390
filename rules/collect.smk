"""Collect (modes web and both): seed documents join the document stream, with origins."""


rule collect:
    """The shard's seed documents (kind `documents`) as documents of origin web,
    beside the shard's generated documents in mode both; token counts with the
    generation model's tokenizer (its files alone, rule prepare_tokenizer)."""
    input:
        generated=upstream("collect") if GENERATES else [],
        seeds=seed_records(DOCUMENT_SEEDS),
        tokenizer=tokenizer_dir(),
    output:
        docs=docs_of("collect"),
        rejected=rejected("collect"),
        stats=stage_stats("collect"),
    log:
        log_path("collect"),
    benchmark:
        bench_path("collect")
    conda:
        "../envs/generate.yaml"
    params:
        batch_rows=config["batch_rows"],
    script:
        "../scripts/collect.py"
