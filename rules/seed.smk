"""Seed download and ingest: a local file, a URL or a Hugging Face dataset file, or
many files (a glob, a list of paths, a paths file such as Common Crawl's
wet.paths.gz; see corpusforge.seed_files).

A seed of many files is built in four steps: the list of its files is written
(rule list_seed_files when it is known at parse time; checkpoint seed_files for a
remote paths file, after download_seed fetched it), each remote file
is fetched by its own download_seed_file job (resumable), each file is read by its
own ingest_seed_file job, and ingest_seed gathers the parts into the seed's
records. The list is a checkpoint because the files of a paths file are known
only once it is downloaded: Snakemake re-evaluates the DAG after it, and only the
jobs behind it wait. A glob or a list in the config is resolved while the
workflow is parsed and passed to the checkpoint as a param, so a new matching
file reruns the listing; a changed file entry reruns only that file's jobs.
"""


rule download_seed:
    """Fetch a remote seed file or paths file (streamed, retried, sha256-checked when given)."""
    output:
        out("downloads/{seed}/{filename}"),
    log:
        log_path("download_seed", "{seed}/{filename}"),
    benchmark:
        bench_path("download_seed", "{seed}/{filename}")
    wildcard_constraints:
        filename=r"[^/]+",
    retries: 1
    conda:
        "../envs/core.yaml"
    params:
        source=lambda wc: seed_remote(wc.seed),
        key=lambda wc: download_key(wc.seed),
        resume=False,
        pin=None,
    script:
        "../scripts/download.py"


checkpoint seed_files:
    """The files of a seed of many files listed by a remote paths file, in order
    (known once the paths file is fetched)."""
    input:
        paths_file=seed_paths_file,
    output:
        out("seed/{seed}/files.json"),
    log:
        log_path("seed_files", "{seed}"),
    wildcard_constraints:
        seed=names_pattern(REMOTE_LISTED_SEEDS),
    conda:
        "../envs/web.yaml"
    params:
        source=lambda wc: seed_source(wc.seed),
        listed=seed_listed,
        key=lambda wc: f"seeds.{wc.seed}.source",
    script:
        "../scripts/seed_files.py"


rule list_seed_files:
    """The files of a seed of many files known while the workflow is parsed (glob,
    paths, local paths file), written for the record; the files' jobs do not wait
    for it."""
    input:
        paths_file=seed_paths_file,
    output:
        out("seed/{seed}/files.json"),
    log:
        log_path("seed_files", "{seed}"),
    wildcard_constraints:
        seed=names_pattern(PARSED_LISTED_SEEDS),
    conda:
        "../envs/web.yaml"
    params:
        source=lambda wc: seed_source(wc.seed),
        listed=seed_listed,
        key=lambda wc: f"seeds.{wc.seed}.source",
    script:
        "../scripts/seed_files.py"


rule download_seed_file:
    """Fetch one listed file: resumable (HTTP Range), retried, sha256-checked when given."""
    output:
        out("downloads/{seed}/files/{file}"),
    log:
        log_path("download_seed_file", "{seed}/{file}"),
    benchmark:
        bench_path("download_seed_file", "{seed}/{file}")
    wildcard_constraints:
        file=r"[^/]+",
    retries: 1
    conda:
        "../envs/core.yaml"
    resources:
        downloads=1,  # --resources downloads=N: at most N files in flight
    params:
        source=seed_file_entry,
        key=lambda wc: f"seeds.{wc.seed}.source, file {wc.file}",
        resume=True,
        pin=lambda wc: f"seeds.{wc.seed}.source.sha256s: {{{wc.file}: <sha256>}}",
    script:
        "../scripts/download.py"


rule ingest_seed_file:
    """Read one listed file of a seed: rows checked, rejects with reasons, counts."""
    input:
        seed_part_file,
    output:
        records=seed_part("{seed}", "{file}", "records.parquet"),
        rejected=seed_part("{seed}", "{file}", "rejected.parquet"),
        stats=seed_part("{seed}", "{file}", "stats.json"),
    log:
        log_path("ingest_seed_file", "{seed}/{file}"),
    benchmark:
        bench_path("ingest_seed_file", "{seed}/{file}")
    wildcard_constraints:
        file=r"[^/]+",
    conda:
        "../envs/web.yaml"  # core + warcio and trafilatura for WARC/WET seeds
    params:
        seed=seed_ingest_params,
    script:
        "../scripts/ingest_seed_file.py"


rule ingest_seed:
    """Read a seed file (or gather a seed's files), map its columns, reject bad rows
    with reasons, sample."""
    input:
        unpack(seed_ingest_inputs),
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
        files=seed_part_names,
        # the records are written sharded (row groups per shard, io.write_sharded)
        shards=config["shards"],
        batch_rows=config["batch_rows"],
    script:
        "../scripts/ingest_seed.py"
