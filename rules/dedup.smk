"""Exact + MinHash near-duplicate removal (corpusforge.dedup), as scatter/gather steps.

fingerprint (per shard) -> exact (gather) -> signatures (per shard)
-> bands (per band group) -> clusters (gather) -> dedup (filter, per shard)
"""

from corpusforge.dedup import band_group_names, settings as dedup_settings

# The schema's defaults filled in; bands/rows resolved (datasketch's optimum when null).
DEDUP = canon(dedup_settings(config["dedup"]))
DEDUP_GROUPS = band_group_names(DEDUP)
DEDUP_TOKENS = {
    k: DEDUP[k] for k in ("char_langs", "word_ngram", "char_ngram", "min_tokens")
}
DEDUP_MINHASH = {k: DEDUP[k] for k in ("near", "num_perm", "seed", "scheme")}


rule dedup_fingerprint:
    """Exact hash, length and (boilerplate on) paragraph hashes of one shard."""
    input:
        docs=upstream("dedup"),
    output:
        fingerprints=out("dedup/fingerprints/{shard}.parquet"),
        paragraphs=out("dedup/paragraphs/{shard}.parquet"),
    log:
        log_path("dedup_fingerprint"),
    benchmark:
        bench_path("dedup_fingerprint")
    conda:
        "../envs/dedup.yaml"
    params:
        tokens=DEDUP_TOKENS,
        boilerplate=DEDUP["boilerplate"],
        batch_rows=config["batch_rows"],
    script:
        "../scripts/dedup_fingerprint.py"


rule dedup_exact:
    """Exact duplicate clusters and boilerplate paragraphs over all shards."""
    input:
        fingerprints=expand(out("dedup/fingerprints/{shard}.parquet"), shard=SHARDS),
        paragraphs=expand(out("dedup/paragraphs/{shard}.parquet"), shard=SHARDS),
    output:
        exact=out("dedup/exact.parquet"),
        boilerplate=out("dedup/boilerplate.parquet"),
        stats=out("dedup/exact.json"),
    log:
        log_path("dedup_exact", "all"),
    benchmark:
        bench_path("dedup_exact", "all")
    conda:
        "../envs/dedup.yaml"
    params:
        exact=DEDUP["exact"],
        keep=DEDUP["keep"],
        boilerplate=DEDUP["boilerplate"],
    script:
        "../scripts/dedup_exact.py"


rule dedup_signatures:
    """MinHash signatures of one shard (exact duplicates and short texts skipped)."""
    input:
        docs=upstream("dedup"),
        exact=out("dedup/exact.parquet"),
        boilerplate=out("dedup/boilerplate.parquet"),
    output:
        signatures=out("dedup/signatures/{shard}.parquet"),
    log:
        log_path("dedup_signatures"),
    benchmark:
        bench_path("dedup_signatures")
    conda:
        "../envs/dedup.yaml"
    params:
        tokens=DEDUP_TOKENS,
        minhash=DEDUP_MINHASH,
        batch_rows=config["batch_rows"],
    script:
        "../scripts/dedup_signatures.py"


rule dedup_bands:
    """Candidate pairs from the LSH bands of one band group, over all shards."""
    input:
        signatures=expand(out("dedup/signatures/{shard}.parquet"), shard=SHARDS),
    output:
        pairs=out("dedup/bands/{group}.parquet"),
    log:
        log_path("dedup_bands", "{group}"),
    benchmark:
        bench_path("dedup_bands", "{group}")
    wildcard_constraints:
        group=r"b\d{2}",
    conda:
        "../envs/dedup.yaml"
    params:
        num_perm=DEDUP["num_perm"],
        bands=DEDUP["bands"],
        rows=DEDUP["rows"],
        band_groups=DEDUP["band_groups"],
        max_bucket_pairs=DEDUP["max_bucket_pairs"],
    script:
        "../scripts/dedup_bands.py"


rule dedup_clusters:
    """Verified candidate pairs -> union-find clusters -> the document each keeps."""
    input:
        pairs=expand(out("dedup/bands/{group}.parquet"), group=DEDUP_GROUPS),
        signatures=expand(out("dedup/signatures/{shard}.parquet"), shard=SHARDS),
        exact=out("dedup/exact.parquet"),
    output:
        removed=out("dedup/removed.parquet"),
        stats=out("dedup/clusters.json"),
    log:
        log_path("dedup_clusters", "all"),
    benchmark:
        bench_path("dedup_clusters", "all")
    conda:
        "../envs/dedup.yaml"
    params:
        num_perm=DEDUP["num_perm"],
        threshold=DEDUP["threshold"],
        bands=DEDUP["bands"],
        rows=DEDUP["rows"],
        verify=DEDUP["verify"],
        verify_threshold=DEDUP["verify_threshold"],
        keep=DEDUP["keep"],
    script:
        "../scripts/dedup_clusters.py"


rule dedup:
    """Drop the duplicates of one shard; each goes to the rejected file with its twin."""
    input:
        docs=upstream("dedup"),
        removed=out("dedup/removed.parquet"),
        boilerplate=out("dedup/boilerplate.parquet"),
    output:
        docs=docs_of("dedup"),
        rejected=rejected("dedup"),
        stats=stage_stats("dedup"),
    log:
        log_path("dedup"),
    benchmark:
        bench_path("dedup")
    conda:
        "../envs/dedup.yaml"
    params:
        stage="corpusforge.dedup:DedupStage",
        settings={"boilerplate": DEDUP["boilerplate"]},
        batch_rows=config["batch_rows"],
    script:
        "../scripts/doc_stage.py"
