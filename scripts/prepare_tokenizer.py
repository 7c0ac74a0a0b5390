"""Snakemake adapter: build the tokenizer folder (see corpusforge.tokenizer)."""

from pathlib import Path

from corpusforge.runtime import logged
from corpusforge.tokenizer import prepare_tokenizer

with logged(snakemake.log[0]):
    prepare_tokenizer(snakemake.params.model, Path(snakemake.output[0]))
