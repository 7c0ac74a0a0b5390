"""Snakemake adapter: the report's plots (see corpusforge.report)."""

from corpusforge.io import read_json
from corpusforge.report import draw_plots
from corpusforge.runtime import logged
from corpusforge.stats import read_final

with logged(snakemake.log[0]) as log:
    summary = read_json(snakemake.input.summary)
    final = read_final(snakemake.input.final)
    outputs = {name: getattr(snakemake.output, name) for name in snakemake.params.plots}
    draw_plots(summary, final, outputs)
    log.info("drew %s from %d documents", ", ".join(outputs), len(final))
