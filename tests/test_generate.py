"""Generation stage: pure parts, and real vLLM generation on the CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from corpusforge.generate import DOC_COLUMNS, collect, request_seed, sampling_kwargs
from corpusforge.records import REJECT_COLUMNS


def prompts(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [f"p{i}" for i in range(n)],
            "seed_id": [f"s{i}" for i in range(n)],
            "source": "t",
            "prompt": [f"Write about {i}" for i in range(n)],
            "prompt_lang": "en",
            "format": "story",
            "audience": "general_public",
            "seed_data": "x",
            "topic": None,
        }
    )


def out(text, reason="stop", tokens=20):
    return {"text": text, "finish_reason": reason, "prompt_tokens": 30, "completion_tokens": tokens}


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
    # without drop_truncated, the truncated one is kept
    docs, rejects, _ = collect(prompts(4), outputs, "m", {"min_tokens": 5})
    assert set(docs["prompt_id"]) == {"p0", "p3"}
    with pytest.raises(ValueError, match="3 outputs for 4 prompts"):
        collect(prompts(4), outputs[:3], "m", {})


RUNNER = textwrap.dedent(
    """
    import json, sys
    from corpusforge.generate import configure_cpu_threads, run_vllm

    if __name__ == "__main__":
        model, dest = sys.argv[1], sys.argv[2]
        configure_cpu_threads(1)
        prompts = ["Name three colours.", "What is 2 + 2?", "用一句话介绍长城。"]
        ids = ["q1", "q2", "q3"]
        sampling = {"temperature": 0.8, "top_p": 0.95, "max_tokens": 24, "seed": 7}
        outputs = run_vllm(model, prompts, ids, sampling, {"enable_chunked_prefill": False})
        json.dump(outputs, open(dest, "w"))
    """
)


@pytest.mark.vllm
def test_real_vllm_generation_is_reproducible(smollm2_dir, tmp_path):
    script = tmp_path / "run.py"
    script.write_text(RUNNER)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "VLLM_CPU_KVCACHE_SPACE": "1"}
    results = []
    for attempt in range(2):
        dest = tmp_path / f"out{attempt}.json"
        proc = subprocess.run(
            [sys.executable, str(script), str(smollm2_dir), str(dest)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        results.append(json.loads(dest.read_text()))
    first = results[0]
    assert len(first) == 3
    for record in first:
        assert record["text"].strip()
        assert 0 < record["completion_tokens"] <= 24
        assert record["prompt_tokens"] > 5
        assert record["finish_reason"] in {"stop", "length"}
    assert results[0] == results[1]  # same prompts, params and seeds: same text
