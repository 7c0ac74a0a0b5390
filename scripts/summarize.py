"""Snakemake adapter: stats per stage and the no-record-lost audit (see corpusforge.stats)."""

from corpusforge.runtime import logged
from corpusforge.stats import write_summary

with logged(snakemake.log[0]):
    p = snakemake.params
    write_summary(
        snakemake.input,
        snakemake.output.summary,
        p.doc_stages,
        bench_dir=p.benchmarks,
        exclude_rules=p.after_summary,
        shards=p.shards,
        mode=p.mode,
        unused_seeds=p.unused_seeds,
    )
