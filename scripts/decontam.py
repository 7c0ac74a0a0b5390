"""Snakemake adapter for rules/decontam.smk (see corpusforge.decontam).

Rule ``decontam_index``: hash the benchmarks' n-grams into one index file.
Rule ``decontam``: check one shard of documents against the index.
"""

from corpusforge.decontam import index_step, run_index
from corpusforge.runtime import doc_stage_job, logged

if snakemake.rule == "decontam":
    doc_stage_job(snakemake, lambda: index_step(snakemake.input.index, snakemake.params.settings))
else:
    with logged(snakemake.log[0]):
        files = {name: str(path) for name, path in snakemake.input.items()}
        run_index(files, snakemake.params.settings, snakemake.output.index, snakemake.output.stats)
