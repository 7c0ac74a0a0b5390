"""GPU slots: real processes contending for fake device ids through real flocks."""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import socket
import stat
import time
from pathlib import Path

import pytest

from corpusforge.devices import (
    GPUS_ENV,
    VISIBLE,
    GPUUnavailable,
    default_lock_dir,
    device_pool,
    gpu_slots,
    parse_ids,
)

CTX = mp.get_context("fork")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in (VISIBLE, GPUS_ENV, "SLURM_JOB_ID", "CORPUSFORGE_GPU_LOCK_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CORPUSFORGE_GPU_WAIT", "30")


class ReportWaiting(logging.Handler):
    """Puts ("waiting", ...) on the queue when the job finds every slot busy."""

    def __init__(self, queue):
        super().__init__()
        self.queue = queue

    def emit(self, record):
        if "busy, waiting" in record.getMessage():
            self.queue.put(("waiting", None, time.monotonic()))


def hold(n, devices, lock_dir, queue, release, timeout=30.0):
    """Child: take n slots, report (ids, CUDA_VISIBLE_DEVICES, time), hold until released;
    reports ("waiting", ...) first when it has to wait for a slot."""
    logger = logging.getLogger("corpusforge.devices")
    logger.setLevel(logging.INFO)
    logger.addHandler(ReportWaiting(queue))
    try:
        with gpu_slots(n, devices=devices, lock_dir=lock_dir, timeout=timeout, poll=0.05) as ids:
            queue.put((ids, os.environ.get(VISIBLE), time.monotonic()))
            release.wait(60)
    except GPUUnavailable as err:
        queue.put(("error", str(err), time.monotonic()))


def take(n, **kwargs):
    """Take and release slots in this process."""
    with gpu_slots(n, **kwargs) as ids:
        return ids


def start(n, devices, lock_dir, timeout=30.0):
    queue, release = CTX.Queue(), CTX.Event()
    proc = CTX.Process(target=hold, args=(n, devices, lock_dir, queue, release, timeout))
    proc.start()
    return proc, queue, release


def finish(*procs):
    for proc, _, release in procs:
        release.set()
        proc.join(30)
        assert proc.exitcode == 0


def test_nothing_happens_when_no_gpu_is_wanted(tmp_path, monkeypatch):
    monkeypatch.setenv(VISIBLE, "3")
    with gpu_slots(0, devices=["0"], lock_dir=tmp_path / "locks") as ids:
        assert ids == []
        assert os.environ[VISIBLE] == "3"
    assert not (tmp_path / "locks").exists()


def test_concurrent_jobs_get_distinct_devices_and_a_third_waits_for_a_free_one(tmp_path):
    lock_dir = tmp_path / "locks"
    first = start(1, ["0", "1"], lock_dir)
    second = start(1, ["0", "1"], lock_dir)
    got = [first[1].get(timeout=30), second[1].get(timeout=30)]
    assert sorted(ids[0] for ids, _, _ in got) == ["0", "1"]
    for ids, visible, _ in got:
        assert visible == ids[0]  # the engine would see only its own GPU
    # both held: a third job waits...
    third = start(1, ["0", "1"], lock_dir)
    assert third[1].get(timeout=30)[0] == "waiting"  # it found both slots taken
    assert third[1].empty()
    # ...until the second finishes, then takes exactly the freed device
    freed_at = time.monotonic()
    second[2].set()
    second[0].join(30)
    ids, visible, acquired_at = third[1].get(timeout=30)
    assert ids == got[1][0] and visible == ids[0]
    assert acquired_at >= freed_at
    finish(first, third)
    # holders write who they are into the lock files
    assert all("pid=" in p.read_text() for p in lock_dir.glob("*.lock"))


def test_a_job_that_cannot_get_a_gpu_in_time_fails_naming_the_lock_dir(tmp_path):
    lock_dir = tmp_path / "locks"
    holder = start(1, ["7"], lock_dir)
    holder[1].get(timeout=30)
    began = time.monotonic()
    with pytest.raises(GPUUnavailable) as err:
        take(1, devices=["7"], lock_dir=lock_dir, timeout=0.5, poll=0.05)
    assert 0.5 <= time.monotonic() - began < 10
    message = str(err.value)
    assert str(lock_dir) in message and f"pid={holder[0].pid}" in message
    finish(holder)


def test_a_killed_holder_frees_its_slot(tmp_path):
    lock_dir = tmp_path / "locks"
    victim = start(1, ["0"], lock_dir)
    assert victim[1].get(timeout=30)[0] == ["0"]
    os.kill(victim[0].pid, signal.SIGKILL)
    victim[0].join(30)
    assert victim[0].exitcode == -signal.SIGKILL
    began = time.monotonic()
    assert take(1, devices=["0"], lock_dir=lock_dir, timeout=5) == ["0"]
    assert time.monotonic() - began < 2  # no waiting for a dead process


def test_an_inherited_cuda_visible_devices_bounds_the_choice(tmp_path, monkeypatch):
    lock_dir = tmp_path / "locks"
    monkeypatch.setenv(VISIBLE, "5,7")
    jobs = [start(1, ["0", "1", "2", "3"], lock_dir) for _ in range(2)]
    got = sorted(job[1].get(timeout=30)[0][0] for job in jobs)
    assert got == ["5", "7"]
    finish(*jobs)
    assert os.environ[VISIBLE] == "5,7"
    with pytest.raises(GPUUnavailable, match="wants 3 GPU"):
        take(3, lock_dir=lock_dir)
    monkeypatch.setenv(VISIBLE, "")  # explicitly no GPU
    with pytest.raises(GPUUnavailable, match="no GPU is known"):
        take(1, devices=["0"], lock_dir=lock_dir)


def test_a_slurm_allocation_of_exactly_the_wanted_gpus_is_used_as_given(tmp_path, monkeypatch):
    lock_dir = tmp_path / "locks"
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    monkeypatch.setenv(VISIBLE, "0")
    # two jobs on one node may both see "0" (Slurm renumbers): neither waits
    jobs = [start(1, None, lock_dir, timeout=0.5) for _ in range(2)]
    assert [job[1].get(timeout=30)[:2] for job in jobs] == [(["0"], "0"), (["0"], "0")]
    finish(*jobs)
    assert not lock_dir.exists()
    # given more than it wants, the job chooses among them with locks
    monkeypatch.setenv(VISIBLE, "0,1")
    with gpu_slots(1, lock_dir=lock_dir) as ids:
        assert ids == ["0"] and os.environ[VISIBLE] == "0"
        host = socket.gethostname().split(".")[0]
        assert [p.name for p in lock_dir.iterdir()] == [f"{host}-slurm42-gpu-0.lock"]
    assert os.environ[VISIBLE] == "0,1"


def test_a_multi_gpu_job_waits_without_sitting_on_a_gpu(tmp_path):
    lock_dir = tmp_path / "locks"
    devices = ["0", "1", "2"]
    big = start(2, devices, lock_dir)
    assert sorted(big[1].get(timeout=30)[0]) == ["0", "1"]
    waiting = start(2, devices, lock_dir)  # only "2" is free: must wait...
    assert waiting[1].get(timeout=30)[0] == "waiting"
    assert waiting[1].empty()
    # ...without holding "2" meanwhile: a one-GPU job gets it at once
    assert take(1, devices=devices, lock_dir=lock_dir, timeout=2) == ["2"]
    finish(big)
    assert len(waiting[1].get(timeout=30)[0]) == 2
    finish(waiting)


def test_exceptions_release_the_slots_and_restore_the_environment(tmp_path):
    lock_dir = tmp_path / "locks"
    with (
        pytest.raises(RuntimeError, match="engine died"),
        gpu_slots(1, devices=["0"], lock_dir=lock_dir),
    ):
        assert os.environ[VISIBLE] == "0"
        raise RuntimeError("engine died")
    assert VISIBLE not in os.environ
    assert take(1, devices=["0"], lock_dir=lock_dir, timeout=0) == ["0"]


def test_device_list_sources(tmp_path, monkeypatch):
    assert parse_ids(" 0, 1,,1,NoDevFiles ") == ["0", "1"]
    monkeypatch.setenv(GPUS_ENV, "2,3")
    assert device_pool() == (["2", "3"], "CORPUSFORGE_GPUS='2,3'")
    assert device_pool([0, 1])[0] == ["0", "1"]  # an argument beats the variable
    monkeypatch.delenv(GPUS_ENV)
    # nvidia-smi's CSV output (a script printing what the driver's tool prints)
    fake = tmp_path / "bin" / "nvidia-smi"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nprintf '0\\n1\\n2\\n3\\n'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    assert device_pool() == (["0", "1", "2", "3"], "nvidia-smi")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert device_pool() == ([], "nvidia-smi")
    with pytest.raises(GPUUnavailable, match="CORPUSFORGE_GPUS"):
        take(1, lock_dir=tmp_path / "locks")


def test_default_lock_dir(monkeypatch, tmp_path):
    assert default_lock_dir("out") == Path("out/.gpu-locks")
    monkeypatch.setenv("CORPUSFORGE_GPU_LOCK_DIR", str(tmp_path))
    assert default_lock_dir("out") == tmp_path
