"""Generation stage: prompts -> documents with vLLM (GPU or CPU, same engine).

The pure parts (chat formatting, per-request seeds, turning engine outputs into
records and rejections) are separate from the engine call, so they are tested
without a model, and the engine call itself is one ``LLM.generate`` over the
whole shard.

Reasons for rejection: ``empty_generation``, ``too_short``, ``truncated``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import pandas as pd

from .records import reject_records, stable_id, stage_stats

STAGE = "generate"
ENGINE = "vllm"
DOC_COLUMNS = [
    "id",
    "seed_id",
    "prompt_id",
    "source",
    "prompt",
    "prompt_lang",
    "format",
    "audience",
    "seed_data",
    "topic",
    "text",
    "model",
    "engine",
    "finish_reason",
    "prompt_tokens",
    "completion_tokens",
]
# vLLM SamplingParams fields a config may set.
SAMPLING_KEYS = (
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "repetition_penalty",
    "presence_penalty",
    "frequency_penalty",
    "max_tokens",
    "min_tokens",
    "stop",
)

log = logging.getLogger("corpusforge.generate")


def request_seed(global_seed: int, prompt_id: str) -> int:
    """A sampling seed of the prompt's own, independent of its neighbours' seeds."""
    return int(stable_id("sample", global_seed, prompt_id), 16) % (2**31 - 1)


def chat_messages(prompt: str, system_prompt: str | None) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    messages.append({"role": "user", "content": prompt})
    return messages


def render_chat(tokenizer: Any, prompts: Sequence[str], system_prompt: str | None) -> list[str]:
    """Apply the model's own chat template to every prompt."""
    return [
        tokenizer.apply_chat_template(
            chat_messages(p, system_prompt), tokenize=False, add_generation_prompt=True
        )
        for p in prompts
    ]


def sampling_kwargs(sampling: dict[str, Any], prompt_ids: Sequence[str]) -> list[dict[str, Any]]:
    """SamplingParams keyword arguments per prompt, with the per-prompt seed."""
    unknown = set(sampling) - set(SAMPLING_KEYS) - {"seed"}
    if unknown:
        raise ValueError(f"generation.sampling: unknown keys {sorted(unknown)}")
    base = {k: v for k, v in sampling.items() if k in SAMPLING_KEYS and v is not None}
    global_seed = int(sampling.get("seed", 0))
    return [{**base, "seed": request_seed(global_seed, pid)} for pid in prompt_ids]


def output_record(request_output: Any) -> dict[str, Any]:
    """The fields we keep from one vLLM ``RequestOutput``."""
    completion = request_output.outputs[0]
    return {
        "text": completion.text,
        "finish_reason": str(completion.finish_reason),
        "prompt_tokens": len(request_output.prompt_token_ids or []),
        "completion_tokens": len(completion.token_ids),
    }


def collect(
    prompts: pd.DataFrame,
    outputs: Sequence[dict[str, Any]],
    model: str,
    filters: dict[str, Any],
    engine: str = ENGINE,
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Join engine outputs to their prompts, apply the output filters.

    ``outputs[i]`` belongs to ``prompts.iloc[i]``. A prompt whose output is
    rejected goes to the rejected rows under the prompt's id, with the text it
    got, so it can be inspected.
    """
    if len(outputs) != len(prompts):
        raise ValueError(f"{len(outputs)} outputs for {len(prompts)} prompts")
    min_tokens = int(filters.get("min_tokens", 0))
    drop_truncated = bool(filters.get("drop_truncated", False))

    joined = prompts.reset_index(drop=True).rename(columns={"id": "prompt_id"})
    out = pd.DataFrame(
        list(outputs), columns=["text", "finish_reason", "prompt_tokens", "completion_tokens"]
    )
    docs = pd.concat([joined, out], axis=1)
    docs["text"] = docs["text"].fillna("").map(str.strip)
    docs["model"] = model
    docs["engine"] = engine

    reasons = pd.Series([None] * len(docs), index=docs.index, dtype=object)
    details = pd.Series([""] * len(docs), index=docs.index, dtype=object)
    empty = docs["text"] == ""
    reasons[empty] = "empty_generation"
    details[empty] = "the model returned no text (finish_reason " + docs["finish_reason"] + ")"
    short = reasons.isna() & (docs["completion_tokens"] < min_tokens)
    reasons[short] = "too_short"
    details[short] = docs["completion_tokens"].astype(str) + f" tokens < min_tokens {min_tokens}"
    if drop_truncated:
        cut = reasons.isna() & (docs["finish_reason"] == "length")
        reasons[cut] = "truncated"
        details[cut] = "stopped at max_tokens (drop_truncated is on)"

    bad = docs[reasons.notna()]
    rejects = pd.concat(
        [
            reject_records(
                bad[reasons[bad.index] == reason].rename(columns={"prompt_id": "id"}),
                STAGE,
                reason,
                details[bad.index][reasons[bad.index] == reason],
            )
            for reason in sorted(set(reasons.dropna()))
        ]
        or [reject_records(bad.rename(columns={"prompt_id": "id"}), STAGE, "")],
        ignore_index=True,
    )
    kept = docs[reasons.isna()].copy()
    kept["id"] = [
        stable_id("doc", p, t) for p, t in zip(kept["prompt_id"], kept["text"], strict=True)
    ]
    kept = kept[DOC_COLUMNS].sort_values("id", kind="stable").reset_index(drop=True)
    for column in ("prompt_tokens", "completion_tokens"):
        kept[column] = kept[column].astype("int64")

    finish = docs["finish_reason"].value_counts()
    stats = stage_stats(
        STAGE,
        len(prompts),
        len(kept),
        rejects,
        model=model,
        engine=engine,
        prompt_tokens=int(docs["prompt_tokens"].sum()),
        completion_tokens=int(docs["completion_tokens"].sum()),
        kept_tokens=int(kept["completion_tokens"].sum()),
        finish_reasons={str(k): int(finish[k]) for k in sorted(finish.index)},
    )
    return kept, rejects, stats


def configure_cpu_threads(threads: int) -> None:
    """On a machine without GPU, let concurrent jobs spread over the cores.

    vLLM's CPU backend pins its worker to a core of its own choosing; two shard
    jobs would then share one core. Unless the user set the binding, leave
    placement to the OS and cap the worker's threads at the job's ``threads``.
    """
    os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", "nobind")
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, threads)))


def run_vllm(
    model_path: str,
    prompts: Sequence[str],
    prompt_ids: Sequence[str],
    sampling: dict[str, Any],
    engine_args: dict[str, Any],
    system_prompt: str | None = None,
) -> list[dict[str, Any]]:
    """Generate one completion per prompt with ``vllm.LLM``, in one batched call.

    Must be called under ``if __name__ == "__main__":`` (vLLM starts its engine
    in a subprocess).
    """
    from vllm import LLM, SamplingParams

    args = {"enforce_eager": True, "max_model_len": 2048, **engine_args}
    args.setdefault("seed", int(sampling.get("seed", 0)))
    log.info("loading %s with vLLM (%s)", model_path, args)
    llm = LLM(model=model_path, **args)
    texts = render_chat(llm.get_tokenizer(), prompts, system_prompt)
    params = [SamplingParams(**kw) for kw in sampling_kwargs(sampling, prompt_ids)]
    log.info("generating %d completions", len(texts))
    results = llm.generate(texts, params, use_tqdm=True) if texts else []
    return [output_record(r) for r in results]
