"""Configuration, paths and helpers shared by every rule file."""

import copy
import os
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

min_version("9.10")


configfile: "config/config.yaml"


# The seeds and benchmarks of config/config.yaml are the demo build's. Snakemake
# merges a user's config files (--configfile, --config) into the default one key
# by key, which would add a user's seeds to the demo seed; a user's `seeds` and
# `decontam.benchmarks` replace the demo's instead (`benchmarks: {}`: none).
_USER_CONFIG = workflow.config_settings.overwrite_config or {}
if "seeds" in _USER_CONFIG:
    config["seeds"] = copy.deepcopy(_USER_CONFIG["seeds"])
if isinstance(_USER_CONFIG.get("decontam"), dict) and (
    "benchmarks" in _USER_CONFIG["decontam"]
):
    config.setdefault("decontam", {})["benchmarks"] = copy.deepcopy(
        _USER_CONFIG["decontam"]["benchmarks"]
    )


validate(config, "../config/schema/config.schema.yaml")

# Scripts import the corpusforge package from this checkout, whatever
# environment (venv, conda, cluster node) runs them; so do rule files that
# resolve settings with it while the workflow is parsed. The one place the
# package is put on the path.
_SRC = str(Path(workflow.basedir) / "src")
if _SRC not in sys.path:
    sys.path.insert(0, _SRC)
os.environ.update(
    PYTHONPATH=os.pathsep.join(p for p in (_SRC, os.environ.get("PYTHONPATH")) if p)
)

from corpusforge.fetch import local_file, source_file_name
from corpusforge.seed_files import globbed, is_file_list, read_file_list

RESULTS = config["results"]
SHARDS = [f"{i:04d}" for i in range(config["shards"])]
SEEDS = sorted(config["seeds"])
MODEL = config["model"]


wildcard_constraints:
    shard=r"\d{4}",
    seed=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    model=r"[A-Za-z0-9][A-Za-z0-9_.-]*",


def canon(value):
    """A config value with every mapping's keys sorted, recursively.

    Snakemake compares a rule's params with those of the last run as written;
    sorting makes reordering keys in a config file rerun nothing.
    """
    if isinstance(value, dict):
        return {key: canon(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [canon(item) for item in value]
    return value


def out(path):
    """A path under the results folder."""
    return f"{RESULTS}/{path}"


def log_path(rule_name, name="{shard}"):
    return out(f"logs/{rule_name}/{name}.log")


def bench_path(rule_name, name="{shard}"):
    return out(f"benchmarks/{rule_name}/{name}.tsv")


# ---------------------------------------------------------------- seeds


def seed_source(seed):
    return canon(config["seeds"][seed]["source"])


def seed_remote(seed):
    """What download_seed fetches for a seed: its url/hf file, or the url/hf paths
    file of a seed of many files (rules/seed.smk); None when nothing."""
    src = seed_source(seed)
    remote = src.get("paths_file", src)
    return remote if "url" in remote or "hf" in remote else None


def download_key(seed):
    """The config key of what download_seed fetches for a seed."""
    suffix = ".paths_file" if is_file_list(seed_source(seed)) else ""
    return f"seeds.{seed}.source{suffix}"


def download_name(seed):
    """File name a downloaded seed is stored under (keeps the extension)."""
    return source_file_name(seed_remote(seed), "seed")


def seed_file(wildcards):
    """The seed file to ingest: the local path, or the downloaded copy; for a seed
    of many files, the list of its files (rules/seed.smk; each file's sha256 is in
    the seed's stats)."""
    src = seed_source(wildcards.seed)
    if is_file_list(src):
        return out(f"seed/{wildcards.seed}/files.json")
    if "path" in src:
        return src["path"]
    return out(f"downloads/{wildcards.seed}/{download_name(wildcards.seed)}")


def seed_ingest_params(wildcards):
    """Everything but the source: the file itself is the rule's input."""
    cfg = config["seeds"][wildcards.seed]
    return canon({k: v for k, v in cfg.items() if k != "source"})


# A seed of many files (glob, paths, paths_file; corpusforge.seed_files): the
# checkpoint seed_files lists them (rules/seed.smk), then each is fetched and
# ingested by its own job and ingest_seed gathers the parts.


def seed_listed(wildcards):
    """What the checkpoint lists, known at parse time: the glob's matches, the paths."""
    src = seed_source(wildcards.seed)
    if "glob" in src:
        return globbed(src["glob"], f"seeds.{wildcards.seed}.source")
    return src.get("paths")


def seed_paths_file(wildcards):
    """The paths file of a seed (local, or downloaded by download_seed); [] if none."""
    src = seed_source(wildcards.seed)
    if "paths_file" not in src:
        return []
    if "path" in src["paths_file"]:
        return src["paths_file"]["path"]
    return out(f"downloads/{wildcards.seed}/{download_name(wildcards.seed)}")


def seed_files_of(seed):
    """The files of a seed of many files, once checkpoint seed_files has run."""
    return read_file_list(checkpoints.seed_files.get(seed=seed).output[0])


def seed_file_entry(wildcards):
    """One listed file: {name, url | path[, sha256, retries]}."""
    for entry in seed_files_of(wildcards.seed):
        if entry["name"] == wildcards.file:
            return canon(entry)
    raise WorkflowError(f"seed {wildcards.seed} lists no file {wildcards.file!r}")


def seed_part_file(wildcards):
    """A listed file to ingest: the local path, or the downloaded copy."""
    entry = seed_file_entry(wildcards)
    if "path" in entry:
        return entry["path"]
    return out(f"downloads/{wildcards.seed}/files/{wildcards.file}")


def seed_part(seed, name, kind):
    """What ingest_seed_file writes for one file of a seed of many."""
    return out(f"seed/{seed}/files/{name}/{kind}")


def seed_ingest_inputs(wildcards):
    """What ingest_seed reads: the seed's one file, or the parts of its many files."""
    if not is_file_list(seed_source(wildcards.seed)):
        return {"file": seed_file(wildcards)}
    names = [entry["name"] for entry in seed_files_of(wildcards.seed)]
    return {
        kind: [seed_part(wildcards.seed, name, f"{kind}.{ext}") for name in names]
        for kind, ext in (
            ("records", "parquet"),
            ("rejected", "parquet"),
            ("stats", "json"),
        )
    }


def seed_part_names(wildcards):
    """The names of a seed's many files, in order ([] for a seed of one file)."""
    if not is_file_list(seed_source(wildcards.seed)):
        return []
    return [entry["name"] for entry in seed_files_of(wildcards.seed)]


# ---------------------------------------------------------------- model


def model_dir():
    if MODEL["source"] == "local":
        return MODEL["path"]
    return out(f"models/{MODEL['name']}")


def model_params():
    return canon({k: v for k, v in MODEL.items() if k != "name"})


def tokenizer_dir():
    """The model's tokenizer alone (rules/tokenizer.smk): what collect counts with."""
    if MODEL["source"] == "local":
        return MODEL["path"]
    return out(f"tokenizers/{MODEL['name']}")


# ---------------------------------------------------------------- mode
# generate: documents are generated from prompts over the seeds' extracts.
# web: documents are the rows of the seeds of kind `documents` (WARC/WET pages or
# any text), straight into the cleaning stages. both: the two side by side, each
# document labelled with its origin (generated or web).
MODE = config["mode"]
GENERATES = MODE in ("generate", "both")
COLLECTS = MODE in ("web", "both")
# A seed is used by the modes that read its kind; a configured seed of the other
# kind is left unread, said on stderr and listed in the summary's unused_seeds.
_DOCUMENT_KIND = {s: config["seeds"][s].get("kind") == "documents" for s in SEEDS}
DOCUMENT_SEEDS = [s for s in SEEDS if _DOCUMENT_KIND[s]] if COLLECTS else []
PROMPT_SEEDS = [s for s in SEEDS if not _DOCUMENT_KIND[s]] if GENERATES else []
UNUSED_SEEDS = [s for s in SEEDS if s not in DOCUMENT_SEEDS + PROMPT_SEEDS]
SEEDS = sorted(DOCUMENT_SEEDS + PROMPT_SEEDS)
if UNUSED_SEEDS:
    print(
        f"corpusforge: mode {MODE} does not read seeds {', '.join(UNUSED_SEEDS)} "
        "(kind documents is read in modes web and both, extracts and prompts in "
        "generate and both)",
        file=sys.stderr,
    )
if GENERATES and not PROMPT_SEEDS:
    raise WorkflowError(
        f"mode {MODE}: no seed of kind extracts or prompts to generate from "
        "(set `mode: web` to build from the documents seeds only)"
    )
if COLLECTS and not DOCUMENT_SEEDS:
    raise WorkflowError(
        f"mode {MODE}: no seed of kind documents (set `seeds.<name>.kind: documents`)"
    )
# Every file the build fetches from a url or hf source, by config key (the stage
# files add theirs). The manifest records the sha256 of each (files.downloads),
# also of what a source without a pinned sha256 gave.
DOWNLOADS = {
    download_key(seed): out(f"downloads/{seed}/{download_name(seed)}")
    for seed in SEEDS
    if seed_remote(seed)
}
ORIGINS = (["generated"] if GENERATES else []) + (["web"] if COLLECTS else [])
FILTERS = canon(config.get("filters") or {})
DECONTAM = canon(config.get("decontam") or {})
DECONTAM_BENCHMARKS = DECONTAM.get("benchmarks") or {}
FILTERS_RUN = bool(set(FILTERS["apply_to"]) & set(ORIGINS) and FILTERS["rule_sets"])
CLEAN = canon(config["clean"])  # schema defaults filled in
CLEAN_RUN = bool(set(CLEAN["apply_to"]) & set(ORIGINS))
QUALITY = canon(config["quality"])  # schema defaults filled in
SEED_QUALITY = GENERATES and config["prompts"]["seed_quality"]["mode"] != "none"
# Web stages with `enabled: auto` (the default) run where documents they apply to
# exist: the URL filter where pages with URLs can exist (modes web and both); line
# corrections and paragraph dedup where documents of their apply_to origins exist.
URL_FILTER = canon(config["url_filter"])  # schema defaults filled in
LINE_CORRECTIONS = canon(config["line_corrections"])
PARAGRAPHS = canon(config["dedup"]["paragraphs"])


def _runs(enabled, applies):
    return bool(applies) if enabled == "auto" else bool(enabled)


URL_FILTER_RUN = _runs(URL_FILTER["enabled"], COLLECTS)
LINE_CORRECTIONS_RUN = _runs(
    LINE_CORRECTIONS["enabled"], set(LINE_CORRECTIONS["apply_to"]) & set(ORIGINS)
)
PARAGRAPHS_RUN = _runs(
    PARAGRAPHS["enabled"], set(PARAGRAPHS["apply_to"]) & set(ORIGINS)
)
TRAIN_RUN = config["train"]["enabled"]  # rules/train.smk

# ---------------------------------------------------------------- stages
# Document stages in data-flow order: each reads the documents of the stage
# before it from results/docs/<stage>/<shard>.parquet, and export reads the
# last one. A stage plugs in by adding its name here (and its rule file, which
# the Snakefile includes when the stage runs).
DOC_STAGES = [
    *(["generate"] if GENERATES else []),  # documents from prompts (vLLM)
    *(["collect"] if COLLECTS else []),  # seed documents join, origin labels
    *(["url_filter"] if URL_FILTER_RUN else []),  # RefinedWeb domain lists, URL words
    *(["clean"] if CLEAN_RUN else []),  # ftfy, OpenCC, garbled text, PII, flagged words
    *(["line_corrections"] if LINE_CORRECTIONS_RUN else []),  # RefinedWeb widget lines
    "langid",
    *(["paragraphs"] if PARAGRAPHS_RUN else []),  # CC-NET paragraph dedup
    *(["quality"] if QUALITY["enabled"] else []),  # model-based quality score
    *(["filters"] if FILTERS_RUN else []),  # Gopher, C4, SlimPajama rules
    "perplexity",
    "dedup",
    *(["decontam"] if DECONTAM_BENCHMARKS else []),  # benchmark n-gram overlap
    *(["mix"] if MODE == "both" else []),  # web share of the corpus
]
# Stages that make documents; the others clean them.
SOURCE_STAGES = [s for s in DOC_STAGES if s in ("generate", "collect")]
CLEANING_STAGES = [s for s in DOC_STAGES if s not in SOURCE_STAGES]


def docs_of(stage):
    return out(f"docs/{stage}/{{shard}}.parquet")


def upstream(stage):
    """The documents a document stage reads: those of the stage before it."""
    return docs_of(DOC_STAGES[DOC_STAGES.index(stage) - 1])


def final_docs():
    return docs_of(DOC_STAGES[-1])


# The corpus is partitioned by language and perplexity bucket:
# results/final/<lang>/<bucket>/corpus-<shard>.jsonl (empty where a shard has no
# such documents). Without a language whitelist or without buckets, that level
# is `all`.
_LANGS = config["langid"]["languages"]  # null: every language
EXPORT_LANGS = sorted(_LANGS) if "langid" in DOC_STAGES and _LANGS else ["all"]
EXPORT_BUCKETS = (
    ["head", "middle", "tail", "unscored"] if "perplexity" in DOC_STAGES else ["all"]
)


def final_files(shard="{shard}"):
    """The jsonl files one export job writes."""
    return expand(
        out("final/{lang}/{bucket}/corpus-{shard}.jsonl"),
        lang=EXPORT_LANGS,
        bucket=EXPORT_BUCKETS,
        shard=shard,
    )


def rejected(stage, name="{shard}"):
    return out(f"rejected/{stage}/{name}.parquet")


def stage_stats(stage, name="{shard}"):
    return out(f"stats/{stage}/{name}.json")


def summary_inputs(wildcards):
    """Every file the audit reads, named by stage and role."""
    files = {
        "seed_stats": expand(stage_stats("seed", "{seed}"), seed=SEEDS),
        "seed_records": expand(out("seed/{seed}.parquet"), seed=SEEDS),
        "final": [path for shard in SHARDS for path in final_files(shard)],
        "export_stats": expand(stage_stats("export"), shard=SHARDS),
    }
    if GENERATES:
        files["prompt_seeds"] = expand(out("seed/{seed}.parquet"), seed=PROMPT_SEEDS)
        files["prompts"] = expand(out("prompts/{shard}.parquet"), shard=SHARDS)
        files["prompts_rejected"] = expand(rejected("prompts"), shard=SHARDS)
        files["prompts_stats"] = expand(stage_stats("prompts"), shard=SHARDS)
    if COLLECTS:
        files["document_seeds"] = expand(
            out("seed/{seed}.parquet"), seed=DOCUMENT_SEEDS
        )
    for stage in DOC_STAGES:
        files[f"{stage}_docs"] = expand(docs_of(stage), shard=SHARDS)
        files[f"{stage}_rejected"] = expand(rejected(stage), shard=SHARDS)
        files[f"{stage}_stats"] = expand(stage_stats(stage), shard=SHARDS)
    if "perplexity" in DOC_STAGES:
        files["perplexity_cutoffs"] = out("stats/perplexity_cutoffs.json")
    if TRAIN_RUN:
        files["train_mixture"] = rules.train_mixture.output.mixture
    return files


def final_outputs():
    """Targets of the default build: the corpus, its summary and audit, the
    report's figures, the dataset card and the provenance manifest (report.smk)."""
    return [
        *[path for shard in SHARDS for path in final_files(shard)],
        *rules.summarize.output,
        *rules.plots.output,
        *rules.dataset_card.output,
        *rules.manifest.output,
        *(rules.train_mixture.output if TRAIN_RUN else []),
    ]
