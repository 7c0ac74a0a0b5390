"""Running the real workflow in a fresh copy of the repository, for the tests."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
# What a user's clone needs to run the workflow.
COPY = ["Snakefile", "rules", "scripts", "src", "config", "resources", "profiles", "envs", "report"]


def copy_repo(dest: Path) -> Path:
    """Copy the workflow's files into ``dest`` (no results, no caches)."""
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)
    return dest


def smk(workdir: Path, *args: str, timeout: int = 1800) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Background:
    """Snakemake running in the background in its own process group (one kill takes
    every job it started), its output in ``output``: for tests that kill a build."""

    def __init__(self, workdir: Path, *args: str, output: Path):
        self.output = output
        with open(output, "w") as sink:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "snakemake", *args],
                cwd=workdir,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_until(self, ready: Callable[[], bool], what: str, timeout: float = 900) -> None:
        """Poll ``ready`` (a file the build writes) until it holds; fail with the
        build's output if the build ends first or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while not ready():
            assert self.proc.poll() is None, self.output.read_text()[-5000:]
            assert time.monotonic() < deadline, what
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL the whole build (no cleanup runs), if it still runs."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


def build(workdir: Path) -> Path:
    """The default config built from nothing in a fresh copy of the repo at ``workdir``."""
    copy_repo(workdir)
    proc = smk(workdir, "--cores", "2")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    return workdir


def build_with(workdir: Path, config: dict, pages: bytes | None = None, name: str = "mine") -> Path:
    """A build in ``workdir`` (a copy of the repository) with ``config`` written as
    ``<name>.yaml`` over the default one, and ``pages`` (a WET file's bytes) as
    ``crawl/pages.warc.wet.gz`` when given; fails with the end of Snakemake's output."""
    import yaml

    if pages is not None:
        (workdir / "crawl").mkdir(exist_ok=True)
        (workdir / "crawl/pages.warc.wet.gz").write_bytes(pages)
    (workdir / f"{name}.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
    proc = smk(workdir, "--cores", "2", "--configfile", f"{name}.yaml")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    return workdir


def rejected(workdir: Path, stage: str | None = None) -> pd.DataFrame:
    """A build's rejected rows: one stage's, or every stage's (in path order)."""
    folder = workdir / "results/rejected"
    files = sorted((folder / stage).glob("*.parquet") if stage else folder.rglob("*.parquet"))
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def seed_records(results: Path, seed: str) -> pd.DataFrame:
    """A build's records of one seed: every shard's (rule seed_shard), in shard order."""
    files = sorted((results / "seed" / seed / "shards").glob("*.parquet"))
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def planned_jobs(proc: subprocess.CompletedProcess | str) -> dict[str, int]:
    """Rule -> job count from the "Job stats" table Snakemake prints first (a dry run,
    or a run's log); empty when there is nothing to do."""
    text = proc if isinstance(proc, str) else proc.stdout + proc.stderr
    if "Nothing to be done" in text:
        return {}
    jobs = {}
    for line in text.split("Job stats:", 1)[1].splitlines()[3:]:
        match = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if not match or match.group(1) == "total":
            break
        jobs[match.group(1)] = int(match.group(2))
    return jobs


def assert_lint_clean(workdir: Path, *args: str) -> None:
    """``snakemake --lint`` (with extra arguments, e.g. a config file) finds nothing."""
    proc = smk(workdir, "--lint", *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Congratulations" in proc.stdout + proc.stderr


def refused(workdir: Path, *args: str) -> str:
    """A dry run that must fail (a config error): its whole output."""
    proc = smk(workdir, "-n", *args)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def final_docs(workdir: Path) -> pd.DataFrame:
    """Every document of a build's final jsonl files, in file order."""
    rows = [
        json.loads(line)
        for path in sorted((workdir / "results/final").rglob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    return pd.DataFrame(rows)
