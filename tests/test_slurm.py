"""profiles/slurm on a real single-node Slurm (tools/slurm/setup.sh), against a local run.

The session fixture installs and starts Slurm (root, Debian's slurm-wlm, one
fake GPU GRES) and stops it afterwards unless it was already running. The real
workflow runs twice on a small config, each in a fresh copy of the repo: with
``--cores 2``, and through ``--profile profiles/slurm`` with the CI-only flags;
the final corpora must be the same bytes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from workflow_util import copy_repo, planned_jobs

from corpusforge.serve import wait_gone

ROOT = Path(__file__).resolve().parents[1]
SETUP = ROOT / "tools/slurm/setup.sh"
TEARDOWN = ROOT / "tools/slurm/teardown.sh"
CTLD_PID = Path("/run/slurm/slurmctld.pid")
# Flags for this one-node cluster without accounting, not for real clusters:
# status from squeue (MinJobAge=3600 in setup.sh keeps finished jobs visible,
# >= 3x the 1 s before the first check), and no more threads than the node's
# 2 CPUs (sbatch refuses more). Without accounting the plugin's account guess
# prints an sacct error and submits without -A (its --slurm-no-account flag is
# not implemented in 2.8.0).
CI_FLAGS = [
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "1",
    "--max-threads",
    "2",
]
# The node has 2 CPUs: one for the generation job's GPU, one for the rest.
CI_ENV = {"CORPUSFORGE_SLURM_CPUS_PER_GPU": "1"}
RUN_TIMEOUT = 1500

pytestmark = pytest.mark.slurm


def daemon_running(pidfile: Path) -> bool:
    try:
        os.kill(int(pidfile.read_text()), 0)
    except (OSError, ValueError):
        return False
    return True


@pytest.fixture(scope="session")
def slurm():
    """A running single-node Slurm; stopped at the end if this fixture started it."""
    assert os.geteuid() == 0, "tests/test_slurm.py needs root (it installs and starts Slurm)"
    was_running = daemon_running(CTLD_PID)
    # nice: the daemons, and so the jobs they start, yield to other work
    proc = subprocess.run(
        ["nice", "-n", "10", "bash", str(SETUP)], capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    yield proc.stdout
    if not was_running:
        subprocess.run(["bash", str(TEARDOWN)], capture_output=True, text=True, timeout=120)
        assert not daemon_running(CTLD_PID)


def small_copy(dest: Path) -> Path:
    """A fresh copy of the repo with a small default config."""
    copy_repo(dest)
    path = dest / "config/config.yaml"
    config = yaml.safe_load(path.read_text())
    config["shards"] = 2
    config["seeds"]["default"]["sample"] = {"n": 6}
    config["generation"]["sampling"]["max_tokens"] = 32
    # the fake GPU GRES has no device behind it: run on the CPU, as asked for here
    config["generation"]["allow_cpu_fallback"] = True
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    return dest


def snakemake(workdir: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    # timeout -k: Snakemake with the slurm plugin may ignore SIGTERM
    command = ["timeout", "-k", "30", str(RUN_TIMEOUT), "nice", "-n", "10"]
    return subprocess.run(
        [*command, sys.executable, "-m", "snakemake", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=RUN_TIMEOUT + 60,
    )


def slurm_jobs(workdir: Path) -> list[dict[str, str]]:
    """Slurm's records of the jobs submitted from ``workdir`` (kept MinJobAge s)."""
    out = subprocess.run(
        ["scontrol", "show", "job", "--oneliner"], capture_output=True, text=True, check=True
    ).stdout
    jobs = []
    for line in out.splitlines():
        fields = dict(re.findall(r"(\S+?)=(\S*)", line))
        if fields.get("WorkDir") == str(workdir):
            jobs.append(fields)
    return jobs


@pytest.fixture(scope="module")
def runs(slurm, tmp_path_factory):
    local = small_copy(tmp_path_factory.mktemp("local"))
    proc = snakemake(local, "--cores", "2")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    cluster = small_copy(tmp_path_factory.mktemp("slurm"))
    proc = snakemake(cluster, "--profile", "profiles/slurm", *CI_FLAGS, env=CI_ENV)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-8000:]
    return local, cluster, proc.stdout + proc.stderr


def test_slurm_run_writes_the_same_corpus_as_a_local_run(runs):
    local, cluster, _ = runs
    final = local / "results/final"
    names = sorted(str(p.relative_to(final)) for p in final.rglob("corpus-*.jsonl"))
    # partitioned as <lang>/<bucket>/corpus-<shard>.jsonl: 2 languages x 4 buckets x 2 shards
    assert len(names) == 16 and "en/head/corpus-0000.jsonl" in names
    cluster_final = cluster / "results/final"
    assert (
        sorted(str(p.relative_to(cluster_final)) for p in cluster_final.rglob("corpus-*.jsonl"))
        == names
    )
    assert sum(len((final / name).read_bytes()) for name in names) > 0
    for name in names:
        ours = (cluster / "results/final" / name).read_bytes()
        assert ours == (local / "results/final" / name).read_bytes(), name


def test_every_job_but_local_rules_ran_as_a_slurm_job(runs):
    _, cluster, log = runs
    jobs = slurm_jobs(cluster)
    assert jobs, "no Slurm job ran from " + str(cluster)
    assert all(j["JobState"] == "COMPLETED" and j["ExitCode"] == "0:0" for j in jobs), jobs
    # a seed's files are read in group seed_files (one file here: one job in the group)
    rules = sorted(re.sub(r"^rule_(seed_files_)?|_wildcards_.*$", "", j["Comment"]) for j in jobs)
    # rules marked `localrule: True` (and the target) run in the main process
    local = set(re.findall(r"^localrule (\w+):$", log, re.M))
    assert "all" in local
    planned = planned_jobs(log)
    assert rules == sorted(r for r, n in planned.items() if r not in local for _ in range(n))
    assert {"prepare_model", "generate", "export_jsonl"} <= set(rules)


def test_generation_requested_the_gpu_and_ran_on_the_cpu(runs):
    _, cluster, _ = runs
    generate = [j for j in slurm_jobs(cluster) if j["Comment"].startswith("rule_generate_")]
    assert len(generate) == 2
    for job in generate:
        # profiles/slurm's set-resources: --gpus=1 --cpus-per-gpu=1 --mem 16000
        assert job["TresPerJob"] == "gres:gpu:1", job
        assert job["NumCPUs"] == "1" and job["MinMemoryNode"] == "16000M", job
    for shard in ("0000", "0001"):
        log = (cluster / f"results/logs/generate/{shard}.log").read_text()
        # corpusforge.devices took the GPU Slurm allocated, as given...
        assert re.search(r"GPU\(s\) \['0'\] allocated by Slurm job \d+", log), log[-3000:]
        # ...but there is no CUDA device behind the fake GRES: the job says so, and
        # vLLM ran on the CPU (allow_cpu_fallback), with the local run's threads
        assert "no NVIDIA device is present; running on the CPU" in log
        assert "device_config=cpu" in log
        assert "VLLM_CPU_OMP_THREADS_BIND='nobind'" in log


def test_gpu_slots_takes_what_slurm_allocated(slurm, tmp_path):
    code = (
        "import os; from corpusforge.devices import gpu_slots\n"
        "with gpu_slots(int(os.environ['WANT']), lock_dir='locks') as ids:\n"
        "    print(ids, os.environ.get('CUDA_VISIBLE_DEVICES'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    env["PYTHONPATH"] = str(ROOT / "src")

    def srun(*args, want):
        proc = subprocess.run(
            ["srun", "--time=2", *args, sys.executable, "-c", code],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env={**env, "WANT": str(want)},
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    assert srun("--gpus=1", want=1) == "['0'] 0"
    assert not (tmp_path / "locks").exists()  # Slurm's allocation needs no lock
    assert srun(want=0) == "[] None"
    # more GPUs than the allocation holds: a clear error, not a silent CPU run
    proc = subprocess.run(
        ["srun", "--time=2", "--gpus=1", sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**env, "WANT": "2"},
        timeout=300,
    )
    assert proc.returncode != 0 and "wants 2 GPU(s), only 1 known" in proc.stderr


def test_setup_is_idempotent(slurm):
    pid = CTLD_PID.read_text()
    proc = subprocess.run(["bash", str(SETUP)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "ready:" in proc.stdout and "gres=gpu:1" in proc.stdout
    assert CTLD_PID.read_text() == pid  # nothing restarted


def test_a_managed_server_and_its_clients_run_in_one_allocation(slurm, tmp_path_factory):
    cluster = small_copy(tmp_path_factory.mktemp("slurm-serve"))
    path = cluster / "config/config.yaml"
    config = yaml.safe_load(path.read_text())
    config["generation"].update(engine="openai", server={"managed": True})
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    # the clients need neither a GPU nor the engine's memory (docs/cluster.md)
    env = {**CI_ENV, "CORPUSFORGE_SLURM_GPUS": "0", "CORPUSFORGE_SLURM_GENERATE_MEM_MB": "2000"}
    # generation only: the corpus through a managed server is test_workflow_serve's, and
    # the corpus through Slurm is the first test's
    shards = [f"results/docs/generate/{i:04d}.parquet" for i in range(2)]
    proc = snakemake(cluster, "--profile", "profiles/slurm", *CI_FLAGS, *shards, env=env)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-8000:]
    comments = [job["Comment"] for job in slurm_jobs(cluster)]
    # one Slurm job ran the server and both generate jobs (group `generation`)
    assert comments.count("rule_generation_generate_serve_model") == 1, comments
    assert not [c for c in comments if c.startswith(("rule_generate_", "rule_serve_model"))]
    log = (cluster / "results/logs/serve_model/server.log").read_text()
    pids = [int(p) for p in re.findall(r"ready at \S+ \(pid (\d+)\)", log)]
    assert len(pids) == 1 and "corpusforge.serve: stopping the server" in log
    assert wait_gone(pids[0])
    generated = [pd.read_parquet(cluster / shard) for shard in shards]
    assert sum(len(docs) for docs in generated) > 0
    assert all((docs["engine"] == "openai").all() for docs in generated)
    assert not (cluster / "results/serve/server.json").exists()


def test_a_seeds_files_are_grouped_into_few_slurm_jobs(slurm, tmp_path_factory):
    """Five files of a glob seed are ingested by two Slurm jobs (three files and two,
    CORPUSFORGE_SLURM_FILES_PER_JOB=3), not five: a crawl is not a Slurm job per file."""
    cluster = copy_repo(tmp_path_factory.mktemp("slurm-files"))
    (cluster / "pages").mkdir()
    for i in range(5):
        rows = [
            {"text": f"Page {i}.{j}: a few words about the tides of the sea."} for j in range(3)
        ]
        (cluster / f"pages/{i}.jsonl").write_text(
            "".join(f'{{"text": "{r["text"]}"}}\n' for r in rows)
        )
    seed = {"kind": "documents", "source": {"glob": "pages/*.jsonl"}}
    (cluster / "files.yaml").write_text(yaml.safe_dump({"mode": "web", "seeds": {"pages": seed}}))
    env = {**CI_ENV, "CORPUSFORGE_SLURM_FILES_PER_JOB": "3"}
    target = "results/stats/seed/pages.json"
    args = (target, "--profile", "profiles/slurm", *CI_FLAGS, "--configfile", "files.yaml")
    proc = snakemake(cluster, *args, env=env)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-8000:]
    comments = [job["Comment"] for job in slurm_jobs(cluster)]
    assert comments.count("rule_seed_files_ingest_seed_file") == 2, comments
    assert not [c for c in comments if c.startswith("rule_ingest_seed_file_")], comments
    stats = yaml.safe_load((cluster / target).read_text())
    assert stats["in"] == 15 and stats["kept"] == 15 and len(stats["files"]) == 5
