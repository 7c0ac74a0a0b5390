"""End to end: the real workflow on the default config, in a fresh copy of the repo."""

from __future__ import annotations

import hashlib
import http.server
import json
import re
import threading
from pathlib import Path

import pandas as pd
import pytest
import yaml
from workflow_util import assert_lint_clean, copy_repo, planned_jobs, refused, seed_records, smk

pytestmark = pytest.mark.workflow


def downstream_rules(workdir: Path, rule: str) -> set[str]:
    """``rule`` and every rule after it in the workflow's rule graph."""
    proc = smk(workdir, "--rulegraph")
    assert proc.returncode == 0, proc.stderr
    names = dict(re.findall(r'^\s*(\d+)\[label = "(\w+)"', proc.stdout, re.M))
    edges = re.findall(r"^\s*(\d+) -> (\d+)", proc.stdout, re.M)
    found, todo = set(), [k for k, v in names.items() if v == rule]
    while todo:
        node = todo.pop()
        found.add(names[node])
        todo += [b for a, b in edges if a == node and names[b] not in found]
    return found


@pytest.fixture(scope="module")
def built(default_build) -> Path:
    return default_build


def read_jsonl(paths) -> list[dict]:
    return [
        json.loads(line) for p in paths for line in Path(p).read_text(encoding="utf-8").splitlines()
    ]


def test_default_build_generates_a_real_corpus(built):
    results = built / "results"
    finals = sorted((results / "final").glob("*/*/corpus-*.jsonl"))
    # partitioned by language and perplexity bucket, the same files for every shard
    assert len(finals) == 2 * 2 * 4
    for path in finals:
        for doc in read_jsonl([path]):
            assert (doc["lang"], doc["bucket"]) == (path.parent.parent.name, path.parent.name)
            assert doc["perplexity"] > 0 and 0.5 <= doc["lang_score"] <= 1
    docs = read_jsonl(finals)
    rejected = pd.concat(
        [pd.read_parquet(p) for p in sorted((results / "rejected").rglob("*.parquet"))]
    )
    # every one of the 48 seed rows is a document or a rejected row
    seed_ids = set(seed_records(results, "default")["id"])
    assert len(seed_ids) == 48
    assert {d["seed_id"] for d in docs} | set(rejected["seed_id"].dropna()) == seed_ids
    assert len(docs) + len(rejected) == 48
    assert len(docs) >= 30
    for doc in docs:
        assert doc["text"].strip() and doc["model"] == "smollm2-135m-instruct"
        assert doc["lang"] in {"en", "zh"} and doc["token_length"] > 0
        assert doc["prompt"] and doc["format"] and doc["audience"]
    assert "en" in {d["lang"] for d in docs}
    assert {d["bucket"] for d in docs} >= {"head", "tail"}
    summary = json.loads((results / "stats/summary.json").read_text())
    assert summary["audit"]["ok"] and summary["accounting"]["balanced"]
    assert summary["stages"]["generate"]["completion_tokens"] > 1000
    # mode generate: no collect/web stages/filters/mix; clean and quality on the generated
    # documents; every document checked against the sample benchmark
    assert summary["mode"] == "generate" and "origins" not in summary
    stages = ["generate", "clean", "langid", "quality", "perplexity", "dedup", "decontam"]
    assert summary["doc_stages"] == stages
    index = json.loads((results / "decontam/index.json").read_text())
    assert index["benchmarks"]["sample"]["texts"] == 24 and index["unique_ngrams"] > 100
    assert summary["stages"]["decontam"]["in"] == len(docs) + len(
        rejected[rejected["stage"] == "decontam"]
    )
    assert {d["origin"] for d in docs} == {"generated"}
    # each job left its log and benchmark
    assert (results / "logs/generate/0000.log").stat().st_size > 0
    assert (results / "benchmarks/generate/0001.tsv").exists()
    generated = pd.read_parquet(results / "docs/generate/0000.parquet")
    assert {"finish_reason", "prompt_tokens", "completion_tokens", "engine"} <= set(
        generated.columns
    )
    assert generated["id"].is_monotonic_increasing


def test_rerun_with_nothing_changed_does_nothing(built):
    proc = smk(built, "-n")
    assert proc.returncode == 0
    assert planned_jobs(proc) == {}


def edit_config(workdir: Path, change) -> str:
    path = workdir / "config/config.yaml"
    original = path.read_text()
    config = yaml.safe_load(original)
    change(config)
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return original


def test_a_changed_parameter_reruns_exactly_its_rule_and_what_follows(built):
    config_file = built / "config/config.yaml"
    # the same values with keys in another order (safe_dump sorts them): nothing to do
    original = edit_config(built, lambda c: None)
    try:
        assert planned_jobs(smk(built, "-n")) == {}
        edit_config(built, lambda c: c["generation"]["sampling"].update(temperature=0.7))
        jobs = planned_jobs(smk(built, "-n"))
        assert jobs["generate"] == 2
        assert set(jobs) == downstream_rules(built, "generate")
        assert {"langid", "export_jsonl", "summarize", "all"} <= set(jobs)
        config_file.write_text(original)
        edit_config(built, lambda c: c["prompts"].update(max_extract_chars=400))
        jobs = planned_jobs(smk(built, "-n"))
        assert jobs["build_prompts"] == 2
        assert set(jobs) == downstream_rules(built, "build_prompts")
        assert not {"ingest_seed", "prepare_model"} & set(jobs)
    finally:
        config_file.write_text(original)
    assert planned_jobs(smk(built, "-n")) == {}


def test_invalid_config_is_refused_naming_the_key(tmp_path):
    assert "shards" in refused(copy_repo(tmp_path), "--config", "shards=0")


def test_lint_is_clean(tmp_path):
    assert_lint_clean(copy_repo(tmp_path))


class _SeedServer(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


def test_url_seed_is_downloaded_checked_and_ingested(tmp_path):
    workdir = copy_repo(tmp_path)
    rows = [{"body": f"remote extract number {i}"} for i in range(5)] + [{"body": ""}]
    _SeedServer.body = "".join(json.dumps(r) + "\n" for r in rows).encode()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SeedServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/dump/web.jsonl"
    digest = hashlib.sha256(_SeedServer.body).hexdigest()
    try:
        for sha, expect_ok in (("0" * 64, False), (digest, True)):
            edit_config(
                workdir,
                lambda c, sha=sha: c["seeds"].update(
                    web={"source": {"url": url, "sha256": sha}, "columns": {"text": "body"}}
                ),
            )
            proc = smk(workdir, "--cores", "1", "results/stats/seed/web.json")
            downloaded = workdir / "results/downloads/web/web.jsonl"
            if not expect_ok:
                assert proc.returncode != 0
                assert "sha256" in proc.stdout + proc.stderr
                assert not downloaded.exists()
                continue
            assert proc.returncode == 0, proc.stderr[-3000:]
            assert downloaded.read_bytes() == _SeedServer.body
            records = seed_records(workdir / "results", "web")
            rejects = pd.read_parquet(workdir / "results/rejected/seed/web.parquet")
            assert len(records) == 5 and list(rejects["reason"]) == ["empty_text"]
    finally:
        server.shutdown()
