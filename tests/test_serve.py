"""The build's managed server: its supervisor stops it when generation is done (the
info file is removed), when the build process ends however it ends, or reports it
when the server dies; the build process is found among the job's ancestors.

A small HTTP server stands in for vLLM here (the lifecycle does not depend on what
serves); tests/test_generate.py runs the real vLLM server through the same code and
tests/test_workflow_serve.py a whole build with it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from corpusforge import serve

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}

FAKE_SERVER = textwrap.dedent(
    """
    import sys
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Health(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    if sys.argv[2] == "crash":
        sys.exit(3)
    HTTPServer(("127.0.0.1", int(sys.argv[1])), Health).serve_forever()
    """
)


def supervised(tmp_path: Path, watch_pid: int, mode: str = "serve"):
    """Start the supervisor as rule serve_model does, with the fake server."""
    script = tmp_path / "fake_server.py"
    script.write_text(FAKE_SERVER)
    port = serve.free_port()
    info = tmp_path / "server.json"
    cmd = [sys.executable, "-m", "corpusforge.serve", "--info", str(info)]
    cmd += ["--watch-pid", str(watch_pid), "--port", str(port), "--startup-timeout", "60"]
    cmd += ["--", sys.executable, str(script), str(port), mode]
    proc = subprocess.Popen(cmd, env=ENV, start_new_session=True, stdout=subprocess.PIPE, text=True)
    return proc, info


def wait_ready(proc: subprocess.Popen, info: Path) -> dict:
    deadline = time.monotonic() + 60
    while not info.exists():
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return json.loads(info.read_text())


@pytest.fixture
def build():
    """A stand-in for the Snakemake process of a build."""
    proc = subprocess.Popen(["sleep", "300"])
    yield proc
    proc.kill()
    proc.wait()


def test_removing_the_info_file_stops_the_server(tmp_path, build):
    proc, info_file = supervised(tmp_path, build.pid)
    info = wait_ready(proc, info_file)
    assert info["base_url"] == f"http://127.0.0.1:{info['port']}/v1"
    assert serve.read_server_url(info_file) == info["base_url"]
    info_file.unlink()  # what Snakemake does to a temp() file after its last consumer
    assert proc.wait(timeout=30) == 0
    assert serve.wait_gone(info["server_pid"])
    assert "info file removed" in proc.stdout.read()


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_a_build_that_ends_takes_its_server_along(tmp_path, build, how):
    proc, info_file = supervised(tmp_path, build.pid)
    info = wait_ready(proc, info_file)
    os.kill(build.pid, how)
    build.wait()
    assert proc.wait(timeout=30) == 0
    assert serve.wait_gone(info["server_pid"]) and not info_file.exists()
    assert f"build process {build.pid} ended" in proc.stdout.read()


def test_a_server_that_dies_is_reported_and_leaves_no_info(tmp_path, build):
    proc, info_file = supervised(tmp_path, build.pid, mode="crash")
    assert proc.wait(timeout=30) == 1
    assert "server exited with 3" in proc.stdout.read() and not info_file.exists()


def test_the_build_process_is_the_nearest_snakemake_ancestor(tmp_path):
    # a process named like Snakemake's entry point runs a shell that runs the job
    fake = tmp_path / "bin" / "snakemake"
    fake.parent.mkdir()
    job = "from corpusforge.serve import build_pid; print(build_pid())"
    fake.write_text(
        "import os, subprocess, sys\n"
        "print(os.getpid(), flush=True)\n"
        f"sys.exit(subprocess.call(['bash', '-c', sys.executable + ' -c \"{job}\"; true']))\n"
    )
    out = subprocess.run(
        [sys.executable, str(fake)], env=ENV, capture_output=True, text=True, check=True
    )
    fake_pid, found = map(int, out.stdout.split())
    assert found == fake_pid  # above the shell in between
    # without any Snakemake above (pytest here), the parent is watched
    assert serve.build_pid() == os.getppid()


def test_engine_args_become_the_servers_flags_and_server_args_add_to_them():
    engine_args = {"max_model_len": 2048, "enforce_eager": True, "dtype": "float32",
                   "enable_chunked_prefill": False, "max_num_seqs": None,
                   "limit_mm_per_prompt": {"image": 0}}  # fmt: skip
    assert serve.engine_flags(engine_args) == [
        "--dtype", "float32", "--no-enable-chunked-prefill", "--enforce-eager",
        "--limit-mm-per-prompt", '{"image": 0}', "--max-model-len", "2048",
    ]  # fmt: skip
    cmd = serve.server_command("/m", "smol", 8001, engine_args, ["--max-num-seqs", "8"])
    assert cmd[cmd.index("--port") + 1] == "8001" and cmd[-2:] == ["--max-num-seqs", "8"]
    assert cmd.index("--no-enable-chunked-prefill") < cmd.index("--max-num-seqs")


@pytest.mark.vllm
def test_vllms_own_parser_reads_the_flags_as_the_engine_args():
    """The flags mean to vLLM's server what the engine arguments mean to vllm.LLM."""
    from vllm.entrypoints.launchers.cli_args import make_arg_parser
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    from corpusforge.schema import with_defaults

    engine_args = {**with_defaults("generation", {"sampling": {}})["engine_args"]}
    engine_args |= {"dtype": "float32", "max_num_seqs": 16}
    cmd = serve.server_command("/models/m", "smol", 8001, engine_args, ["--max-model-len", "1024"])
    parsed = make_arg_parser(FlexibleArgumentParser()).parse_args(cmd[3:])
    assert parsed.model == "/models/m" and parsed.served_model_name == ["smol"]
    assert parsed.enable_chunked_prefill is False and parsed.enforce_eager is True
    assert parsed.dtype == "float32" and parsed.max_num_seqs == 16
    assert parsed.max_model_len == 1024  # server.args given again: the last one counts
