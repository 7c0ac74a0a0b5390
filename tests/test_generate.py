"""Generation stage: pure parts, resumable chunks, both engines for real.

- the pure parts (seeds, filters, failure records, the failure-rate check);
- the chunk store and resume logic, with an engine stand-in that counts calls;
- the OpenAI engine against a stdlib HTTP server on 127.0.0.1 that answers with
  rate limits, server errors, timeouts and bad requests (retries, error records);
- real vLLM on the CPU through the rule's job (corpusforge.generate_job): a job
  killed with SIGKILL after its first chunk resumes there and writes the same bytes
  as an uninterrupted job;
- a real vLLM OpenAI-compatible server on 127.0.0.1 (started and stopped by
  corpusforge.serve, as the managed server of a build is), through the same job;
- where the engine runs: a job given GPUs on a node without one fails, unless
  allow_cpu_fallback.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from corpusforge import serve
from corpusforge.engines import (
    OpenAIEngine,
    ServerDown,
    api_key_from_env,
    failed_output,
    make_engine,
    model_fingerprint,
    openai_request,
)
from corpusforge.generate import (
    DOC_COLUMNS,
    DOC_SCHEMA,
    ChunkStore,
    GenerationFailed,
    check_failure_rate,
    chunk_bounds,
    chunk_dir_for,
    collect,
    generate_shard,
    request_seed,
    sampling_kwargs,
)
from corpusforge.generate_job import GPUMissing, run_job, runs_on_gpu
from corpusforge.io import read_parquet, write_parquet
from corpusforge.precision import resolve_dtype
from corpusforge.records import REJECT_COLUMNS, REJECT_SCHEMA
from corpusforge.schema import with_defaults

ROOT = Path(__file__).resolve().parents[1]
# The dtype auto resolves to on this machine's CPU (corpusforge.precision).
CPU_DTYPE = resolve_dtype("auto", gpus=0)[0]


def prompts(n: int, texts: list[str] | None = None) -> pd.DataFrame:
    texts = texts or [f"Write about {i}" for i in range(n)]
    return pd.DataFrame(
        {
            "id": [f"p{i}" for i in range(n)],
            "seed_id": [f"s{i}" for i in range(n)],
            "source": "t",
            "prompt": texts,
            "prompt_lang": "en",
            "format": "story",
            "audience": "general_public",
            "seed_data": "x",
            "topic": None,
        }
    )


def out(text, reason="stop", tokens=20):
    return {"text": text, "finish_reason": reason, "prompt_tokens": 30, "completion_tokens": tokens}


# ---------------------------------------------------------------- pure parts


def test_sampling_seeds_are_per_prompt_and_stable():
    kw = sampling_kwargs({"temperature": 0.6, "max_tokens": 8, "seed": 5}, ["a", "b"])
    assert kw[0]["temperature"] == 0.6 and kw[0]["max_tokens"] == 8
    assert kw[0]["seed"] != kw[1]["seed"]
    assert kw[0]["seed"] == request_seed(5, "a") != request_seed(6, "a")
    with pytest.raises(ValueError, match="unknown keys"):
        sampling_kwargs({"temprature": 1.0}, ["a"])


def test_collect_applies_filters_and_keeps_lineage():
    outputs = [
        out("A full answer."),
        out("   "),
        out("tiny", tokens=3),
        out("Cut off mid", reason="length", tokens=40),
    ]
    docs, rejects, stats = collect(
        prompts(4), outputs, "m", {"min_tokens": 5, "drop_truncated": True}
    )
    assert list(docs.columns) == DOC_COLUMNS
    assert list(docs["prompt_id"]) == ["p0"] and list(docs["seed_id"]) == ["s0"]
    assert docs["id"].iloc[0] not in {"p0"} and docs["engine"].iloc[0] == "vllm"
    assert list(rejects.columns) == REJECT_COLUMNS
    assert dict(zip(rejects["id"], rejects["reason"], strict=True)) == {
        "p1": "empty_generation",
        "p2": "too_short",
        "p3": "truncated",
    }
    assert rejects.set_index("id").loc["p3", "text"] == "Cut off mid"
    assert stats["in"] == 4 and stats["kept"] == 1 and stats["rejected"] == 3
    assert stats["finish_reasons"] == {"length": 1, "stop": 3}
    assert stats["completion_tokens"] == 20 + 20 + 3 + 40 and stats["kept_tokens"] == 20
    assert stats["failed"] == 1  # the empty generation
    # without drop_truncated, the truncated one is kept
    docs, rejects, _ = collect(prompts(4), outputs, "m", {"min_tokens": 5})
    assert set(docs["prompt_id"]) == {"p0", "p3"}
    with pytest.raises(ValueError, match="3 outputs for 4 prompts"):
        collect(prompts(4), outputs[:3], "m", {})


def test_failed_requests_are_rejected_with_their_error_and_can_fail_the_job():
    outputs = [out("Fine."), failed_output("HTTP 503: busy (gave up after 3 attempts)")] + [
        out(f"Doc {i}.") for i in range(8)
    ]
    docs, rejects, stats = collect(prompts(10), outputs, "m", {}, engine="openai")
    assert len(docs) == 9 and set(docs["engine"]) == {"openai"}
    row = rejects.set_index("id").loc["p1"]
    assert row["reason"] == "request_failed" and "HTTP 503" in row["detail"]
    assert row["text"] is None and row["seed_id"] == "s1"
    assert stats["failed"] == 1 and stats["finish_reasons"] == {"stop": 9}
    check_failure_rate(stats, rejects, 0.1, "0007")  # 10% is not more than 10%
    with pytest.raises(GenerationFailed) as failure:
        check_failure_rate(stats, rejects, 0.05, "0007")
    message = str(failure.value)
    assert "shard 0007" in message and "1 of 10" in message
    assert "generation.max_failure_rate 0.05" in message and "HTTP 503" in message


def test_documents_have_one_schema_whatever_the_outputs(tmp_path):
    import pyarrow.parquet as pq

    cases = {
        "all_failed": (prompts(2), [failed_output("x"), failed_output("y")]),
        "empty_shard": (prompts(1).head(0), []),
        "normal": (prompts(2), [out("One."), out("Two.", reason="length")]),
    }
    for name, (frame, outputs) in cases.items():
        docs, rejects, _ = collect(frame, outputs, "m", {})
        write_parquet(docs, tmp_path / f"{name}.parquet", schema=DOC_SCHEMA)
        write_parquet(rejects, tmp_path / f"{name}-rejects.parquet", schema=REJECT_SCHEMA)
        assert pq.read_schema(tmp_path / f"{name}.parquet").equals(DOC_SCHEMA), name


def test_openai_request_and_api_key(monkeypatch):
    kw = sampling_kwargs({"temperature": 0.6, "top_k": 50, "repetition_penalty": 1.2}, ["a"])[0]
    request = openai_request("m", [{"role": "user", "content": "hi"}], kw)
    assert request["temperature"] == 0.6 and request["seed"] == kw["seed"]
    assert request["extra_body"] == {"top_k": 50, "repetition_penalty": 1.2}
    assert api_key_from_env(None) == "EMPTY"
    monkeypatch.delenv("CF_TEST_KEY", raising=False)
    with pytest.raises(ValueError, match="api_key_env: environment variable CF_TEST_KEY"):
        api_key_from_env("CF_TEST_KEY")
    monkeypatch.setenv("CF_TEST_KEY", "sk-secret")
    assert api_key_from_env("CF_TEST_KEY") == "sk-secret"
    with pytest.raises(ValueError, match="base_url"):
        make_engine("openai", sampling={}, system_prompt=None, openai_cfg={})
    with pytest.raises(ValueError, match=r"generation\.engine"):
        make_engine("tgi", sampling={}, system_prompt=None)


# ---------------------------------------------------------------- resumable chunks


class CountingEngine:
    """Deterministic outputs; records every call; fails the prompts in ``fail``."""

    name = "counting"

    def __init__(self, tag: str = "a", fail: tuple[str, ...] = ()) -> None:
        self.tag, self.fail, self.calls = tag, set(fail), []

    def fingerprint(self) -> dict:
        return {"tag": self.tag}

    def generate(self, texts, ids):
        self.calls.append(list(ids))
        return [
            failed_output("boom") if pid in self.fail else out(f"{self.tag}: {text}")
            for text, pid in zip(texts, ids, strict=True)
        ]


def test_chunks_are_fixed_slices():
    assert chunk_bounds(5, 2) == [(0, 2), (2, 4), (4, 5)]
    assert chunk_bounds(0, 2) == []
    with pytest.raises(ValueError, match="chunk_size"):
        chunk_bounds(3, 0)
    where = chunk_dir_for("results/docs/generate/0003.parquet", "0003")
    assert where == Path("results/docs/generate/.chunks/0003")


def test_finished_chunks_are_reused_and_stale_ones_ignored(tmp_path):
    frame = prompts(5)
    first = CountingEngine()
    outputs = generate_shard(frame, first, tmp_path, 2)
    assert first.calls == [["p0", "p1"], ["p2", "p3"], ["p4"]]
    assert sorted(p.name for p in tmp_path.glob("*.done.json")) == [
        f"chunk-0000{i}.done.json" for i in range(3)
    ]
    # same configuration: nothing is generated again, same outputs
    again = CountingEngine()
    assert generate_shard(frame, again, tmp_path, 2) == outputs and again.calls == []
    # a damaged chunk file fails its checksum and is generated again, alone
    with open(ChunkStore(tmp_path).data_path(1), "ab") as handle:
        handle.write(b"\0")
    repair = CountingEngine()
    assert generate_shard(frame, repair, tmp_path, 2) == outputs
    assert repair.calls == [["p2", "p3"]]
    # a chunk without its marker is unfinished
    ChunkStore(tmp_path).marker_path(2).unlink()
    tail = CountingEngine()
    generate_shard(frame, tail, tmp_path, 2)
    assert tail.calls == [["p4"]]
    # another configuration (engine fingerprint) or chunking: every chunk is stale
    other = CountingEngine(tag="b")
    fresh = generate_shard(frame, other, tmp_path, 2)
    assert len(other.calls) == 3 and fresh[0]["text"].startswith("b: ")
    rechunked = CountingEngine(tag="b")
    generate_shard(frame, rechunked, tmp_path, 3)
    assert rechunked.calls == [["p0", "p1", "p2"], ["p3", "p4"]]
    # changed prompt text under the same id: stale as well
    edited = frame.copy()
    edited.loc[4, "prompt"] = "Something else"
    changed = CountingEngine(tag="b")
    generate_shard(edited, changed, tmp_path, 3)
    assert changed.calls == [["p3", "p4"]]
    # without a folder nothing is stored
    loose = CountingEngine()
    generate_shard(frame, loose, None, 2)
    assert len(loose.calls) == 3


def test_failed_requests_are_retried_when_their_chunk_is_reused(tmp_path):
    frame = prompts(4)
    flaky = CountingEngine(fail=("p1", "p2"))
    outputs = generate_shard(frame, flaky, tmp_path, 2)
    assert [o["error"] for o in outputs] == [None, "boom", "boom", None]
    healthy = CountingEngine()
    outputs = generate_shard(frame, healthy, tmp_path, 2)
    assert healthy.calls == [["p1"], ["p2"]]
    assert all(o["error"] is None for o in outputs)
    assert generate_shard(frame, CountingEngine(), tmp_path, 2) == outputs  # stored


def test_model_fingerprint_follows_content_not_place(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        folder.mkdir()
        (folder / "config.json").write_text('{"x": 1}')
        (folder / "model.safetensors").write_bytes(bytes(range(256)) * 20000)
    assert model_fingerprint(a) == model_fingerprint(b)
    data = bytearray((b / "model.safetensors").read_bytes())
    data[-10] ^= 1
    (b / "model.safetensors").write_bytes(bytes(data))
    assert model_fingerprint(a) != model_fingerprint(b)


# ---------------------------------------------------------------- the script, for real


def job(tmp: Path, shard: str, prompt_file: Path, model: Path | None, **settings) -> dict:
    """What Snakemake hands rule generate's job for one shard (JSON-serialisable)."""
    results = tmp / "results"
    generation = {
        "engine": settings.get("engine", "vllm"),
        "max_failure_rate": settings.get("max_failure_rate", 0.05),
        "allow_cpu_fallback": False,
        "engine_args": {"dtype": "auto"},
        "openai": settings.get("openai", {}),
    }
    return {
        "input": {"prompts": str(prompt_file), **({"model": str(model)} if model else {})},
        "output": {
            "docs": str(results / f"docs/generate/{shard}.parquet"),
            "rejected": str(results / f"rejected/generate/{shard}.parquet"),
            "stats": str(results / f"stats/generate/{shard}.json"),
        },
        "params": {
            "engine": generation["engine"],
            "model_name": settings.get("model_name", "smollm2-test"),
            "system_prompt": settings.get("system_prompt"),
            "sampling": settings["sampling"],
            "engine_args": settings.get("engine_args", {}),
            "filters": settings.get("filters", {"min_tokens": 0, "drop_truncated": False}),
            "cpu_kvcache_gib": 1,
            "chunk_size": settings.get("chunk_size", 1024),
        },
        "shard": shard,
        "log": str(results / f"logs/generate/{shard}.log"),
        "config": {"results": str(results), "generation": generation},
    }


def as_smk(spec: dict) -> SimpleNamespace:
    ns = SimpleNamespace
    return ns(
        input=ns(**spec["input"]),
        output=ns(**spec["output"]),
        params=ns(**spec["params"]),
        wildcards=ns(shard=spec["shard"]),
        log=[spec["log"]],
        threads=1,
        resources=ns(gpu=0),
        config=spec["config"],
    )


RUNNER = textwrap.dedent(
    """
    import json, sys
    from types import SimpleNamespace as ns
    from corpusforge.generate_job import run_job

    if __name__ == "__main__":
        spec = json.load(open(sys.argv[1]))
        run_job(ns(
            input=ns(**spec["input"]), output=ns(**spec["output"]),
            params=ns(**spec["params"]), wildcards=ns(shard=spec["shard"]),
            log=[spec["log"]], threads=1, resources=ns(gpu=0), config=spec["config"],
        ))
    """
)


def outputs_of(spec: dict) -> dict[str, bytes]:
    return {role: Path(path).read_bytes() for role, path in spec["output"].items()}


# ------------------------------------------------ OpenAI engine against a failing server


class LocalServer:
    """An HTTP server on a free port of 127.0.0.1 in a thread; ``base_url`` ends in /v1."""

    def serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class ScriptedChatServer(LocalServer):
    """A chat-completions endpoint whose answer depends on the first word of the prompt.

    ok: an answer; flaky: 429 twice (Retry-After 0), then an answer; down: 503;
    slow: answers after 3 s (past the client's timeout); bad: 400; empty: no text.
    ``healthy = True`` answers everything except ``empty`` normally.
    """

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.auth: set[str] = set()
        self.healthy = False
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                prompt = body["messages"][-1]["content"]
                kind = prompt.split()[0]
                with server._lock:
                    server.counts[prompt] += 1
                    server.auth.add(self.headers.get("Authorization", ""))
                    attempt = server.counts[prompt]
                if server.healthy and kind != "empty":
                    kind = "ok"
                if kind == "flaky" and attempt <= 2:
                    return self._send(
                        429, {"error": {"message": "slow down"}}, {"Retry-After": "0"}
                    )
                if kind == "down":
                    return self._send(503, {"error": {"message": "overloaded"}})
                if kind == "bad":
                    return self._send(400, {"error": {"message": "prompt rejected"}})
                if kind == "slow":
                    time.sleep(3)
                text = "" if kind == "empty" else f"An answer to: {prompt}. " * 3
                self._send(
                    200,
                    {
                        "id": "cmpl-1",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": text},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {
                            "prompt_tokens": 11,
                            "completion_tokens": len(text.split()),
                            "total_tokens": 11 + len(text.split()),
                        },
                    },
                )

            def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout)

            def log_message(self, *args: object) -> None:
                pass

        self.serve(Handler)


@pytest.fixture
def chat_server(no_proxy: None) -> Iterator[ScriptedChatServer]:
    server = ScriptedChatServer()
    try:
        yield server
    finally:
        server.stop()


def test_openai_engine_retries_records_errors_and_fails_the_job(
    chat_server: ScriptedChatServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
):
    secret = "sk-test-DoNotLeak-42"
    monkeypatch.setenv("CF_TEST_API_KEY", secret)
    kinds = ["ok one", "ok two", "ok three", "flaky four", "down five", "slow six", "bad seven"]
    texts = [*kinds, "empty eight"]
    prompt_file = tmp_path / "prompts.parquet"
    write_parquet(prompts(8, texts), prompt_file)
    client = {
        "base_url": chat_server.base_url,
        "api_key_env": "CF_TEST_API_KEY",
        "concurrency": 4,
        "timeout": 0.5,
        "max_retries": 2,
        "retry_backoff": 0.01,
    }
    sampling = {"temperature": 0.6, "top_k": 50, "max_tokens": 32, "seed": 1}
    # 4 of 8 fail (down, slow, bad, empty): allowed at 0.5
    spec = job(tmp_path / "a", "0000", prompt_file, None, engine="openai", openai=client,
               sampling=sampling, chunk_size=3, max_failure_rate=0.5)  # fmt: skip
    run_job(as_smk(spec))
    assert chat_server.counts == Counter(
        {"ok one": 1, "ok two": 1, "ok three": 1, "flaky four": 3, "down five": 3,
         "slow six": 3, "bad seven": 1, "empty eight": 1}
    )  # fmt: skip
    assert chat_server.auth == {f"Bearer {secret}"}
    docs = read_parquet(spec["output"]["docs"])
    assert sorted(docs["prompt"]) == ["flaky four", "ok one", "ok three", "ok two"]
    assert set(docs["engine"]) == {"openai"} and set(docs["model"]) == {"smollm2-test"}
    assert (docs["prompt_tokens"] == 11).all() and (docs["completion_tokens"] > 0).all()
    rejects = read_parquet(spec["output"]["rejected"]).set_index("id")
    assert len(rejects) == 4 and set(rejects.index).isdisjoint(docs["prompt_id"])
    assert rejects.loc["p4", "reason"] == "request_failed"
    assert "HTTP 503" in rejects.loc["p4", "detail"]
    assert "gave up after 3 attempts" in rejects.loc["p4", "detail"]
    assert "timed out after 0.5 s" in rejects.loc["p5", "detail"]
    assert "HTTP 400" in rejects.loc["p6", "detail"]
    assert "not retried" in rejects.loc["p6", "detail"]
    assert rejects.loc["p7", "reason"] == "empty_generation"
    stats = json.loads(Path(spec["output"]["stats"]).read_text())
    assert stats["failed"] == 4 and stats["rejected_by_reason"]["request_failed"] == 3
    assert not chunk_dir_for(spec["output"]["docs"], "0000").exists()  # removed when done
    log_text = capsys.readouterr().err  # in-process, the job's log goes to sys.stderr
    assert "retry 2 in" in log_text and "HTTP 503" in log_text and secret not in log_text
    assert "HTTP Request: POST" not in log_text  # no line per request

    # at 0.2 the job fails, names shard, count and key, writes nothing, keeps its chunks
    chat_server.counts.clear()
    spec = job(tmp_path / "b", "0001", prompt_file, None, engine="openai", openai=client,
               sampling=sampling, chunk_size=3, max_failure_rate=0.2)  # fmt: skip
    with pytest.raises(GenerationFailed, match=r"shard 0001: 4 of 8 prompts failed") as failure:
        run_job(as_smk(spec))
    assert "generation.max_failure_rate 0.2" in str(failure.value)
    assert not any(Path(p).exists() for p in spec["output"].values())
    chunks = chunk_dir_for(spec["output"]["docs"], "0001")
    assert len(list(chunks.glob("*.done.json"))) == 3
    # the server recovers: the rerun asks again for the failed requests only
    chat_server.counts.clear()
    chat_server.healthy = True
    run_job(as_smk(spec))
    assert chat_server.counts == Counter({"down five": 1, "slow six": 1, "bad seven": 1})
    docs = read_parquet(spec["output"]["docs"])
    rejects = read_parquet(spec["output"]["rejected"])
    assert len(docs) == 7 and list(rejects["reason"]) == ["empty_generation"]


class CrashedEngineServer(LocalServer):
    """vLLM's server after its engine core died: every chat request answers 500 and
    ``/health`` 503 (``healthy``: /health 200, a passing 500)."""

    def __init__(self, healthy: bool = False) -> None:
        self.posts = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200 if healthy and self.path == "/health" else 503)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                server.posts += 1
                data = json.dumps({"error": {"message": "EngineCore encountered an issue"}})
                self.send_response(500)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data.encode())

            def log_message(self, *args: object) -> None:
                pass

        self.serve(Handler)


SERVER_LOG_TAIL = """\
(EngineCore) ERROR EngineCore encountered a fatal error.
Traceback (most recent call last):
  File "gpu_model_runner.py", line 2101, in _bookkeeping_sync
    gen.set_offset(gen.get_offset() - 4)
RuntimeError: CPU Generator does not use offset
INFO:     127.0.0.1:40112 - "POST /v1/chat/completions HTTP/1.1" 500 Internal Server Error
"""


@pytest.mark.parametrize("healthy", [False, True], ids=["dead", "alive"])
def test_a_job_whose_managed_server_died_fails_at_once_naming_its_error(
    tmp_path: Path, no_proxy: None, healthy: bool
):
    server = CrashedEngineServer(healthy)
    log_file = tmp_path / "logs/serve_model/server.log"
    log_file.parent.mkdir(parents=True)
    log_file.write_text(SERVER_LOG_TAIL)
    info_file = tmp_path / "serve/server.json"
    info_file.parent.mkdir()
    info_file.write_text(json.dumps({"base_url": server.base_url, "log_file": str(log_file)}))
    prompt_file = tmp_path / "prompts.parquet"
    write_parquet(prompts(24, [f"ok prompt {i}" for i in range(24)]), prompt_file)
    client = {"concurrency": 4, "timeout": 5, "max_retries": 3, "retry_backoff": 0.01}
    spec = job(tmp_path, "0000", prompt_file, None, engine="openai", openai=client,
               sampling={"max_tokens": 8, "seed": 1}, max_failure_rate=1.0)  # fmt: skip
    spec["input"]["server"] = str(info_file)
    try:
        if healthy:  # a 500 from a live server is retried as before, prompt by prompt
            run_job(as_smk(spec))
            assert server.posts == 24 * 4
            rejects = read_parquet(spec["output"]["rejected"])
            assert len(rejects) == 24 and rejects["detail"].str.contains("HTTP 500").all()
            return
        with pytest.raises(ServerDown) as down:
            run_job(as_smk(spec))
    finally:
        server.stop()
    message = str(down.value)
    assert "RuntimeError: CPU Generator does not use offset" in message
    assert f"log: {log_file}" in message and "/health: 503" in message
    assert server.posts <= 4  # the requests in flight, none retried
    assert not any(Path(p).exists() for p in spec["output"].values())


# ---------------------------------------------------------------- real vLLM, offline

# Short chat prompts in English and Chinese, and one far over max_model_len.
REAL_PROMPTS = [
    "Name three colours.",
    "What is 2 + 2?",
    "用一句话介绍长城。",
    "Write one sentence about the sea.",
    "List two fruits.",
    "解释什么是雨。",
    "Say hello to a friend.",
    "word " * 2500,
]


@pytest.mark.vllm
def test_killed_vllm_job_resumes_at_its_last_chunk_with_identical_output(smollm2_dir, tmp_path):
    prompt_file = tmp_path / "prompts.parquet"
    write_parquet(prompts(len(REAL_PROMPTS), REAL_PROMPTS), prompt_file)
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT / "src")}
    settings = {
        "sampling": {"temperature": 0.8, "top_p": 0.95, "max_tokens": 24, "seed": 7},
        "engine_args": {"enable_chunked_prefill": False, "max_model_len": 2048, "dtype": CPU_DTYPE},
        "chunk_size": 2,
        "max_failure_rate": 0.2,
    }

    def spec_file(name: str) -> tuple[dict, Path]:
        spec = {**job(tmp_path / name, "0000", prompt_file, smollm2_dir, **settings)}
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(spec))
        return spec, path

    def start(path: Path) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, str(runner), str(path)],
            env=env,
            start_new_session=True,  # its own process group: the kill takes vLLM's engine too
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def finish(proc: subprocess.Popen) -> None:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]

    # an uninterrupted job
    whole, whole_file = spec_file("whole")
    finish(start(whole_file))
    expected = outputs_of(whole)

    # the same job, killed (SIGKILL, whole process group) once its first chunk is done
    killed, killed_file = spec_file("killed")
    chunks = chunk_dir_for(killed["output"]["docs"], "0000")
    proc = start(killed_file)
    try:
        deadline = time.monotonic() + 600
        while not (chunks / "chunk-00000.done.json").exists():
            assert proc.poll() is None, proc.stderr.read()[-3000:]
            assert time.monotonic() < deadline, "no chunk finished in time"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    done_before = len(list(chunks.glob("*.done.json")))
    assert 1 <= done_before < 4
    assert not Path(killed["output"]["docs"]).exists()

    # restarted: resumes after the finished chunks, same bytes as the uninterrupted job
    finish(start(killed_file))
    assert outputs_of(killed) == expected
    log_text = Path(killed["log"]).read_text()
    assert f"in 4 chunks ({done_before} reused)" in log_text
    assert not chunks.exists()

    docs = read_parquet(whole["output"]["docs"])
    rejects = read_parquet(whole["output"]["rejected"])
    assert len(docs) + len(rejects) == len(REAL_PROMPTS)
    too_long = rejects.set_index("id").loc["p7"]
    assert too_long["reason"] == "request_failed" and "prompt_too_long" in too_long["detail"]
    assert len(docs) >= 6 and set(docs["engine"]) == {"vllm"}
    for record in docs.to_dict("records"):
        assert record["text"].strip()
        assert 0 < record["completion_tokens"] <= 24 and record["prompt_tokens"] > 5
        assert record["finish_reason"] in {"stop", "length"}


# ---------------------------------------------------------------- real vLLM server


@pytest.fixture(scope="module")
def vllm_server(smollm2_dir, tmp_path_factory) -> Iterator[str]:
    """vLLM's OpenAI-compatible server on 127.0.0.1, started by corpusforge.serve as
    rule serve_model starts a build's server, watching this test process; removing
    its info file (as Snakemake removes the temp() file) stops it."""
    folder = tmp_path_factory.mktemp("server")
    info_file = folder / "server.json"
    env = {"HF_HUB_OFFLINE": "1", "VLLM_CPU_KVCACHE_SPACE": "1", "NO_PROXY": "127.0.0.1"}
    env |= {"VLLM_ENABLE_V1_MULTIPROCESSING": "0", "VLLM_CPU_OMP_THREADS_BIND": "nobind"}
    info = serve.start(
        model_dir=smollm2_dir,
        served_name="smollm2-test",
        info_file=info_file,
        log_file=folder / "server.log",
        # the schema's engine defaults, as rule serve_model turns them into flags
        engine_args={**with_defaults("generation", {"sampling": {}})["engine_args"],
                     "dtype": CPU_DTYPE},
        args=["--distributed-executor-backend", "uni"],
        env={**env, "OMP_NUM_THREADS": "1"},
        watch_pid=os.getpid(),
    )  # fmt: skip
    assert serve.read_server_url(info_file) == info["base_url"]
    try:
        yield info["base_url"]
    finally:
        info_file.unlink(missing_ok=True)
        assert serve.wait_gone(info["server_pid"]) and serve.wait_gone(info["supervisor_pid"])


@pytest.mark.vllm
def test_generation_through_a_real_vllm_server(vllm_server, smollm2_dir, tmp_path, no_proxy):
    from transformers import AutoTokenizer

    texts = REAL_PROMPTS[:3]
    prompt_file = tmp_path / "prompts.parquet"
    write_parquet(prompts(3, texts), prompt_file)
    spec = job(tmp_path, "0000", prompt_file, None, engine="openai",
               openai={"base_url": vllm_server, "concurrency": 2, "timeout": 120},
               sampling={"temperature": 0.6, "top_k": 50, "repetition_penalty": 1.2,
                         "max_tokens": 16, "seed": 3},
               system_prompt="You are a helpful teacher.")  # fmt: skip
    run_job(as_smk(spec))
    docs = read_parquet(spec["output"]["docs"])
    rejects = read_parquet(spec["output"]["rejected"])
    assert len(docs) == 3 and rejects.empty
    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir)
    for record in docs.to_dict("records"):
        assert record["text"].strip() and record["model"] == "smollm2-test"
        assert record["finish_reason"] in {"stop", "length"}
        assert 0 < record["completion_tokens"] <= 16
        messages = [
            {"role": "system", "content": "You are a helpful teacher."},
            {"role": "user", "content": record["prompt"]},
        ]
        # the server's usage counts the prompt as the model's chat template renders it
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True)
        ids = ids["input_ids"] if hasattr(ids, "keys") else ids
        assert record["prompt_tokens"] == len(ids)
    stats = json.loads(Path(spec["output"]["stats"]).read_text())
    assert (
        stats["engine"] == "openai"
        and stats["completion_tokens"] == docs["completion_tokens"].sum()
    )
    # the engine on its own: a prompt over max_model_len is a 400, recorded, not retried
    engine = OpenAIEngine(vllm_server, "smollm2-test", {"max_tokens": 4}, max_retries=3)
    [result] = engine.generate([REAL_PROMPTS[-1]], ["long"])
    assert "HTTP 400" in result["error"] and "not retried" in result["error"]


# ---------------------------------------------------------------- model download (model.smk)
# corpusforge.model.download_hf against a fake Hugging Face endpoint on 127.0.0.1
# (it belongs with tests/test_model.py; kept here with the generation stage's tests).

HF_COMMIT = "0123456789abcdef0123456789abcdef01234567"
HF_REPO = "acme/tiny-model"


class FakeHub:
    """The two Hub endpoints snapshot_download uses: the file tree and /resolve."""

    def __init__(self, files: dict[str, bytes]) -> None:
        import hashlib

        self.files = files
        self.seen: list[tuple[str, str, str | None]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                path = self.path.split("?", 1)[0]
                hub.seen.append((self.command, path, self.headers.get("Authorization")))
                resolve = f"/{HF_REPO}/resolve/{HF_COMMIT}/"
                headers = {"Content-Type": "application/json"}
                if path == f"/api/models/{HF_REPO}/tree/{HF_COMMIT}":
                    tree = [
                        {"type": "file", "oid": hashlib.sha1(data).hexdigest(), "size": len(data),
                         "path": name}
                        for name, data in hub.files.items()
                    ]  # fmt: skip
                    status, body = 200, json.dumps(tree).encode()
                elif path.startswith(resolve) and path[len(resolve) :] in hub.files:
                    status, body = 200, hub.files[path[len(resolve) :]]
                    headers = {
                        "X-Repo-Commit": HF_COMMIT,
                        "ETag": f'"{hashlib.sha256(body).hexdigest()}"',
                        "Content-Type": "application/octet-stream",
                    }
                else:
                    status, body = 404, b'{"error": "Revision Not Found"}'
                    headers["X-Error-Code"] = "RevisionNotFound"
                self.send_response(status)
                for name, value in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_HEAD = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_download_hf_fetches_a_pinned_revision_from_the_endpoint(tmp_path):
    files = {
        "config.json": b'{"model_type": "llama"}',
        "model.safetensors": os.urandom(300_000),
        "tokenizer.json": b'{"version": "1.0"}',
        "README.md": b"# not a model file",
    }
    hub = FakeHub(files)
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.pop("HF_HUB_OFFLINE", None)
    env.update(
        HF_ENDPOINT=hub.endpoint,  # read when huggingface_hub is imported: a fresh process
        HF_HOME=str(tmp_path / "hf-home"),
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_TOKEN="hf_testTokenForTheFakeHub",
        PYTHONPATH=str(ROOT / "src"),
    )

    def download(revision: str, dest: Path) -> subprocess.CompletedProcess:
        code = (
            "import sys; from pathlib import Path; from corpusforge.model import download_hf; "
            "download_hf(sys.argv[1], sys.argv[2], Path(sys.argv[3]))"
        )
        return subprocess.run(
            [sys.executable, "-c", code, HF_REPO, revision, str(dest)],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    try:
        dest = tmp_path / "models" / "tiny"
        proc = download(HF_COMMIT, dest)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert sorted(p.name for p in dest.iterdir()) == [
            "config.json",
            "model.safetensors",
            "tokenizer.json",
        ]  # README.md is not a model file; no .cache folder left
        for name in ("config.json", "model.safetensors", "tokenizer.json"):
            assert (dest / name).read_bytes() == files[name]
        assert {auth for _, _, auth in hub.seen} == {"Bearer hf_testTokenForTheFakeHub"}
        assert all(HF_COMMIT in path for _, path, _ in hub.seen)  # the pinned revision only
        # an unknown revision fails and leaves neither the folder nor temporary ones
        other = tmp_path / "models" / "other"
        proc = download("f" * 40, other)
        assert proc.returncode != 0
        assert "f" * 40 in proc.stderr or "Revision" in proc.stderr, proc.stderr[-2000:]
        assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["tiny"]
    finally:
        hub.stop()


# ---------------------------------------------------------------- where the engine runs


def test_a_job_given_gpus_on_a_node_without_one_fails(monkeypatch, tmp_path):
    import corpusforge.generate_job as generate_job

    monkeypatch.setattr(generate_job, "gpu_hardware_present", lambda: False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    assert runs_on_gpu(0, allow_cpu_fallback=False) is False
    with pytest.raises(GPUMissing) as err:
        runs_on_gpu(2, allow_cpu_fallback=False)
    message = str(err.value)
    assert socket.gethostname() in message and "given 2 GPU(s)" in message
    assert "CUDA_VISIBLE_DEVICES=3" in message and "allow_cpu_fallback" in message
    assert runs_on_gpu(2, allow_cpu_fallback=True) is False  # explicitly allowed

    # the rule's job fails before it loads anything, and writes no output
    prompt_file = tmp_path / "prompts.parquet"
    write_parquet(prompts(2, ["a", "b"]), prompt_file)
    spec = job(tmp_path, "0000", prompt_file, tmp_path / "no-model", sampling={"seed": 1})
    smk = as_smk(spec)
    smk.resources.gpu = 1
    with pytest.raises(GPUMissing):
        run_job(smk)
    assert not Path(spec["output"]["docs"]).exists()

    monkeypatch.setattr(generate_job, "gpu_hardware_present", lambda: True)
    assert runs_on_gpu(1, allow_cpu_fallback=False) is True
