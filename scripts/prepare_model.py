"""Snakemake adapter: build the model folder (see corpusforge.model)."""

from pathlib import Path

from corpusforge.model import prepare
from corpusforge.runtime import logged

with logged(snakemake.log[0]):
    prepare(snakemake.params.model, Path(snakemake.output[0]))
