"""Snakemake adapter: the dataset card results/final/README.md (see corpusforge.report)."""

from corpusforge.report import write_dataset_card
from corpusforge.runtime import logged

with logged(snakemake.log[0]):
    write_dataset_card(
        snakemake.input.summary,
        snakemake.params.settings,
        list(snakemake.input.final),
        list(snakemake.input.templates),
        snakemake.output.card,
    )
