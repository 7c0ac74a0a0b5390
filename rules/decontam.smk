"""Benchmark decontamination: an n-gram index of the benchmarks, then one job per shard.

DECONTAM and DECONTAM_BENCHMARKS (the configured benchmarks) are in common.smk:
they decide whether the stage runs.
"""

# Benchmark name -> its local file: its path, or where download_benchmark puts it.
DECONTAM_FILES = {
    name: local_file(bench["source"], out(f"decontam/benchmarks/{name}"), "data")
    for name, bench in sorted(DECONTAM_BENCHMARKS.items())
}
# What download rules fetch, by config key (the manifest records them).
DECONTAM_DOWNLOADS = {
    f"decontam.benchmarks.{name}.source": DECONTAM_FILES[name]
    for name, bench in DECONTAM_BENCHMARKS.items()
    if "path" not in bench["source"]
}


rule download_benchmark:
    """Fetch a benchmark file (URL or Hugging Face file, sha256-checked when given)."""
    output:
        out("decontam/benchmarks/{bench}/{filename}"),
    log:
        log_path("download_benchmark", "{bench}/{filename}"),
    benchmark:
        bench_path("download_benchmark", "{bench}/{filename}")
    retries: 1
    conda:
        "../envs/web.yaml"
    params:
        source=lambda wc: DECONTAM_BENCHMARKS[wc.bench]["source"],
        key=lambda wc: f"decontam.benchmarks.{wc.bench}.source",
    script:
        "../scripts/download.py"


rule decontam_index:
    """Hash every n-gram of every configured benchmark once: sorted uint64 hashes."""
    input:
        **DECONTAM_FILES,
    output:
        index=out("decontam/index.parquet"),
        stats=out("decontam/index.json"),
    log:
        log_path("decontam_index", "index"),
    benchmark:
        bench_path("decontam_index", "index")
    conda:
        "../envs/web.yaml"
    params:
        settings=DECONTAM,
    script:
        "../scripts/decontam_index.py"


rule decontam:
    """Reject documents sharing an n-gram with a benchmark (reason `contaminated`)."""
    input:
        docs=upstream("decontam"),
        index=out("decontam/index.parquet"),
    output:
        docs=docs_of("decontam"),
        rejected=rejected("decontam"),
        stats=stage_stats("decontam"),
    log:
        log_path("decontam"),
    benchmark:
        bench_path("decontam")
    conda:
        "../envs/web.yaml"
    threads: 1
    params:
        stage="corpusforge.decontam:DecontamStage",
        settings=DECONTAM,
        batch_rows=config["batch_rows"],
    script:
        "../scripts/doc_stage.py"
