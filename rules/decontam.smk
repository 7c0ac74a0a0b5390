"""Benchmark decontamination: an n-gram index of the benchmarks, then one job per shard."""

DECONTAM = canon(config.get("decontam") or {})
DECONTAM_BENCHMARKS = DECONTAM.get("benchmarks") or {}


def decontam_benchmark_file(name):
    """A benchmark's local file: its path, or where download_benchmark puts it."""
    src = DECONTAM_BENCHMARKS[name]["source"]
    if "path" in src:
        return src["path"]
    remote = src["url"].split("?")[0] if "url" in src else src["hf"]["filename"]
    return out(f"decontam/benchmarks/{name}/{posixpath.basename(remote) or 'data'}")


def decontam_index_inputs(wildcards=None):
    return {name: decontam_benchmark_file(name) for name in sorted(DECONTAM_BENCHMARKS)}


def decontam_source(wildcards):
    """The fetch source of a remote benchmark (url or hf, sha256, retries)."""
    return DECONTAM_BENCHMARKS[wildcards.bench]["source"]


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
        source=decontam_source,
    script:
        "../scripts/decontam.py"


rule decontam_index:
    """Hash every n-gram of every configured benchmark once: sorted uint64 hashes."""
    input:
        unpack(decontam_index_inputs),
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
        "../scripts/decontam.py"


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
        settings=DECONTAM,
    script:
        "../scripts/decontam.py"
