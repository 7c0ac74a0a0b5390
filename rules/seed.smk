"""Seed download and ingest: a local file, a URL or a Hugging Face dataset file."""


rule download_seed:
    """Fetch a remote seed file (streamed, retried, sha256-checked when given)."""
    output:
        out("downloads/{seed}/{filename}"),
    log:
        log_path("download_seed", "{seed}/{filename}"),
    benchmark:
        bench_path("download_seed", "{seed}/{filename}")
    retries: 1
    conda:
        "../envs/core.yaml"
    params:
        source=lambda wc: seed_source(wc.seed),
        key=lambda wc: f"seeds.{wc.seed}.source",
    script:
        "../scripts/download_seed.py"


rule ingest_seed:
    """Read a seed file, map its columns, reject bad rows with reasons, sample."""
    input:
        seed_file,
    output:
        records=out("seed/{seed}.parquet"),
        rejected=rejected("seed", "{seed}"),
        stats=stage_stats("seed", "{seed}"),
    log:
        log_path("ingest_seed", "{seed}"),
    benchmark:
        bench_path("ingest_seed", "{seed}")
    conda:
        "../envs/web.yaml"  # core + warcio and trafilatura for WARC/WET seeds
    params:
        seed=seed_ingest_params,
    script:
        "../scripts/ingest_seed.py"
