"""Paragraph dedup (CC-NET): every line seen earlier in the build removed.

hash (per shard: line hashes, and the distinct ones) -> gather (once: per shard, the hashes an
earlier shard has) -> paragraphs (per shard: later repeats removed).
PARAGRAPHS and PARAGRAPHS_RUN (dedup.paragraphs.enabled: auto = on where
documents of its apply_to origins exist) are in common.smk.
"""

# What the line hashes depend on (the gather and apply steps add theirs).
PARAGRAPHS_SCOPE = {"apply_to": PARAGRAPHS["apply_to"]}


rule paragraphs_hash:
    """Every line's hash of one shard, and the sorted distinct ones (uint64, .npy;
    memory: a batch of documents, then gather_batch hashes)."""
    input:
        docs=upstream("paragraphs"),
    output:
        lines=out("paragraphs/lines/{shard}.npy"),
        hashes=out("paragraphs/hashes/{shard}.npy"),
    log:
        log_path("paragraphs_hash"),
    benchmark:
        bench_path("paragraphs_hash")
    conda:
        "../envs/clean.yaml"
    params:
        settings=PARAGRAPHS_SCOPE,
        batch_rows=config["batch_rows"],
        gather_batch=PARAGRAPHS["gather_batch"],
    script:
        "../scripts/paragraphs_hash.py"


rule paragraphs_gather:
    """Per shard, the line hashes an earlier shard has (memory: gather_batch hashes)."""
    input:
        hashes=expand(out("paragraphs/hashes/{shard}.npy"), shard=SHARDS),
    output:
        earlier=expand(out("paragraphs/earlier/{shard}.npy"), shard=SHARDS),
        stats=out("paragraphs/gather.json"),
    log:
        log_path("paragraphs_gather", "all"),
    benchmark:
        bench_path("paragraphs_gather", "all")
    conda:
        "../envs/clean.yaml"
    params:
        settings={"gather_batch": PARAGRAPHS["gather_batch"]},
    script:
        "../scripts/paragraphs_gather.py"


rule paragraphs:
    """Remove the lines of one shard seen earlier in the build; reject documents
    left too short (paragraph_dedup)."""
    input:
        docs=upstream("paragraphs"),
        lines=out("paragraphs/lines/{shard}.npy"),
        hashes=out("paragraphs/hashes/{shard}.npy"),
        earlier=out("paragraphs/earlier/{shard}.npy"),
    output:
        docs=docs_of("paragraphs"),
        rejected=rejected("paragraphs"),
        stats=stage_stats("paragraphs"),
    log:
        log_path("paragraphs"),
    benchmark:
        bench_path("paragraphs")
    conda:
        "../envs/clean.yaml"
    threads: 1
    params:
        settings={
            **{k: v for k, v in PARAGRAPHS.items() if k != "enabled"},
            **({"index": DEDUP_INDEX["read"]} if DEDUP_INDEX["read"] else {}),
        },
        batch_rows=config["batch_rows"],
    script:
        "../scripts/paragraphs.py"
