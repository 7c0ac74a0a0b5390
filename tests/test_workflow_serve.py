"""End to end: engine openai with the managed server (generation.server.managed).

A build starts vLLM's OpenAI-compatible server (rule serve_model), is killed while
the server runs (the whole process group of Snakemake, as a terminal's Ctrl-C or a
scheduler's kill would), and leaves no server behind; the rerun starts a new server,
builds the corpus through it, and stops it when generation is done.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from workflow_util import Background, assert_lint_clean, copy_repo, smk

from corpusforge import serve

pytestmark = [pytest.mark.workflow, pytest.mark.vllm]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    dest = copy_repo(tmp_path_factory.mktemp("serve"))
    path = dest / "config/config.yaml"
    config = yaml.safe_load(path.read_text())
    # 12 prompts of ~500 tokens per shard, all in flight at once: the server's batches
    # go past max_model_len tokens, where vLLM would split a prefill (issue #21)
    config["seeds"]["default"]["sample"] = {"n": 24}
    generation = config["generation"]
    generation["sampling"]["max_tokens"] = 32
    # the README's example: engine settings from generation.engine_args, args only add
    generation["engine"] = "openai"
    generation["server"] = {"managed": True, "args": ["--max-num-seqs", "64"]}
    generation["openai"] = {"concurrency": 64, "timeout": 300}
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    return dest


def test_a_killed_build_leaves_no_server_and_the_rerun_builds_through_one(workdir):
    results = workdir / "results"
    info_file = results / "serve/server.json"
    build = Background(workdir, "--cores", "2", output=workdir / "killed-build.log")
    try:
        build.wait_until(info_file.exists, "the server did not start")
        info = json.loads(info_file.read_text())
        assert info["base_url"].startswith("http://127.0.0.1:")
        # a generate job is about to send its requests
        job_logs = results / "logs/generate"
        build.wait_until(
            lambda: any("engine openai" in p.read_text() for p in job_logs.glob("*.log")),
            "no generate job started",
        )
    finally:
        build.kill()
    assert serve.wait_gone(info["server_pid"]) and serve.wait_gone(info["supervisor_pid"])
    assert not info_file.exists()

    assert smk(workdir, "--unlock").returncode == 0
    proc = smk(workdir, "--cores", "2", "--rerun-incomplete")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    docs = [
        json.loads(line)
        for path in sorted((results / "final").glob("*/*/corpus-*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    assert docs and {d["model"] for d in docs} == {"smollm2-135m-instruct"}
    generated = pd.concat(pd.read_parquet(p) for p in (results / "docs/generate").glob("*.parquet"))
    assert set(generated["engine"]) == {"openai"}
    summary = json.loads((results / "stats/summary.json").read_text())
    assert summary["audit"]["ok"] and summary["accounting"]["balanced"]

    # generation done: the temp() address file is gone, and so is the rerun's server
    assert not info_file.exists()
    log = (results / "logs/serve_model/server.log").read_text()
    pids = [int(p) for p in re.findall(r"ready at \S+ \(pid (\d+)\)", log)]
    assert len(pids) == 1 and pids[0] != info["server_pid"]
    assert serve.wait_gone(pids[0])
    assert "stopping the server (info file removed)" in log
    assert re.search(r"dtype (bfloat16|float32) \(auto: ", log)
    assert "--no-enable-chunked-prefill" in log
    assert "CPU Generator does not use offset" not in log


def test_the_managed_server_rules_lint_clean(workdir):
    assert_lint_clean(workdir)
    plan = smk(workdir, "-n", "--forceall", "--quiet", "rules")
    assert plan.returncode == 0, plan.stderr
    assert re.search(r"^serve_model\s+1$", plan.stdout + plan.stderr, re.M)
