"""Snakemake adapter: a pinned Hugging Face tokenizer for the training data
(see corpusforge.tokenizer.tokenizer_from_hf)."""

from pathlib import Path

from corpusforge.runtime import logged
from corpusforge.tokenizer import tokenizer_from_hf

with logged(snakemake.log[0]):
    hf = snakemake.params.hf
    tokenizer_from_hf(hf["repo_id"], hf["revision"], Path(snakemake.output[0]), hf.get("cache_dir"))
