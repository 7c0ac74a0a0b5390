"""Stats, the audit that proves nothing was lost, and the report.

summarize: results/stats/summary.json (counts, audit: fails the run if a record is lost)
plots: results/report/*.png, dataset_card: results/final/README.md,
manifest: results/manifest.json; `snakemake --report report.html` gathers them.
"""

from types import SimpleNamespace

from corpusforge.report import MODEL_INPUT_NAMES, PLOT_SPECS, plot_names, resolve_inputs


report: "../report/workflow.rst"


# Rules that run after the summary: their benchmarks are not in it.
AFTER_SUMMARY = ["summarize", "plots", "dataset_card", "manifest"]
REPORT_PLOTS = plot_names(
    DOC_STAGES + (["topics"] if TOPICS_RUN else []) + (["train"] if TRAIN_RUN else [])
)
# What the dataset card states about the build (not the run settings).
CARD_SETTINGS = canon(
    {
        "card": config.get("card") or {},
        "mode": MODE,
        "doc_stages": DOC_STAGES,
        "seeds": {name: config["seeds"][name] for name in SEEDS},
        "prompts": config["prompts"],
        "model": MODEL,
        "generation": {
            "engine": config["generation"]["engine"],
            "system_prompt": config["generation"].get("system_prompt"),
            "sampling": config["generation"]["sampling"],
            "filters": config["generation"].get("filters") or {},
        },
        "stages": {stage: config.get(stage) or {} for stage in CLEANING_STAGES},
    }
)
# Model files the document stages read: inputs named `model`, `model_*`, `lm`,
# `sp`, `tokenizer` (corpusforge.report.MODEL_INPUT_NAMES) of the rules named
# after a stage (`langid`, `perplexity_score`, ...).
STAGE_MODEL_INPUTS = [
    value
    for stage in CLEANING_STAGES
    for rule_name in sorted(r.name for r in workflow.rules)
    if rule_name == stage or rule_name.startswith(f"{stage}_")
    for name, value in getattr(rules, rule_name).input.items()
    if name in MODEL_INPUT_NAMES or name.startswith("model_")
]
# The model folder (vLLM in the generate jobs) and the tokenizer folder (the
# collect jobs, rules/tokenizer.smk): a web build needs no model weights.
GENERATION_MODEL = (
    [model_dir()] if GENERATES and config["generation"]["engine"] == "vllm" else []
) + ([tokenizer_dir()] if COLLECTS and tokenizer_dir() != model_dir() else [])
# The prompt templates, when prompts are built.
PROMPT_TEMPLATES = config["prompts"]["templates"] if GENERATES else []
SEED_FILES = [seed_file(SimpleNamespace(seed=seed)) for seed in SEEDS]


rule summarize:
    """Counts per stage, and the audit that fails the run if any record is lost."""
    input:
        unpack(summary_inputs),
    output:
        summary=report(
            out("stats/summary.json"),
            caption="../report/summary.rst",
            category="4. Provenance",
            labels={"file": "summary.json"},
        ),
    log:
        log_path("summarize", "summary"),
    benchmark:
        bench_path("summarize", "summary")
    localrule: True
    conda:
        "../envs/core.yaml"
    params:
        doc_stages=DOC_STAGES,
        shards=SHARDS,
        benchmarks=out("benchmarks"),
        after_summary=AFTER_SUMMARY,
        mode=MODE,
        unused_seeds=UNUSED_SEEDS,
    script:
        "../scripts/summarize.py"


rule plots:
    """The report's figures, from the summary and the final documents."""
    input:
        summary=out("stats/summary.json"),
        final=lambda wildcards: summary_inputs(wildcards)["final"],
    output:
        **{
            name: report(
                out(f"report/{name}.png"),
                caption=f"../report/{name}.rst",
                category=PLOT_SPECS[name].category,
                labels={"figure": PLOT_SPECS[name].title},
            )
            for name in REPORT_PLOTS
        },
    log:
        log_path("plots", "plots"),
    benchmark:
        bench_path("plots", "plots")
    conda:
        "../envs/report.yaml"
    params:
        plots=REPORT_PLOTS,
    script:
        "../scripts/plots.py"


rule dataset_card:
    """The Hugging Face dataset card beside the corpus: model, prompts, filters, counts."""
    input:
        summary=out("stats/summary.json"),
        final=lambda wildcards: summary_inputs(wildcards)["final"],
        templates=PROMPT_TEMPLATES,
    output:
        card=report(
            out("final/README.md"),
            caption="../report/dataset_card.rst",
            category="4. Provenance",
            labels={"file": "final/README.md"},
        ),
    log:
        log_path("dataset_card", "card"),
    benchmark:
        bench_path("dataset_card", "card")
    localrule: True
    conda:
        "../envs/core.yaml"
    params:
        settings=CARD_SETTINGS,
    script:
        "../scripts/dataset_card.py"


rule manifest:
    """Provenance: resolved config and its hash, packages, checksums, git commit."""
    input:
        corpus=lambda wildcards: summary_inputs(wildcards)["final"],
        card=out("final/README.md"),
        summary=out("stats/summary.json"),
        seeds=SEED_FILES,
        downloads=sorted(manifest_downloads().values()),  # url/hf sources
        templates=PROMPT_TEMPLATES,
        models=lambda wildcards: resolve_inputs(
            GENERATION_MODEL + STAGE_MODEL_INPUTS, wildcards
        ),
    output:
        manifest=report(
            out("manifest.json"),
            caption="../report/manifest.rst",
            category="4. Provenance",
            labels={"file": "manifest.json"},
        ),
    log:
        log_path("manifest", "manifest"),
    benchmark:
        bench_path("manifest", "manifest")
    localrule: True
    conda:
        "../envs/core.yaml"
    params:
        config=canon(config),
        # the dtypes resolved from `auto`, and why (rules/model.smk, generate.smk)
        precision=precision(),
    script:
        "../scripts/manifest.py"
