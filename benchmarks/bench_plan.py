"""How long Snakemake takes to plan a crawl of many files: a dry run of the default
web build over a seed of N files (a glob), after its listing.

    nice -n 10 .venv/bin/python benchmarks/bench_plan.py --files 1000 10000

Each size: N small jsonl files (two documents each) in a fresh copy of the
repository, `mode: web`, one `documents` seed with `glob: pages/*.jsonl`; then
`snakemake -n --cores 2` is timed (wall and CPU seconds of the process tree), and
the number of jobs it planned is read from its job table.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_pipeline import copy_repo, run_measured  # noqa: E402


def write_files(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        rows = [{"text": f"Page {i}, part {j}: the tides follow the moon."} for j in range(2)]
        (folder / f"{i:06d}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def plan(work: Path, n: int, shards: int) -> dict:
    wd = work / f"files{n}"
    if wd.exists():
        shutil.rmtree(wd)
    copy_repo(ROOT, wd)
    write_files(wd / "pages", n)
    seed = {"kind": "documents", "source": {"glob": "pages/*.jsonl"}}
    cfg = {"mode": "web", "shards": shards, "seeds": {"pages": seed}}
    (wd / "plan.yaml").write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "snakemake", "-n", "--cores", "2", "--configfile", "plan.yaml"]
    started = time.perf_counter()
    measured = run_measured(cmd, wd, work / f"plan{n}.log")
    log = (work / f"plan{n}.log").read_text()
    jobs = {}
    for line in log.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] not in ("job", "total"):
            jobs[parts[0]] = int(parts[1])
    return {**measured, "jobs": jobs, "seconds": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--work", type=Path, default=Path("/tmp/corpusforge-bench-plan"))
    args = parser.parse_args()
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    names = [line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line]
    print(f"CPU: {names[0] if names else platform.processor()}; shards: {args.shards}")
    for n in args.files:
        run = plan(args.work, n, args.shards)
        total = sum(run["jobs"].values())
        print(
            f"{n:,} files: dry run {run['wall']:.1f} s wall, {run['cpu']:.1f} s CPU, "
            f"{total:,} jobs planned (ingest_seed_file {run['jobs'].get('ingest_seed_file', 0):,}, "
            f"seed_shard {run['jobs'].get('seed_shard', 0)}), peak {run['peak_rss_mb']:.0f} MB",
            flush=True,
        )


if __name__ == "__main__":
    main()
