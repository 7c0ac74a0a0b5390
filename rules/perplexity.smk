"""Quality stage, the CC-NET way: SentencePiece + KenLM perplexity, head/middle/tail.

  download_lm_file   (per remote file)  reference text or ready-made model files
  train_lm           (per language)     normalize, SentencePiece, lmplz, build_binary
  describe_lm        (per language)     a ready-made model's checksums (+ reference scores)
  perplexity_score   (per shard)        adds `perplexity` (and `lang` if absent)
  perplexity_cutoffs (gather)           cutoffs per language -> stats/perplexity_cutoffs.json
  perplexity_bucket  (per shard)        adds `bucket`: docs_of, rejected, stage_stats

File layout (every path, declared once: corpusforge.perplexity.layout.PATHS, through
PPL.path) and config checks: corpusforge.perplexity.WorkflowLayout / settings.
KenLM's lmplz/build_binary come from tools/build_kenlm.sh (or $CORPUSFORGE_KENLM_BIN).
"""

from corpusforge.perplexity import WorkflowLayout

PPL = WorkflowLayout(canon(config.get("perplexity") or {}), out)


rule download_lm_file:
    """Fetch a remote reference text or ready-made model file (sha256-checked when given)."""
    output:
        PPL.path("download"),
    log:
        log_path("download_lm_file", "{lang}/{kind}/{filename}"),
    benchmark:
        bench_path("download_lm_file", "{lang}/{kind}/{filename}")
    wildcard_constraints:
        lang=PPL.pattern(PPL.langs),
        kind="reference|sp|lm",
    retries: 1
    conda:
        "../envs/perplexity.yaml"
    params:
        source=lambda wc: PPL.source(wc.lang, wc.kind),
        key=lambda wc: PPL.source_key(wc.lang, wc.kind),
    script:
        "../scripts/download.py"


rule train_lm:
    """Train one language's SentencePiece and 5-gram KenLM models on its reference text."""
    input:
        reference=lambda wc: PPL.source_file(wc.lang, "reference"),
    output:
        sp=PPL.path("sp"),
        lm=PPL.path("lm"),
        meta=PPL.path("meta"),
    log:
        log_path("train_lm", "{lang}"),
    benchmark:
        bench_path("train_lm", "{lang}")
    wildcard_constraints:
        lang=PPL.pattern(PPL.trained),
    conda:
        "../envs/perplexity.yaml"
    threads: 1
    resources:
        mem_mb=3000,
    params:
        training=lambda wc: canon(PPL.training(wc.lang)),
        reference_format=lambda wc: PPL.reference_format(wc.lang),
        text_field=lambda wc: PPL.text_field(wc.lang),
    script:
        "../scripts/train_lm.py"


rule describe_lm:
    """Checksums of ready-made models; perplexities of their reference text if given."""
    input:
        unpack(lambda wc: PPL.describe_inputs(wc.lang)),
    output:
        meta=PPL.path("meta"),
    log:
        log_path("describe_lm", "{lang}"),
    benchmark:
        bench_path("describe_lm", "{lang}")
    wildcard_constraints:
        lang=PPL.pattern(PPL.pretrained),
    conda:
        "../envs/perplexity.yaml"
    params:
        reference_format=lambda wc: PPL.reference_format(wc.lang),
        text_field=lambda wc: PPL.text_field(wc.lang),
    script:
        "../scripts/describe_lm.py"


rule perplexity_score:
    """Document perplexity (CC-NET formula) with the model of each document's language."""
    input:
        docs=upstream("perplexity"),
        sp=PPL.all_files("sp"),
        lm=PPL.all_files("lm"),
    output:
        scored=PPL.scored(),
    log:
        log_path("perplexity_score"),
    benchmark:
        bench_path("perplexity_score")
    conda:
        "../envs/perplexity.yaml"
    threads: PPL.cfg["threads"]
    params:
        models=PPL.model_paths(),
        batch_rows=config["batch_rows"],
    script:
        "../scripts/perplexity_score.py"


rule perplexity_cutoffs:
    """Head/tail cutoffs per language from the corpus, the reference text or the config."""
    input:
        unpack(lambda wc: PPL.cutoff_inputs(SHARDS)),
    output:
        cutoffs=PPL.path("cutoffs"),
    log:
        log_path("perplexity_cutoffs", "cutoffs"),
    benchmark:
        bench_path("perplexity_cutoffs", "cutoffs")
    conda:
        "../envs/perplexity.yaml"
    params:
        models=PPL.langs,
        models_cfg=canon(PPL.cfg["models"]),
        cutoffs=canon(PPL.cfg["cutoffs"]),
    script:
        "../scripts/perplexity_cutoffs.py"


rule perplexity_bucket:
    """head / middle / tail (or unscored) per document; optional tail and no-model drops."""
    input:
        docs=PPL.scored(),
        cutoffs=PPL.path("cutoffs"),
    output:
        docs=docs_of("perplexity"),
        rejected=rejected("perplexity"),
        stats=stage_stats("perplexity"),
    log:
        log_path("perplexity_bucket"),
    benchmark:
        bench_path("perplexity_bucket")
    conda:
        "../envs/perplexity.yaml"
    params:
        stage="corpusforge.perplexity:PerplexityBucketStage",
        settings={
            "models": PPL.langs,
            "unscored": PPL.cfg["unscored"],
            "drop_tail": PPL.cfg["drop_tail"],
        },
        batch_rows=config["batch_rows"],
    script:
        "../scripts/doc_stage.py"
