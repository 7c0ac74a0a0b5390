"""Snakemake adapter: tokenize one final jsonl file (see corpusforge.train.tokenize)."""

from corpusforge.runtime import logged
from corpusforge.train.tokenize import tokenize_file

with logged(snakemake.log[0]):
    tokenize_file(
        snakemake.input.jsonl,
        snakemake.input.tokenizer,
        snakemake.params.train,
        snakemake.params.prefix,
        snakemake.threads,
    )
