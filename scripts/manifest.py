"""Snakemake adapter: the provenance manifest results/manifest.json (see corpusforge.report)."""

from pathlib import Path

from corpusforge.io import write_json
from corpusforge.report import manifest
from corpusforge.runtime import logged


def source_models(model_cfg):
    """Model files that are not rule inputs: the GGUF a converted model came from."""
    if model_cfg.get("source") != "gguf":
        return []
    from corpusforge.model import gguf_path

    return [gguf_path(model_cfg)]


with logged(snakemake.log[0]) as log:
    inputs = {
        name: [value] if isinstance(value, str) else list(value)
        for name, value in snakemake.input.items()
    }
    # the workflow folder: scripts/ is directly inside it
    workflow_dir = Path(snakemake.scriptdir).parent
    result = manifest(
        snakemake.params.config,
        inputs,
        workflow_dir,
        extra_models=source_models(snakemake.params.config["model"]),
    )
    log.info("config sha256 %s, git %s", result["config_sha256"], result["workflow"])
    write_json(result, snakemake.output.manifest)
