"""Seed download and ingest: a local file, a URL or a Hugging Face dataset file, or
many files (a glob, a list of paths, a paths file such as Common Crawl's
wet.paths.gz; see corpusforge.seed_files).

A seed of many files is built in four steps: the list of its files is written
(rule list_seed_files when it is known at parse time; checkpoint seed_files for a
remote paths file, after download_seed fetched it), each remote file
is fetched by its own download_seed_file job (resumable), each file is read by its
own ingest_seed_file job (a seed of one file: each of its ``pieces``), the
parts' records already split by shard; seed_keys and one seed_shard job per shard
then make the seed's records of each shard (corpusforge.seed_shards). The list is
a checkpoint because the files of a paths file are known only once it is
downloaded: Snakemake re-evaluates the DAG after it, and only the jobs behind it
wait. A glob or a list in the config is resolved while the
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
    group:
        # on a cluster, many files' jobs per Slurm job (profiles/slurm: group-components)
        "seed_files"
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
    """Read one part of a seed (a listed file, or a piece of its one file): rows
    checked, rejects with reasons, counts; the records written split by shard."""
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
    group:
        # on a cluster, many files' jobs per Slurm job (profiles/slurm: group-components)
        "seed_files"
    conda:
        "../envs/web.yaml"  # core + warcio and trafilatura for WARC/WET seeds
    params:
        seed=seed_ingest_params,
        listed=lambda wc: is_file_list(seed_source(wc.seed)),
        piece=seed_piece,
        shards=config["shards"],
        batch_rows=config["batch_rows"],
    script:
        "../scripts/ingest_seed_file.py"


rule seed_keys:
    """The choices that need the whole seed, from its parts' key columns alone: rows
    that repeat an earlier row's id, and the cut of the seed's sample."""
    input:
        records=seed_parts("records.parquet"),
        stats=seed_parts("stats.json"),
    output:
        repeated=out("seed/{seed}/keys.parquet"),
        sample=out("seed/{seed}/sample.json"),
    log:
        log_path("seed_keys", "{seed}"),
    benchmark:
        bench_path("seed_keys", "{seed}")
    conda:
        "../envs/web.yaml"  # corpusforge.seed: the readers of every format
    params:
        seed=seed_ingest_params,
        batch_rows=config["batch_rows"],
    script:
        "../scripts/seed_keys.py"


rule seed_shard:
    """A shard's seed records: every part's rows of the shard merged by id, texts
    repeated across parts and the keys' choices rejected."""
    input:
        records=seed_parts("records.parquet"),
        stats=seed_parts("stats.json"),
        repeated=rules.seed_keys.output.repeated,
        sample=rules.seed_keys.output.sample,
    output:
        records=seed_shard_file("records"),
        rejected=seed_shard_file("rejected"),
        stats=seed_shard_file("stats"),
    log:
        log_path("seed_shard", "{seed}/{shard}"),
    benchmark:
        bench_path("seed_shard", "{seed}/{shard}")
    conda:
        "../envs/web.yaml"  # corpusforge.seed: the readers of every format
    params:
        seed=seed_ingest_params,
        shards=config["shards"],
        batch_rows=config["batch_rows"],
    script:
        "../scripts/seed_shard.py"


rule ingest_seed:
    """A seed's rejected rows and stats, gathered from its parts and shards."""
    input:
        part_rejected=seed_parts("rejected.parquet"),
        part_stats=seed_parts("stats.json"),
        shard_rejected=seed_shard_outputs("rejected"),
        shard_stats=seed_shard_outputs("stats"),
    output:
        rejected=rejected("seed", "{seed}"),
        stats=stage_stats("seed", "{seed}"),
    log:
        log_path("ingest_seed", "{seed}"),
    conda:
        "../envs/web.yaml"  # corpusforge.seed: the readers of every format
    script:
        "../scripts/ingest_seed.py"
