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

from corpusforge.dedup.index import DedupIndexError, workflow_index
from corpusforge.fetch import local_file, source_file_name
from corpusforge.layout import names_pattern
from corpusforge.precision import resolve_dtype
from corpusforge.quality.layout import QualityLayout
from corpusforge.seed import SeedSpec
from corpusforge.seed import pieces as seed_file_pieces
from corpusforge.seed_files import (
    globbed,
    is_file_list,
    listed_at_parse_time,
    seed_file_index,
)

RESULTS = config["results"]
SHARDS = [f"{i:04d}" for i in range(config["shards"])]
SEEDS = sorted(config["seeds"])
MODEL = config["model"]

# dtype auto, resolved where the workflow is planned (corpusforge.precision):
# bfloat16 on GPUs and on CPUs with native bfloat16, else float32; the resolved
# values are what rules prepare_model, generate and serve_model depend on, and
# what the manifest records with the reason.
MODEL_DTYPE, _MODEL_DTYPE_REASON = resolve_dtype(
    MODEL["dtype"], gpus=config["generation"]["gpus"]
)
ENGINE_DTYPE, _ENGINE_DTYPE_REASON = resolve_dtype(
    config["generation"]["engine_args"]["dtype"], gpus=config["generation"]["gpus"]
)


def precision():
    """The dtypes resolved from `auto`, and why: the model's, and the engine's where
    vLLM runs here (in the job or as the build's own server)."""
    generation = config["generation"]
    engine = generation["engine"] == "vllm" or generation["server"]["managed"]
    found = {"model": {"dtype": MODEL_DTYPE, "reason": _MODEL_DTYPE_REASON}}
    if engine:
        found["engine"] = {"dtype": ENGINE_DTYPE, "reason": _ENGINE_DTYPE_REASON}
    return canon(found)


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
    """A seed's settings but its source (the files are the rules' inputs) and pieces
    (the parts are)."""
    cfg = config["seeds"][wildcards.seed]
    return canon({k: v for k, v in cfg.items() if k not in ("source", "pieces")})


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


def seed_file_list(seed):
    """The list checkpoint seed_files wrote for a seed of many files."""
    return checkpoints.seed_files.get(seed=seed).output[0]


# A list known while the workflow is parsed (a glob, paths, a local paths file) is
# used as it is; only a remote paths file waits for the checkpoint. Snakemake
# re-evaluates the jobs behind a finished checkpoint again and again while it plans
# (10,000 files: minutes), so the files' jobs depend on it only when they must.


def seed_files_index(seed):
    """The files of a seed of many files, in order and by name (after checkpoint
    seed_files for a remote paths file)."""
    src = seed_source(seed)
    key = f"seeds.{seed}.source"
    if listed_at_parse_time(src):
        return seed_file_index(src, key)
    return seed_file_index(src, key, seed_file_list(seed))


def seed_files_of(seed):
    """The files of a seed of many files, in order."""
    return list(seed_files_index(seed)[0])


def seed_file_entry(wildcards):
    """One listed file: {name, url | path[, sha256, retries]}."""
    entry = seed_files_index(wildcards.seed)[1].get(wildcards.file)
    if entry is None:
        raise WorkflowError(f"seed {wildcards.seed} lists no file {wildcards.file!r}")
    return canon(entry)


def seed_part_file(wildcards):
    """What one ingest_seed_file job reads: a listed file (the local path, or the
    downloaded copy), or the one file of a seed read in pieces."""
    if not is_file_list(seed_source(wildcards.seed)):
        return seed_file(wildcards)
    entry = seed_file_entry(wildcards)
    if "path" in entry:
        return entry["path"]
    return out(f"downloads/{wildcards.seed}/files/{wildcards.file}")


def seed_part(seed, name, kind):
    """What ingest_seed_file writes for one part of a seed (a file, or a piece)."""
    return out(f"seed/{seed}/files/{name}/{kind}")


def seed_pieces(seed):
    """How many pieces a seed of one file is read in (``seeds.<name>.pieces``;
    auto: by the size of a local file)."""
    spec = SeedSpec.from_config(seed, config["seeds"][seed])
    return seed_file_pieces(seed_source(seed).get("path", ""), spec)


def seed_part_names(seed):
    """A seed's parts in order: its listed files, or the pieces of its one file."""
    if is_file_list(seed_source(seed)):
        return [entry["name"] for entry in seed_files_of(seed)]
    return [f"piece{index:04d}" for index in range(seed_pieces(seed))]


def seed_piece(wildcards):
    """[i, n]: the piece of a seed's one file a part is; None for a listed file."""
    if is_file_list(seed_source(wildcards.seed)):
        return None
    return [int(wildcards.file.removeprefix("piece")), seed_pieces(wildcards.seed)]


def seed_parts(kind):
    """Input function: what every part of the wildcards' seed wrote, of ``kind``."""

    def inputs(wildcards):
        names = seed_part_names(wildcards.seed)
        return [seed_part(wildcards.seed, name, kind) for name in names]

    return inputs


# The files seed_shard writes for one shard of a seed, by kind (folder, extension).
SEED_SHARD_FILES = {
    "records": ("shards", "parquet"),
    "rejected": ("rejected", "parquet"),
    "stats": ("stats", "json"),
}


def seed_shard_file(kind, seed="{seed}", shard="{shard}"):
    """A file seed_shard writes for one shard of a seed (``kind``: records, rejected, stats)."""
    folder, ext = SEED_SHARD_FILES[kind]
    return out(f"seed/{seed}/{folder}/{shard}.{ext}")


def seed_records(seeds, shard="{shard}"):
    """The seed records of ``shard`` (rule seed_shard), of every seed named."""
    return [seed_shard_file("records", seed, shard) for seed in seeds]


def all_seed_records(seeds):
    """The seed records of every shard of the seeds named."""
    return [path for shard in SHARDS for path in seed_records(seeds, shard)]


def seed_shard_outputs(kind):
    """Input function: what every shard job of the wildcards' seed wrote, of ``kind``."""
    return lambda wc: [seed_shard_file(kind, wc.seed, shard) for shard in SHARDS]


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


# Generation settings (rules/generate.smk, rules/topics.smk).
GENERATION = config["generation"]
GEN_ENGINE = GENERATION["engine"]
SERVER_MANAGED = GEN_ENGINE == "openai" and GENERATION["server"]["managed"]
# The `model` field of the documents: the served model name for engine openai.
GEN_MODEL_NAME = (
    GENERATION["openai"].get("model") or MODEL["name"]
    if GEN_ENGINE == "openai"
    else MODEL["name"]
)
# vllm.LLM's arguments (ENGINE_DTYPE: auto resolved, common.smk), for the engine in
# the job or the managed server's flags
ENGINE_ARGS = canon({**GENERATION["engine_args"], "dtype": ENGINE_DTYPE})


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
# Seeds of many files, by when their list is known (rules/seed.smk).
_LISTED_SEEDS = [s for s in SEEDS if is_file_list(seed_source(s))]
PARSED_LISTED_SEEDS = [s for s in _LISTED_SEEDS if listed_at_parse_time(seed_source(s))]
REMOTE_LISTED_SEEDS = [s for s in _LISTED_SEEDS if s not in PARSED_LISTED_SEEDS]
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
# Every seed file the build fetches from a url or hf source, by config key; the
# stages that fetch files name theirs in their rules file (<STAGE>_DOWNLOADS) and
# rules/report.smk gathers those of the stages that run. The manifest records the
# sha256 of each (files.downloads), also of what a source without a pinned sha256 gave.
SEED_DOWNLOADS = {
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
# The quality stage's file layout; also the seed scorer's (prompts.seed_quality).
QL = QualityLayout(QUALITY, out)
# prompts.topics: topic clusters of the extracts before prompts (rules/topics.smk).
TOPICS = canon(config["prompts"]["topics"])  # schema defaults filled in
TOPICS_RUN = TOPICS["enabled"] and any(
    config["seeds"][s].get("kind", "extracts") == "extracts" for s in PROMPT_SEEDS
)
# Web stages with `enabled: auto` (the default) run where documents they apply to
# exist: the URL filter where pages with URLs can exist (modes web and both); line
# corrections and paragraph dedup where documents of their apply_to origins exist.
URL_FILTER = canon(config["url_filter"])  # schema defaults filled in
LINE_CORRECTIONS = canon(config["line_corrections"])
PARAGRAPHS = canon(config["dedup"]["paragraphs"])
# dedup.index (corpusforge.dedup.index, rules/index.smk): the index versions this build
# reads and the one it updates, resolved now so a parameter mismatch fails before any job.
try:
    DEDUP_INDEX = canon(workflow_index(config, RESULTS))
except DedupIndexError as error:
    raise WorkflowError(str(error)) from None
INDEX_RUN = bool(DEDUP_INDEX["read"] or DEDUP_INDEX["update"])


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
# The document stages in data-flow order, each with whether it runs in this build.
# This list is the one place a stage is plugged in: the Snakefile includes
# rules/<stage>.smk for every entry, each stage reads the documents of the running
# stage before it (results/docs/<stage>/<shard>.parquet), and export reads the
# last one. A stage that does not run has its rules defined but unreached.
# Adding a stage: docs/adding-a-stage.md.
STAGES = [
    ("generate", GENERATES),  # documents from prompts (vLLM)
    ("collect", COLLECTS),  # seed documents join, origin labels
    ("url_filter", URL_FILTER_RUN),  # RefinedWeb domain lists, URL words
    ("clean", CLEAN_RUN),  # ftfy, OpenCC, garbled text, PII, flagged words
    ("line_corrections", LINE_CORRECTIONS_RUN),  # RefinedWeb widget lines
    ("langid", True),  # fastText language ID: lang, lang_score
    ("index", INDEX_RUN),  # documents already in the dedup index
    ("paragraphs", PARAGRAPHS_RUN),  # CC-NET paragraph dedup
    ("quality", QUALITY["enabled"]),  # model-based quality score
    ("filters", FILTERS_RUN),  # Gopher, C4, SlimPajama rules
    ("perplexity", True),  # SentencePiece + KenLM, head/middle/tail
    ("dedup", True),  # exact + MinHash near-duplicates
    ("decontam", bool(DECONTAM_BENCHMARKS)),  # benchmark n-gram overlap
    ("mix", MODE == "both"),  # web share of the corpus
]
DOC_STAGES = [stage for stage, runs in STAGES if runs]
# Stages that make documents; the others clean them.
SOURCE_STAGES = [s for s in DOC_STAGES if s in ("generate", "collect")]
CLEANING_STAGES = [s for s in DOC_STAGES if s not in SOURCE_STAGES]


def docs_of(stage):
    return out(f"docs/{stage}/{{shard}}.parquet")


def upstream(stage):
    """The documents a document stage reads: those of the stage before it in
    DOC_STAGES. For a stage that does not run in this build, an input function that
    fails if a job of it is ever asked for (none is: nothing reads its output)."""
    if stage not in DOC_STAGES:

        def not_in_build(wildcards):
            raise WorkflowError(
                f"stage {stage} does not run in this build (DOC_STAGES)"
            )

        return not_in_build
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
        "seed_records": all_seed_records(SEEDS),
        "final": [path for shard in SHARDS for path in final_files(shard)],
        "export_stats": expand(stage_stats("export"), shard=SHARDS),
    }
    if GENERATES:
        files["prompt_seeds"] = all_seed_records(PROMPT_SEEDS)
        files["prompts"] = expand(out("prompts/{shard}.parquet"), shard=SHARDS)
        files["prompts_rejected"] = expand(rejected("prompts"), shard=SHARDS)
        files["prompts_stats"] = expand(stage_stats("prompts"), shard=SHARDS)
        if TOPICS_RUN:
            files["topics"] = [out("stats/topics/topics.json")]
    if COLLECTS:
        files["document_seeds"] = all_seed_records(DOCUMENT_SEEDS)
    for stage in DOC_STAGES:
        files[f"{stage}_docs"] = expand(docs_of(stage), shard=SHARDS)
        files[f"{stage}_rejected"] = expand(rejected(stage), shard=SHARDS)
        files[f"{stage}_stats"] = expand(stage_stats(stage), shard=SHARDS)
    if "perplexity" in DOC_STAGES:
        files["perplexity_cutoffs"] = rules.perplexity_cutoffs.output.cutoffs
    if TRAIN_RUN:
        files["train_mixture"] = rules.train_mixture.output.mixture
    return files


def manifest_downloads():
    """Every file the build fetches from a url or hf source, by config key: the seeds'
    and those of the stages that run (each names its own in its rules file,
    <STAGE>_DOWNLOADS; called by rules/report.smk once they are all included)."""
    found = {**SEED_DOWNLOADS, **LANGID_DOWNLOADS}
    if "url_filter" in DOC_STAGES:
        found.update(URL_FILTER_DOWNLOADS)
    if "decontam" in DOC_STAGES:
        found.update(DECONTAM_DOWNLOADS)
    return found


def final_outputs():
    """Targets of the default build: the corpus, its summary and audit, the
    report's figures, the dataset card and the provenance manifest (report.smk)."""
    return [
        *[path for shard in SHARDS for path in final_files(shard)],
        *rules.summarize.output,
        *rules.plots.output,
        *rules.dataset_card.output,
        *rules.manifest.output,
        *([out("index/published.json")] if DEDUP_INDEX["update"] else []),
        *(rules.train_mixture.output if TRAIN_RUN else []),
    ]
