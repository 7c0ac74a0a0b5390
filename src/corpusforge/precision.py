"""Which floating-point type the generation model computes in.

``dtype: auto`` (the default of ``model.dtype`` and ``generation.engine_args.dtype``)
is resolved here, by the workflow, not by vLLM: vLLM's CPU backend picks
bfloat16 whatever the machine, and a CPU without native bfloat16 instructions
emulates it, several times slower than float32 (measured on an AVX2-only AMD
EPYC: a 1x576 by 576x1536 product 0.20 ms in float32, 2.8 ms in bfloat16; the
default build generated 3.2x faster in float32).

- GPUs: bfloat16.
- CPUs with native bfloat16 (x86 ``avx512_bf16`` or ``amx_bf16``; Arm ``bf16``):
  bfloat16.
- Other CPUs: float32.

Another dtype gives other texts, so the resolved value, not ``auto``, is what the
rules pass on (their ``params``), log and record.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

AUTO = "auto"
# /proc/cpuinfo flags (x86 `flags`, Arm `Features`) of native bfloat16 arithmetic.
NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16", "bf16")


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU's feature flags (empty when the file cannot be read)."""
    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            flags.update(value.split())
    return frozenset(flags)


def resolve_dtype(
    requested: str | None, *, gpus: int, flags: Iterable[str] | None = None
) -> tuple[str, str]:
    """``(dtype, reason)`` for a model that runs on ``gpus`` GPUs (0: the CPU).

    ``flags`` defaults to this machine's (:func:`cpu_flags`); a dtype other than
    ``auto`` is returned as it is.
    """
    if requested and requested != AUTO:
        return requested, "set in the config"
    if gpus > 0:
        return "bfloat16", "auto: the engine runs on GPUs"
    have = frozenset(cpu_flags() if flags is None else flags)
    native = [flag for flag in NATIVE_BF16_FLAGS if flag in have]
    if native:
        return "bfloat16", f"auto: the CPU has native bfloat16 ({', '.join(native)})"
    return "float32", (
        "auto: the CPU has no native bfloat16 (no amx_bf16, avx512_bf16 or bf16 flag), "
        "where bfloat16 is emulated and several times slower"
    )
