"""Model-based quality: a classifier's score per document (corpusforge.quality).

  download_quality_file  (per remote file)   a reference text or a given fastText model
  train_quality          (per language)      fastText classifier from positive/negative references
  prepare_quality_model  (once, engine hf)   a sequence classifier at a pinned revision
  quality                (per shard)         quality_score, quality_label; low_quality rejected
  quality_cutoffs        (gather, buckets)   score cutoffs per language -> stats/quality_cutoffs.json
  quality_bucket         (per shard, buckets) quality_bucket; the stage's documents and stats

Without quality.buckets (the default) rule quality writes the stage's documents and
stats; with it, quality/scored/{shard}.parquet|json, which quality_bucket finishes.

The same models score the seed extracts when prompts.seed_quality is set (rules/prompts.smk).
QUALITY (the section, schema defaults filled in), SEED_QUALITY and QL (the file layout:
every path declared once, corpusforge.quality.layout.QualityLayout.PATHS, through
QL.path) are in common.smk.
"""


rule download_quality_file:
    """Fetch a remote reference text or given fastText model (sha256-checked when given)."""
    output:
        QL.path("download"),
    log:
        log_path("download_quality_file", "{lang}/{kind}/{filename}"),
    benchmark:
        bench_path("download_quality_file", "{lang}/{kind}/{filename}")
    wildcard_constraints:
        kind=r"model|(positive|negative)\d+",
    retries: 1
    conda:
        "../envs/quality.yaml"
    params:
        source=lambda wc: QL.source(wc.lang, wc.kind),
        key=lambda wc: QL.source_key(wc.lang, wc.kind),
    script:
        "../scripts/download.py"


rule train_quality:
    """A language's fastText classifier from its references (one thread, fixed seed)."""
    input:
        positive=lambda wc: QL.references(wc.lang, "positive"),
        negative=lambda wc: QL.references(wc.lang, "negative"),
    output:
        model=QL.path("model"),
        meta=QL.path("meta"),
    log:
        log_path("train_quality", "{lang}"),
    benchmark:
        bench_path("train_quality", "{lang}")
    wildcard_constraints:
        lang=QL.trained_pattern(),
    conda:
        "../envs/quality.yaml"
    threads: 1
    params:
        training=lambda wc: canon(QL.training(wc.lang)),
    script:
        "../scripts/train_quality.py"


rule prepare_quality_model:
    """Download the hf engine's model at its pinned revision, once."""
    output:
        directory(QL.path("hf")),
    log:
        log_path("prepare_quality_model", "hf"),
    benchmark:
        bench_path("prepare_quality_model", "hf")
    conda:
        "../envs/quality.yaml"
    params:
        repo_id=QL.hf.get("repo_id"),
        revision=QL.hf.get("revision"),
    script:
        "../scripts/prepare_quality_model.py"


rule quality:
    """Score every document; reject those below their language's min_score."""
    input:
        docs=upstream("quality"),
        models=QL.model_files,
    output:
        docs=QL.scored("parquet") if QL.buckets else docs_of("quality"),
        rejected=rejected("quality"),
        stats=QL.scored("json") if QL.buckets else stage_stats("quality"),
    log:
        log_path("quality"),
    benchmark:
        bench_path("quality")
    conda:
        "../envs/quality.yaml"
    threads: QL.threads
    resources:
        gpu=QL.gpus,
    params:
        stage="corpusforge.quality:QualityStage",
        settings=canon({**QL.settings(), "results": config["results"]}),
        batch_rows=config["batch_rows"],
    script:
        "../scripts/doc_stage.py"


# With quality.buckets, rule quality scores and these finish the stage.
if QL.buckets:

    rule quality_cutoffs:
        """Per-language score cutoffs over the kept documents of every shard."""
        input:
            scored=expand(QL.scored("parquet"), shard=SHARDS),
        output:
            cutoffs=QL.cutoffs(),
        log:
            log_path("quality_cutoffs", "cutoffs"),
        benchmark:
            bench_path("quality_cutoffs", "cutoffs")
        conda:
            "../envs/quality.yaml"
        params:
            buckets=canon(QL.buckets),
        script:
            "../scripts/quality_cutoffs.py"

    rule quality_bucket:
        """quality_bucket per document from its language's cutoffs."""
        input:
            scored=QL.scored("parquet"),
            stats=QL.scored("json"),
            cutoffs=QL.cutoffs(),
        output:
            docs=docs_of("quality"),
            stats=stage_stats("quality"),
        log:
            log_path("quality_bucket"),
        benchmark:
            bench_path("quality_bucket")
        conda:
            "../envs/quality.yaml"
        script:
            "../scripts/quality_bucket.py"
