"""Snakemake adapter: the provenance manifest results/manifest.json (see corpusforge.report)."""

from pathlib import Path

from corpusforge.report import write_manifest
from corpusforge.runtime import logged

with logged(snakemake.log[0]):
    # the workflow folder: scripts/ is directly inside it
    workflow_dir = Path(snakemake.scriptdir).parent
    params = snakemake.params
    write_manifest(
        params.config, snakemake.input, workflow_dir, snakemake.output.manifest, params.precision
    )
