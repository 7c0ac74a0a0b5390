"""Snakemake adapter: the dataset card results/final/README.md (see corpusforge.report)."""

from pathlib import Path

import yaml

from corpusforge.io import read_json, write_text
from corpusforge.report import dataset_card
from corpusforge.runtime import logged

with logged(snakemake.log[0]):
    templates = {
        path: yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        for path in snakemake.input.templates
    }
    card = dataset_card(
        read_json(snakemake.input.summary),
        snakemake.params.settings,
        list(snakemake.input.final),
        Path(snakemake.output.card).parent,
        templates,
    )
    write_text(card, snakemake.output.card)
