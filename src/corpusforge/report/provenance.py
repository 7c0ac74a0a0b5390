"""The provenance manifest of a build: resolved config and its hash, package versions,
git state and the checksums of the models, seeds, templates and corpus files."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import platform
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..io import dumps_json, path_lists, sha256_file, write_json

log = logging.getLogger("corpusforge.report")

CHUNK = 1 << 20


# Named inputs of a document stage's rule that are model files (also `model_*`).
MODEL_INPUT_NAMES = frozenset({"model", "lm", "kenlm", "sp", "spm", "sentencepiece", "tokenizer"})


SKIP_NAMES = (".snakemake_timestamp",)


def checksums(paths: Iterable[str | Path]) -> dict[str, dict[str, Any]]:
    """``{path: {sha256, bytes}}`` of files; folders are walked (sorted, hidden markers skipped)."""
    result: dict[str, dict[str, Any]] = {}
    for path in paths:
        path = Path(path)
        files = (
            sorted(p for p in path.rglob("*") if p.is_file() and p.name not in SKIP_NAMES)
            if path.is_dir()
            else [path]
        )
        for file in files:
            result[file.as_posix()] = {"sha256": sha256_file(file), "bytes": file.stat().st_size}
    return result


def resolve_inputs(values: Iterable[Any], wildcards: Any) -> list[str]:
    """Paths from static paths and input functions (called with ``wildcards``), flattened."""
    paths: list[str] = []
    for value in values:
        found = value(wildcards) if callable(value) else value
        if isinstance(found, str | os.PathLike):
            paths.append(str(found))
        elif found is not None:
            paths.extend(str(p) for p in found)
    return paths


def config_hash(config: Any) -> str:
    """sha256 of the canonical JSON of the resolved config (keys sorted).

    The config goes through JSON once first, so that non-string keys (the n-gram
    sizes of the Gopher rules) are strings before sorting: the manifest's own copy
    of the config hashes to the same value.
    """
    as_json = json.loads(json.dumps(config, default=str))
    return hashlib.sha256(dumps_json(as_json).encode("utf-8")).hexdigest()


def package_versions() -> dict[str, str]:
    """Every installed distribution of this Python environment, by name."""
    versions = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata.get("Name")
        if name:
            versions[name.lower()] = dist.version
    return {k: versions[k] for k in sorted(versions)}


def git_state(folder: str | Path) -> dict[str, Any] | None:
    """Commit and dirtiness of ``folder`` when it is the top of a git checkout, else None."""
    folder = Path(folder).resolve()
    if not (folder / ".git").exists():
        return None

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(folder), *args], capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.CalledProcessError):
        return None
    return {"commit": commit, "dirty": dirty}


def manifest(
    config: Any,
    inputs: Mapping[str, Iterable[str | Path]],
    workflow_dir: str | Path,
    extra_models: Iterable[str | Path] = (),
    precision: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The provenance of a build.

    ``inputs``: named groups of files to checksum (``models``, ``seeds``,
    ``templates``, ``corpus``, ...); ``extra_models``: model files that are not
    rule inputs (the GGUF a model was converted from); ``precision``: the dtype the
    model was converted to and the engine ran in, and why (corpusforge.precision).
    """
    groups = {name: checksums(paths) for name, paths in sorted(inputs.items())}
    extra = checksums(p for p in extra_models if Path(p).exists())
    if extra:
        groups["models"] = {**groups.get("models", {}), **extra}
    git = git_state(workflow_dir)
    return {
        "config": config,
        "config_sha256": config_hash(config),
        "workflow": {
            "git_commit": git["commit"] if git else None,
            "git_dirty": git["dirty"] if git else None,
        },
        "python": sys.version.split()[0],
        "platform": f"{platform.system()} {platform.machine()}",
        "packages": package_versions(),
        "precision": dict(precision or {}),
        "files": groups,
    }


def source_models(model_cfg: Mapping[str, Any]) -> list[Path]:
    """Model files that are not rule inputs: the GGUF a converted model came from."""
    if model_cfg.get("source") != "gguf":
        return []
    from ..model import gguf_path

    return [gguf_path(dict(model_cfg))]


def write_manifest(
    config: Any,
    inputs: Mapping[str, Any],
    workflow_dir: str | Path,
    out: str | Path,
    precision: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The job of rule manifest: the provenance of the build from its named ``inputs``
    (a path or a list of paths each), written to ``out``."""
    result = manifest(
        config,
        path_lists(inputs),
        workflow_dir,
        extra_models=source_models(config["model"]),
        precision=precision,
    )
    log.info("config sha256 %s, git %s", result["config_sha256"], result["workflow"])
    write_json(result, out)
    return result
