"""The dedup index (corpusforge.dedup.index): documents and lines of earlier builds.

index_check (per shard, document stage `index`, after language ID): documents whose
exact hash or verified MinHash bands match an indexed document are rejected
seen_in_index. Paragraph dedup also removes lines the index holds
(rules/paragraphs.smk). index_update (once, dedup.index.update): the final corpus's
documents and lines published as the index's next version.
DEDUP_INDEX and INDEX_RUN are in common.smk (read and checked at parse time).
"""

# What the keys and the check depend on (resolved dedup settings, the versions read).
INDEX_SETTINGS = {
    **DEDUP_INDEX["dedup"],
    "read": DEDUP_INDEX["read"],
    "max_matches": DEDUP_INDEX["max_matches"],
}


rule index_check:
    """Reject the documents of one shard already in the index (seen_in_index)."""
    input:
        docs=upstream("index"),
    output:
        docs=docs_of("index"),
        rejected=rejected("index"),
        stats=stage_stats("index"),
        hashes=out("index/keys/{shard}.parquet"),
        signatures=out("index/signatures/{shard}.parquet"),
    log:
        log_path("index_check"),
    benchmark:
        bench_path("index_check")
    conda:
        "../envs/clean.yaml"
    params:
        stage="corpusforge.dedup.index_jobs:IndexCheckStage",
        settings=INDEX_SETTINGS,
    script:
        "../scripts/doc_stage.py"


if DEDUP_INDEX["update"]:

    rule index_update:
        """Publish the final corpus's documents and lines as the index's next version."""
        input:
            docs=expand(final_docs(), shard=SHARDS),
            hashes=expand(out("index/keys/{shard}.parquet"), shard=SHARDS),
            signatures=expand(out("index/signatures/{shard}.parquet"), shard=SHARDS),
        output:
            published=out("index/published.json"),
        log:
            log_path("index_update", "all"),
        benchmark:
            bench_path("index_update", "all")
        conda:
            "../envs/clean.yaml"
        params:
            settings={
                "update": DEDUP_INDEX["update"],
                "params": DEDUP_INDEX["params"],
                "config_hash": DEDUP_INDEX["config_hash"],
                "line_origins": PARAGRAPHS["apply_to"],
            },
            batch_rows=config["batch_rows"],
        script:
            "../scripts/index_update.py"
