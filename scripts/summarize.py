"""Snakemake adapter: stats per stage and the no-record-lost audit (see corpusforge.stats)."""

from corpusforge import stats as st
from corpusforge.io import write_json
from corpusforge.runtime import logged


def named_inputs(inputs):
    """The rule's named inputs as lists of paths (a single path becomes a list of one)."""
    return {
        name: [value] if isinstance(value, str) else list(value) for name, value in inputs.items()
    }


with logged(snakemake.log[0]) as log:
    params = snakemake.params
    summary = st.summarize_workflow(
        named_inputs(snakemake.input),
        params.doc_stages,
        bench_dir=params.benchmarks,
        exclude_rules=params.after_summary,
        shards=params.shards,
        mode=params.mode,
        unused_seeds=params.unused_seeds,
    )
    for audit in summary["audit"]["stages"]:
        log.info("audit %s", audit)
    st.check(summary)
    write_json(summary, snakemake.output.summary)
