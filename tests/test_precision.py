"""dtype auto: bfloat16 on GPUs and CPUs with native bfloat16, float32 elsewhere."""

from __future__ import annotations

import pytest

from corpusforge.precision import cpu_flags, resolve_dtype

# /proc/cpuinfo excerpts: an AVX2-only AMD EPYC, a Sapphire Rapids Xeon, an Arm Neoverse
AVX2_ONLY = "processor\t: 0\nflags\t\t: fpu sse sse2 avx avx2 fma bmi2\n"
AMX = "processor\t: 0\nflags\t\t: avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
ARM = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n"


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    for name, text in {"x86": AMX, "arm": ARM}.items():
        (tmp_path / name).write_text(text)
    assert {"avx512_bf16", "amx_bf16", "avx2"} <= cpu_flags(tmp_path / "x86")
    assert "bf16" in cpu_flags(tmp_path / "arm")
    assert cpu_flags(tmp_path / "missing") == frozenset()


@pytest.mark.parametrize(
    ("cpuinfo", "dtype", "why"),
    [
        (AVX2_ONLY, "float32", "no native bfloat16"),
        (AMX, "bfloat16", "amx_bf16, avx512_bf16"),
        (ARM, "bfloat16", "(bf16)"),
        ("", "float32", "no native bfloat16"),
    ],
)
def test_auto_follows_the_cpu(tmp_path, cpuinfo, dtype, why):
    path = tmp_path / "cpuinfo"
    path.write_text(cpuinfo)
    chosen, reason = resolve_dtype("auto", gpus=0, flags=cpu_flags(path))
    assert chosen == dtype and why in reason and reason.startswith("auto: ")


def test_gpus_and_explicit_choices():
    assert resolve_dtype("auto", gpus=2, flags=[])[0] == "bfloat16"
    assert resolve_dtype(None, gpus=0, flags=["avx2"])[0] == "float32"
    assert resolve_dtype("float16", gpus=0, flags=["amx_bf16"]) == ("float16", "set in the config")
    assert resolve_dtype("bfloat16", gpus=0, flags=["avx2"])[0] == "bfloat16"


def test_this_machine_resolves_by_its_own_flags():
    flags = cpu_flags()
    native = bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})
    assert resolve_dtype("auto", gpus=0)[0] == ("bfloat16" if native else "float32")
