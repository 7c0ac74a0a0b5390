"""Which GPU(s) a job uses: lock-file slots on a machine with several GPUs.

Snakemake's ``--resources gpu=N`` only caps how many GPU jobs run at once; it
does not tell a job *which* GPU is free. :func:`gpu_slots` picks the devices
itself, holding an exclusive ``fcntl.flock`` on one lock file per device in a
lock directory shared by the jobs, and sets ``CUDA_VISIBLE_DEVICES`` before the
engine starts::

    with gpu_slots(2, lock_dir="results/.gpu-locks") as ids:  # e.g. ["1", "3"]
        run_the_engine()  # sees only GPUs 1 and 3

The kernel drops a flock when the last descriptor of the lock file closes, so a
slot is free again when the job leaves the block, crashes, or is killed - no
stale lock files to clean up. (A process the job forked and left running keeps
the slot: it still uses the GPU.)

Devices, first match wins:

1. ``CUDA_VISIBLE_DEVICES`` inherited from the environment (Slurm sets it for
   the GPUs it allocated; a user may set it to fence a run off). The job only
   chooses among those. Inside a Slurm job that was given exactly as many as it
   wants, they are used as given, without locks: the scheduler owns them.
2. the ``devices`` argument,
3. ``CORPUSFORGE_GPUS`` (comma-separated ids, e.g. ``0,1,2,3``),
4. ``nvidia-smi``.

Nothing happens at all when 0 GPUs are wanted.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger("corpusforge.devices")

VISIBLE = "CUDA_VISIBLE_DEVICES"
GPUS_ENV = "CORPUSFORGE_GPUS"
LOCK_DIR_ENV = "CORPUSFORGE_GPU_LOCK_DIR"
WAIT_ENV = "CORPUSFORGE_GPU_WAIT"
DEFAULT_WAIT = 600.0
# Values Slurm (and users) put in CUDA_VISIBLE_DEVICES to mean "no GPU".
NO_DEVICES = {"", "NoDevFiles", "-1"}


class GPUUnavailable(RuntimeError):
    """The job cannot get the GPUs it wants (none known, too few, or all busy)."""


def parse_ids(text: str | None) -> list[str]:
    """``"0, 1,2"`` -> ``["0", "1", "2"]``; no duplicates, order kept."""
    ids: list[str] = []
    for part in (text or "").split(","):
        part = part.strip()
        if part and part not in NO_DEVICES and part not in ids:
            ids.append(part)
    return ids


def inherited_devices() -> list[str] | None:
    """The devices ``CUDA_VISIBLE_DEVICES`` allows, or None when it is unset."""
    value = os.environ.get(VISIBLE)
    return None if value is None else parse_ids(value)


def nvidia_smi_devices() -> list[str]:
    """Indices of the GPUs ``nvidia-smi`` lists ([] without nvidia-smi)."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        proc = subprocess.run(
            [exe, "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        log.warning("nvidia-smi failed: %s", err)
        return []
    if proc.returncode != 0:
        log.warning("nvidia-smi exited with %d: %s", proc.returncode, proc.stderr.strip())
        return []
    return parse_ids(",".join(proc.stdout.split()))


def device_pool(devices: Sequence[str | int] | None = None) -> tuple[list[str], str]:
    """The devices a job may choose from, and where that list came from."""
    inherited = inherited_devices()
    if inherited is not None:
        return inherited, f"{VISIBLE}={os.environ[VISIBLE]!r}"
    if devices is not None:
        return parse_ids(",".join(str(d) for d in devices)), "the devices argument"
    if os.environ.get(GPUS_ENV, "").strip():
        return parse_ids(os.environ[GPUS_ENV]), f"{GPUS_ENV}={os.environ[GPUS_ENV]!r}"
    return nvidia_smi_devices(), "nvidia-smi"


def default_lock_dir(results: str | os.PathLike = "results") -> Path:
    """``$CORPUSFORGE_GPU_LOCK_DIR``, else ``<results>/.gpu-locks``.

    Every job sharing the GPUs must use the same directory: the default suits
    one workflow; point the variable at e.g. /tmp/gpu-locks to let several
    workflows on one workstation share the GPUs.
    """
    env = os.environ.get(LOCK_DIR_ENV, "").strip()
    return Path(env) if env else Path(results) / ".gpu-locks"


def gpu_hardware_present() -> bool:
    """True when this machine has an NVIDIA driver with devices.

    A Slurm node may hand out a GPU GRES with no GPU behind it (CI does); the
    caller then runs its engine on the CPU even though it "got" a GPU.
    """
    dev = Path("/dev")
    return (dev / "nvidiactl").exists() and any(dev.glob("nvidia[0-9]*"))


def _lock_name(device: str) -> str:
    """One lock file per (host, Slurm allocation, device).

    The host keeps nodes apart when the lock dir is on a shared filesystem;
    the allocation keeps apart jobs whose device numbers are local to their
    allocation (Slurm renumbers from 0 when it confines devices).
    """
    scope = socket.gethostname().split(".")[0]
    if os.environ.get("SLURM_JOB_ID"):
        scope += f"-slurm{os.environ['SLURM_JOB_ID']}"
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", device)
    return f"{scope}-gpu-{safe}.lock"


def _holder(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return "?"
    return text or "?"


def _try_lock(path: Path, sign: bool = True) -> int | None:
    """An exclusive flock on ``path`` without waiting: the descriptor, or None.

    ``sign``: write who holds it into the file, for error messages (skipped
    when the file is another user's and read-only to us: flock still works).
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except PermissionError:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        sign = False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        os.close(fd)
        if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return None
        raise
    if not sign:
        return fd
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    info = f"pid={os.getpid()} host={socket.gethostname()} since={stamp}"
    if os.environ.get("SLURM_JOB_ID"):
        info += f" slurm_job={os.environ['SLURM_JOB_ID']}"
    os.ftruncate(fd, 0)
    os.pwrite(fd, (info + "\n").encode(), 0)
    return fd


def _release(held: dict[str, int]) -> None:
    for fd in held.values():
        os.close(fd)  # closing the only descriptor drops the flock
    held.clear()


def _acquire(
    n: int, pool: list[str], lock_dir: Path, timeout: float, poll: float
) -> dict[str, int]:
    """Lock ``n`` devices of ``pool``, all or none at a time (a job never sits
    on some GPUs while it waits for more, so multi-GPU jobs cannot deadlock)."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    paths = {device: lock_dir / _lock_name(device) for device in pool}
    deadline = time.monotonic() + timeout
    held: dict[str, int] = {}
    waited = False
    while True:
        busy = []
        for device, path in paths.items():
            fd = _try_lock(path)
            if fd is None:
                busy.append(device)
                continue
            held[device] = fd
            if len(held) == n:
                if waited:
                    log.info("GPU slot(s) free after waiting: %s", list(held))
                return held
        _release(held)
        if time.monotonic() >= deadline:
            holders = "; ".join(f"{d}: {_holder(paths[d])}" for d in busy)
            raise GPUUnavailable(
                f"no {n} free GPU(s) among {pool} after waiting {timeout:g} s; lock dir "
                f"{lock_dir} (busy: {holders}). Is --resources gpu=... larger than the "
                f"number of GPUs? Wait longer with {WAIT_ENV}=<seconds>."
            )
        if not waited:
            log.info("all of %s busy, waiting up to %g s (lock dir %s)", pool, timeout, lock_dir)
            waited = True
        time.sleep(poll)


@contextmanager
def gpu_slots(
    n: int,
    devices: Sequence[str | int] | None = None,
    lock_dir: str | os.PathLike | None = None,
    timeout: float | None = None,
    poll: float = 0.2,
) -> Iterator[list[str]]:
    """Hold ``n`` GPUs for the ``with`` block and show only them to CUDA.

    Yields the device ids (strings, as ``CUDA_VISIBLE_DEVICES`` takes them)
    and sets ``CUDA_VISIBLE_DEVICES`` to them; both are restored and the locks
    released on exit. With ``n == 0`` it yields ``[]`` and changes nothing.

    ``lock_dir`` defaults to :func:`default_lock_dir`; ``timeout`` (seconds to
    wait for busy GPUs) to ``$CORPUSFORGE_GPU_WAIT``, else 600. Raises
    :class:`GPUUnavailable` when no devices are known, fewer than ``n`` exist,
    or they stay busy past the timeout.
    """
    n = int(n)
    if n < 0:
        raise ValueError(f"cannot want {n} GPUs")
    if n == 0:
        yield []
        return
    pool, origin = device_pool(devices)
    if not pool:
        raise GPUUnavailable(
            f"this job wants {n} GPU(s) but no GPU is known ({origin}): set {GPUS_ENV}="
            "0,1,... or CUDA_VISIBLE_DEVICES, or install the NVIDIA driver's nvidia-smi; "
            "on a machine without GPU set generation.gpus: 0"
        )
    if n > len(pool):
        raise GPUUnavailable(f"this job wants {n} GPU(s), only {len(pool)} known ({origin})")

    held: dict[str, int] = {}
    if os.environ.get("SLURM_JOB_ID") and inherited_devices() is not None and n == len(pool):
        ids = list(pool)  # Slurm allocated exactly these to this job
        log.info("GPU(s) %s allocated by Slurm job %s", ids, os.environ["SLURM_JOB_ID"])
    else:
        if timeout is None:
            timeout = float(os.environ.get(WAIT_ENV) or DEFAULT_WAIT)
        where = Path(lock_dir) if lock_dir is not None else default_lock_dir()
        held = _acquire(n, pool, where, timeout, poll)
        ids = list(held)
        log.info("GPU(s) %s of %s for this job (lock dir %s)", ids, origin, where)

    previous = os.environ.get(VISIBLE)
    os.environ[VISIBLE] = ",".join(ids)
    try:
        yield ids
    finally:
        if previous is None:
            os.environ.pop(VISIBLE, None)
        else:
            os.environ[VISIBLE] = previous
        _release(held)


def main() -> None:
    """``python -m corpusforge.devices``: what a job here would choose from."""
    pool, origin = device_pool()
    lock_dir = default_lock_dir()
    print(f"devices: {pool or 'none'} (from {origin})")
    print(f"GPU hardware present: {gpu_hardware_present()}")
    print(f"lock dir: {lock_dir}")
    for device in pool:
        path = lock_dir / _lock_name(device)
        fd = _try_lock(path, sign=False) if path.exists() else -1
        if fd is None:
            print(f"  {device}: busy ({_holder(path)})")
            continue
        if fd >= 0:
            os.close(fd)
        print(f"  {device}: free")


if __name__ == "__main__":
    main()
