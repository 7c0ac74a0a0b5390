"""Language identification with fastText: one job per shard of documents."""

from corpusforge import langid as _langid

LANGID = config.get("langid") or {}
# The fastText LID model (package and file filled in by the schema): by default a
# file inside an installed Python package; else a local path, or what
# download_langid_model fetched (corpusforge.langid.model_path).
LANGID_MODEL = canon(LANGID.get("model") or {})

try:
    LANGID_MODEL_FILE = str(_langid.model_path(LANGID_MODEL, out("models-langid")))
except _langid.LangIdError as exc:  # e.g. the model's package is not installed
    raise WorkflowError(str(exc)) from None
# What download_langid_model fetches, by config key (the manifest records it).
LANGID_DOWNLOADS = (
    {"langid.model.source": LANGID_MODEL_FILE}
    if not {"url", "hf"}.isdisjoint(LANGID_MODEL.get("source") or {})
    else {}
)
# Every langid setting the kept documents depend on (the model's file is an input).
LANGID_SETTINGS = canon({**LANGID, "model": LANGID_MODEL})


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
        "../scripts/download_langid_model.py"


rule langid:
    """Label each document with lang and lang_score; keep the configured languages
    above their score threshold, reject the rest with a reason."""
    input:
        docs=upstream("langid"),
        model=LANGID_MODEL_FILE,
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
        stage="corpusforge.langid:LangIdStage",
        settings=LANGID_SETTINGS,
        batch_rows=config["batch_rows"],
    script:
        "../scripts/doc_stage.py"
