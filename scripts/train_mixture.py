"""Snakemake adapter: the training mixture's token files (see corpusforge.train.mixture)."""

from corpusforge.runtime import logged
from corpusforge.train.mixture import build_mixture

with logged(snakemake.log[0]):
    p = snakemake.params
    build_mixture(p.files, p.train, p.groups, p.out_dir, p.tokenizer_name)
