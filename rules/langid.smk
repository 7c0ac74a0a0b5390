"""Language identification with fastText: one job per shard of documents.

Helpers (LANGID_MODEL, langid_model_file, langid_settings) are in common.smk.
"""


rule download_langid_model:
    """Fetch the configured LID model (URL or Hugging Face file), sha256-checked."""
    output:
        out("models-langid/{name}"),
    log:
        log_path("download_langid_model", "{name}"),
    benchmark:
        bench_path("download_langid_model", "{name}")
    retries: 1
    conda:
        "../envs/langid.yaml"
    params:
        source=LANGID_MODEL.get("source"),
    script:
        "../scripts/langid.py"


rule langid:
    """Label each document with lang and lang_score; keep the configured languages
    above their score threshold, reject the rest with a reason."""
    input:
        docs=upstream("langid"),
        model=langid_model_file,
    output:
        docs=docs_of("langid"),
        rejected=rejected("langid"),
        stats=stage_stats("langid"),
    log:
        log_path("langid"),
    benchmark:
        bench_path("langid")
    conda:
        "../envs/langid.yaml"
    threads: 1
    params:
        settings=langid_settings(),
        model=LANGID_MODEL,
    script:
        "../scripts/langid.py"
