"""Trainer-ready output: tokenize each final jsonl file, then one mixture job writes
the held-out split and the shuffled mixture as Megatron-LM or datatrove token files
(corpusforge.train)."""

from corpusforge.train.mixture import check_groups
from corpusforge.train.settings import tokenizer_source, train_outputs

TRAIN = canon(config["train"])  # schema defaults filled in
# Groups in the order written: a document belongs to the first that matches it.
TRAIN_GROUPS = [
    [pattern, canon(spec)] for pattern, spec in config["train"]["groups"].items()
]
if TRAIN_RUN:  # (the rules below run only when final_outputs asks for them)
    check_groups(
        TRAIN_GROUPS,
        TRAIN["total_tokens"],
        TRAIN["max_epochs"],
        [f"{lang}/{bucket}" for lang in EXPORT_LANGS for bucket in EXPORT_BUCKETS],
        ORIGINS + SEEDS,
    )
# The tokenizer folder, and the name token files record for it.
TRAIN_TOKENIZER, TRAIN_TOKENIZER_NAME = tokenizer_source(
    TRAIN["tokenizer"],
    MODEL,
    tokenizer_dir() if COLLECTS else model_dir(),
    out,
    TRAIN["dtype"],
)


if TRAIN["tokenizer"] and "hf" in TRAIN["tokenizer"]:

    rule train_tokenizer:
        """The tokenizer files of a pinned Hugging Face revision, once."""
        output:
            directory(TRAIN_TOKENIZER),
        log:
            log_path("train_tokenizer", "tokenizer"),
        benchmark:
            bench_path("train_tokenizer", "tokenizer")
        conda:
            "../envs/generate.yaml"
        params:
            hf=TRAIN["tokenizer"]["hf"],
        script:
            "../scripts/train_tokenizer.py"


rule tokenize:
    """One final jsonl file's documents as tokens (Megatron .bin/.idx) and their
    ids, origins and sources, in file order."""
    input:
        jsonl=out("final/{lang}/{bucket}/corpus-{shard}.jsonl"),
        tokenizer=TRAIN_TOKENIZER,
    output:
        multiext(
            out("train/tokens/{lang}/{bucket}/corpus-{shard}"),
            ".bin",
            ".idx",
            ".docs.jsonl",
        ),
    log:
        log_path("tokenize", "{lang}/{bucket}/{shard}"),
    benchmark:
        bench_path("tokenize", "{lang}/{bucket}/{shard}")
    wildcard_constraints:
        lang="|".join(EXPORT_LANGS),
        bucket="|".join(EXPORT_BUCKETS),
    conda:
        "../envs/generate.yaml"  # tokenizers, as rule collect
    threads: TRAIN["threads"]
    params:
        train={k: TRAIN[k] for k in ("bos", "eos", "bos_token", "eos_token", "dtype")},
        prefix=lambda wildcards, output: output[0][: -len(".bin")],
    script:
        "../scripts/tokenize.py"


TRAIN_FILES = [
    (f"{lang}/{bucket}", out(f"train/tokens/{lang}/{bucket}/corpus-{shard}"))
    for shard in SHARDS
    for lang in EXPORT_LANGS
    for bucket in EXPORT_BUCKETS
]
TRAIN_DIR = out(f"train/{TRAIN['name']}")


rule train_mixture:
    """The held-out split, the mixture by group and the shuffle, written for a
    trainer, with mixture.json."""
    input:
        [
            f"{prefix}{ext}"
            for _, prefix in TRAIN_FILES
            for ext in (".bin", ".idx", ".docs.jsonl")
        ],
    output:
        mixture=f"{TRAIN_DIR}/mixture.json",
        data=train_outputs(TRAIN, TRAIN_GROUPS, TRAIN_DIR),
    log:
        log_path("train_mixture", TRAIN["name"]),
    benchmark:
        bench_path("train_mixture", TRAIN["name"])
    conda:
        "../envs/core.yaml"
    params:
        files=TRAIN_FILES,
        groups=TRAIN_GROUPS,
        train={
            k: TRAIN[k]
            for k in (
                "format",
                "layout",
                "total_tokens",
                "max_epochs",
                "valid_fraction",
                "seed",
            )
        },
        out_dir=lambda wildcards, output: os.path.dirname(output.mixture),
        tokenizer_name=TRAIN_TOKENIZER_NAME,
    script:
        "../scripts/train_mixture.py"
