"""Model-based quality: a classifier's score per document (corpusforge.quality).

  download_quality_file  (per remote file)   a reference text or a given fastText model
  train_quality          (per language)      fastText classifier from positive/negative references
  prepare_quality_model  (once, engine hf)   a sequence classifier at a pinned revision
  quality                (per shard)         quality_score, quality_label; low_quality rejected

The same models score the seed extracts when prompts.seed_quality is set (rules/prompts.smk).
QUALITY (the section, schema defaults filled in) and SEED_QUALITY are in common.smk.
"""

import posixpath

from corpusforge.quality import settings as quality_settings

QUALITY_CFG = quality_settings(QUALITY)
QUALITY_ENGINE = QUALITY_CFG["engine"]
QUALITY_MODELS = QUALITY["fasttext"]["models"] if QUALITY_ENGINE == "fasttext" else {}
QUALITY_LANGS = sorted(QUALITY_MODELS)
QUALITY_TRAINED = [
    lang for lang in QUALITY_LANGS if "model" not in QUALITY_MODELS[lang]
]
QUALITY_HF = QUALITY["hf"]
QUALITY_GPUS = QUALITY_HF["gpus"] if QUALITY_ENGINE == "hf" else 0


def quality_source(lang, kind):
    """The configured source of a language's given model (kind `model`) or of its
    n-th positive/negative reference (kind `positive0`, `negative1`, ...)."""
    entry = QUALITY_MODELS[lang]
    if kind == "model":
        return entry["model"]
    group = kind.rstrip("0123456789")
    return entry[group][int(kind[len(group) :])]["source"]


def quality_source_file(lang, kind):
    """A source's local file: its path, or where download_quality_file puts it."""
    source = quality_source(lang, kind)
    if "path" in source:
        return source["path"]
    remote = (
        source["url"].split("?")[0] if "url" in source else source["hf"]["filename"]
    )
    name = posixpath.basename(remote) or "file"
    return out(f"quality/downloads/{lang}/{kind}/{name}")


def quality_references(lang, group):
    refs = QUALITY_MODELS[lang][group]
    return [quality_source_file(lang, f"{group}{i}") for i in range(len(refs))]


def quality_training(lang):
    """What a language's trained model depends on (not the thresholds)."""
    ft = QUALITY["fasttext"]
    entry = QUALITY_MODELS[lang]
    return canon(
        {
            "fasttext": {
                "models": {
                    lang: {
                        k: v
                        for k, v in entry.items()
                        if k not in ("positive", "negative")
                    }
                },
                "training": ft["training"],
                "lowercase": ft["lowercase"],
                "cjk_languages": ft["cjk_languages"],
            },
            "formats": {
                group: [[r["format"], r["text_field"]] for r in entry[group]]
                for group in ("positive", "negative")
            },
        }
    )


def quality_hf_dir():
    if QUALITY_HF.get("path"):
        return QUALITY_HF["path"]
    return out("models-quality/hf")


def quality_models():
    """engine fasttext: language -> model file; engine hf: the model folder."""
    if QUALITY_ENGINE == "hf":
        return quality_hf_dir()
    return {
        lang: (
            out(f"quality/{lang}/{lang}.bin")
            if lang in QUALITY_TRAINED
            else quality_source_file(lang, "model")
        )
        for lang in QUALITY_LANGS
    }


def quality_scorer_settings():
    """The settings a scorer depends on (not the stage's thresholds): seed selection."""
    drop = ("min_score", "min_score_by_lang", "unscored")
    return canon({k: v for k, v in QUALITY_CFG.items() if k not in drop})


def quality_model_files(wildcards=None):
    models = quality_models()
    return [models] if isinstance(models, str) else list(models.values())


rule download_quality_file:
    """Fetch a remote reference text or given fastText model (sha256-checked when given)."""
    output:
        out("quality/downloads/{lang}/{kind}/{filename}"),
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
        source=lambda wc: quality_source(wc.lang, wc.kind),
    script:
        "../scripts/quality.py"


rule train_quality:
    """A language's fastText classifier from its references (one thread, fixed seed)."""
    input:
        positive=lambda wc: quality_references(wc.lang, "positive"),
        negative=lambda wc: quality_references(wc.lang, "negative"),
    output:
        model=out("quality/{lang}/{lang}.bin"),
        meta=out("quality/{lang}/{lang}.json"),
    log:
        log_path("train_quality", "{lang}"),
    benchmark:
        bench_path("train_quality", "{lang}")
    wildcard_constraints:
        lang="|".join(QUALITY_TRAINED) or "(?!)",
    conda:
        "../envs/quality.yaml"
    threads: 1
    params:
        training=lambda wc: quality_training(wc.lang),
    script:
        "../scripts/train_quality.py"


rule prepare_quality_model:
    """Download the hf engine's model at its pinned revision, once."""
    output:
        directory(out("models-quality/hf")),
    log:
        log_path("prepare_quality_model", "hf"),
    benchmark:
        bench_path("prepare_quality_model", "hf")
    conda:
        "../envs/quality.yaml"
    params:
        repo_id=QUALITY_HF.get("repo_id"),
        revision=QUALITY_HF.get("revision"),
    script:
        "../scripts/quality.py"


if "quality" in DOC_STAGES:

    rule quality:
        """Score every document; reject those below their language's min_score."""
        input:
            docs=upstream("quality"),
            models=quality_model_files,
        output:
            docs=docs_of("quality"),
            rejected=rejected("quality"),
            stats=stage_stats("quality"),
        log:
            log_path("quality"),
        benchmark:
            bench_path("quality")
        conda:
            "../envs/quality.yaml"
        threads: QUALITY_HF["threads"] if QUALITY_ENGINE == "hf" else 1
        resources:
            gpu=QUALITY_GPUS,
        params:
            settings=canon(QUALITY_CFG),
            models=quality_models(),
            results=RESULTS,
        script:
            "../scripts/quality.py"
