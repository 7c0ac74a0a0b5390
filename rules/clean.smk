"""Clean stage: text repair, Chinese conversion, garbled text, pinyin, PII, flagged
words, site lines. One job per shard (corpusforge.clean).

CLEAN and CLEAN_RUN (origins in clean.apply_to) are in common.smk: they decide
whether the stage runs.
"""

_FLAGGED = CLEAN["flagged_words"]
# Language -> local file of its flagged-word list: its path, or where
# download_clean_words puts it. Inputs of the rule, so editing a list reruns it.
CLEAN_WORD_FILES = (
    {
        f"words_{lang}": local_file(
            item["source"], out(f"clean/words/{lang}"), "words.txt"
        )
        for lang, item in sorted(_FLAGGED["lists"].items())
    }
    if _FLAGGED["enabled"]
    else {}
)


rule download_clean_words:
    """Fetch a flagged-word list (URL or Hugging Face file, sha256-checked when given)."""
    output:
        out("clean/words/{lang}/{filename}"),
    log:
        log_path("download_clean_words", "{lang}/{filename}"),
    benchmark:
        bench_path("download_clean_words", "{lang}/{filename}")
    retries: 1
    conda:
        "../envs/clean.yaml"
    params:
        source=lambda wc: _FLAGGED["lists"][wc.lang]["source"],
        key=lambda wc: f"clean.flagged_words.lists.{wc.lang}.source",
    script:
        "../scripts/download.py"


rule clean:
    """Repair, convert, mask and check each document; reject the garbled, the
    pinyin-mixed, those with flagged words (or personal data, pii.mode drop)."""
    input:
        **CLEAN_WORD_FILES,
        docs=upstream("clean"),
    output:
        docs=docs_of("clean"),
        rejected=rejected("clean"),
        stats=stage_stats("clean"),
    log:
        log_path("clean"),
    benchmark:
        bench_path("clean")
    conda:
        "../envs/clean.yaml"
    threads: 1
    params:
        stage="corpusforge.clean:CleanStage",
        settings=CLEAN,
        batch_rows=config["batch_rows"],
    script:
        "../scripts/doc_stage.py"
