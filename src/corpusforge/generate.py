"""Generation stage: prompts -> documents, resumable, with vLLM or an OpenAI-compatible server.

The pure parts (chat formatting, per-request seeds, turning engine outputs into
records and rejections, the failure-rate check) are separate from the engines
(``corpusforge.engines``), so they are tested without a model.

A shard is generated in chunks of ``chunk_size`` prompts: chunk ``k`` is prompts
``[k * chunk_size, (k + 1) * chunk_size)`` of the shard in id order, always, so a
resumed job hands vLLM exactly the batches an uninterrupted one would (vLLM's
numerics depend on the batch a prompt is in). Each finished chunk is written to
``<docs folder>/.chunks/<shard>/`` with a completion marker holding a key (hash of
the chunk's prompt ids and texts and everything the engine's output depends on)
and the chunk file's checksum. A restarted job reuses every chunk whose marker
matches and starts at the first one that does not; chunks from another
configuration are ignored and overwritten. The chunk folder is not a declared
output, so Snakemake does not delete it when it cleans up after a killed job;
``--rerun-incomplete`` (set in profiles/default) makes Snakemake rerun that job.
Prompts whose request failed are requested again when their chunk is reused.

Reasons for rejection: ``request_failed`` (after retries; the error is the
detail), ``empty_generation``, ``too_short``, ``truncated``. The first two are
failures: the job stops if their share exceeds ``max_failure_rate``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import pyarrow as pa

from .io import read_json, read_parquet, sha256_file, write_json, write_parquet
from .prompts import PROMPT_FIELDS
from .records import GENERATED, reject_records, stable_id, stage_stats

STAGE = "generate"
ENGINE = "vllm"
ORIGIN = GENERATED  # the `origin` of documents this stage makes (seed documents: web)
DOC_COLUMNS = [
    "id",
    "seed_id",
    "prompt_id",
    "source",
    "origin",
    *PROMPT_FIELDS,
    "text",
    "model",
    "engine",
    "finish_reason",
    "prompt_tokens",
    "completion_tokens",
]
# The documents' Parquet schema, pinned so that it does not depend on how pandas
# inferred a column (an all-null column, pandas 2 object vs pandas 3 str dtype).
DOC_SCHEMA = pa.schema(
    [(name, pa.int64() if name.endswith("_tokens") else pa.large_string()) for name in DOC_COLUMNS]
)
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
# What an engine returns per prompt.
OUTPUT_FIELDS = ["text", "finish_reason", "prompt_tokens", "completion_tokens", "error"]
FAILURE_REASONS = ("request_failed", "empty_generation")
# vllm.LLM arguments for CPU jobs (config engine_args override them): the worker
# runs in the job's process, see configure_cpu_threads.
CPU_ENGINE_ARGS = {"distributed_executor_backend": "uni"}
CHUNK_FORMAT = 1
CHUNK_SCHEMA = pa.schema(
    [
        ("prompt_id", pa.string()),
        ("text", pa.string()),
        ("finish_reason", pa.string()),
        ("prompt_tokens", pa.int64()),
        ("completion_tokens", pa.int64()),
        ("error", pa.string()),
    ]
)

log = logging.getLogger("corpusforge.generate")


class Engine(Protocol):
    """What ``generate_shard`` needs from an engine (see ``corpusforge.engines``)."""

    name: str

    def fingerprint(self) -> dict[str, Any]: ...

    def generate(
        self, prompts: Sequence[str], prompt_ids: Sequence[str]
    ) -> list[dict[str, Any]]: ...


class GenerationFailed(RuntimeError):
    pass


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


# ---------------------------------------------------------------- outputs -> records


def collect(
    prompts: pd.DataFrame,
    outputs: Sequence[dict[str, Any]],
    model: str,
    filters: dict[str, Any],
    engine: str = ENGINE,
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Join engine outputs to their prompts, apply the output filters.

    ``outputs[i]`` belongs to ``prompts.iloc[i]``. A prompt whose request failed
    or whose output is rejected goes to the rejected rows under the prompt's id,
    with the error or the text it got, so it can be inspected.
    """
    if len(outputs) != len(prompts):
        raise ValueError(f"{len(outputs)} outputs for {len(prompts)} prompts")
    min_tokens = int(filters.get("min_tokens", 0))
    drop_truncated = bool(filters.get("drop_truncated", False))

    joined = prompts.reset_index(drop=True).rename(columns={"id": "prompt_id"})
    out = pd.DataFrame(list(outputs), columns=OUTPUT_FIELDS)
    out["error"] = out["error"].astype(object).where(out["error"].notna(), None)
    for column in ("prompt_tokens", "completion_tokens"):
        out[column] = out[column].fillna(0).astype("int64")
    out["finish_reason"] = out["finish_reason"].astype(object)
    docs = pd.concat([joined, out], axis=1)
    docs["text"] = docs["text"].fillna("").map(str.strip)
    docs["model"] = model
    docs["engine"] = engine
    docs["origin"] = ORIGIN

    reasons = pd.Series([None] * len(docs), index=docs.index, dtype=object)
    details = pd.Series([""] * len(docs), index=docs.index, dtype=object)
    failed = docs["error"].notna()
    reasons[failed] = "request_failed"
    details[failed] = docs["error"][failed]
    empty = reasons.isna() & (docs["text"] == "")
    reasons[empty] = "empty_generation"
    details[empty] = (
        "the model returned no text (finish_reason " + docs["finish_reason"].astype(str) + ")"
    )
    short = reasons.isna() & (docs["completion_tokens"] < min_tokens)
    reasons[short] = "too_short"
    details[short] = docs["completion_tokens"].astype(str) + f" tokens < min_tokens {min_tokens}"
    if drop_truncated:
        cut = reasons.isna() & (docs["finish_reason"] == "length")
        reasons[cut] = "truncated"
        details[cut] = "stopped at max_tokens (drop_truncated is on)"

    bad = docs[reasons.notna()].copy()
    bad["text"] = bad["text"].where(bad["text"] != "", None)
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
    kept["id"] = pd.Series(
        [stable_id("doc", p, t) for p, t in zip(kept["prompt_id"], kept["text"], strict=True)],
        index=kept.index,
        dtype=object,
    )
    kept = kept[DOC_COLUMNS].sort_values("id", kind="stable").reset_index(drop=True)
    for column in ("prompt_tokens", "completion_tokens"):
        kept[column] = kept[column].astype("int64")

    answered = docs[~failed]
    finish = answered["finish_reason"].astype(str).value_counts()
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
        failed=int(reasons.isin(FAILURE_REASONS).sum()),
    )
    return kept, rejects, stats


def check_failure_rate(
    stats: dict, rejects: pd.DataFrame, max_failure_rate: float, shard: str
) -> None:
    """Stop the job if too many prompts failed (request errors or empty texts).

    Raised before any output is written, so Snakemake marks the job failed; the
    finished chunks stay, and a rerun requests only the failed prompts again.
    """
    total, failed = int(stats["in"]), int(stats.get("failed", 0))
    if not total or failed / total <= max_failure_rate:
        return
    by_reason = {r: n for r, n in stats["rejected_by_reason"].items() if r in FAILURE_REASONS}
    examples = rejects[rejects["reason"].isin(FAILURE_REASONS)]["detail"].value_counts().head(3)
    shown = "; ".join(f"{n} x {detail}" for detail, n in examples.items())
    raise GenerationFailed(
        f"generate shard {shard}: {failed} of {total} prompts failed "
        f"({failed / total:.1%}: {', '.join(f'{n} {r}' for r, n in sorted(by_reason.items()))}), "
        f"more than generation.max_failure_rate {max_failure_rate:g}. Most frequent: {shown}. "
        f"Finished chunks are kept: a rerun requests only the failed prompts again."
    )


# ---------------------------------------------------------------- resumable chunks


def chunk_dir_for(docs_path: str | os.PathLike[str], shard: str) -> Path:
    """Where a shard's chunks live: beside the stage's output, never a declared output."""
    return Path(docs_path).parent / ".chunks" / shard


def chunk_bounds(n: int, chunk_size: int) -> list[tuple[int, int]]:
    """Chunk k is rows [k * chunk_size, (k + 1) * chunk_size): fixed, whatever is done."""
    if chunk_size < 1:
        raise ValueError(f"generation.chunk_size must be >= 1, not {chunk_size}")
    return [(lo, min(lo + chunk_size, n)) for lo in range(0, n, chunk_size)]


def chunk_key(
    fingerprint: dict[str, Any], prompt_ids: Sequence[str], prompts: Sequence[str]
) -> str:
    """A hash of a chunk's prompts and of everything the engine's output depends on."""
    digest = hashlib.sha256()
    canonical = json.dumps(
        {"format": CHUNK_FORMAT, "engine": fingerprint}, sort_keys=True, default=str
    )
    digest.update(canonical.encode())
    for pid, prompt in zip(prompt_ids, prompts, strict=True):
        for part in (pid, prompt):
            data = str(part).encode("utf-8", "surrogatepass")
            digest.update(len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()


class ChunkStore:
    """Finished chunks of one shard: ``chunk-NNNNN.parquet`` + ``chunk-NNNNN.done.json``."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def data_path(self, index: int) -> Path:
        return self.folder / f"chunk-{index:05d}.parquet"

    def marker_path(self, index: int) -> Path:
        return self.folder / f"chunk-{index:05d}.done.json"

    def load(self, index: int, key: str, prompt_ids: Sequence[str]) -> list[dict] | None:
        """The chunk's outputs if a complete chunk with this key exists, else None."""
        marker, data = self.marker_path(index), self.data_path(index)
        try:
            meta = read_json(marker)
            if meta.get("key") != key or meta.get("sha256") != sha256_file(data):
                return None
            frame = read_parquet(data)
        except (OSError, ValueError, pa.ArrowException):
            return None
        if list(frame["prompt_id"]) != list(prompt_ids):
            return None
        frame = frame.astype(object).where(frame.notna(), None)
        return frame[OUTPUT_FIELDS].to_dict("records")

    def save(self, index: int, key: str, prompt_ids: Sequence[str], outputs: list[dict]) -> None:
        """Write the chunk, then its marker (both atomically): a marker means complete."""
        self.marker_path(index).unlink(missing_ok=True)
        frame = pd.DataFrame(list(outputs), columns=OUTPUT_FIELDS)
        frame.insert(0, "prompt_id", list(prompt_ids))
        write_parquet(frame, self.data_path(index), schema=CHUNK_SCHEMA)
        meta = {
            "chunk": index,
            "key": key,
            "rows": len(frame),
            "sha256": sha256_file(self.data_path(index)),
        }
        write_json(meta, self.marker_path(index))

    def remove(self) -> None:
        """Delete the shard's chunks (and the .chunks folder once no shard has any)."""
        shutil.rmtree(self.folder, ignore_errors=True)
        with contextlib.suppress(OSError):
            self.folder.parent.rmdir()  # only succeeds when empty


def generate_shard(
    prompts: pd.DataFrame,
    engine: Engine,
    chunk_dir: str | os.PathLike[str] | None,
    chunk_size: int,
) -> list[dict[str, Any]]:
    """One output per row of ``prompts`` (same order), generated chunk by chunk.

    With a ``chunk_dir``, finished chunks are reused and new ones saved there;
    reused chunks with failed requests get those requests again. Without one,
    nothing is saved (chunks still bound the batches).
    """
    ids = prompts["id"].astype(str).tolist()
    texts = prompts["prompt"].astype(str).tolist()
    bounds = chunk_bounds(len(ids), chunk_size)
    store = ChunkStore(chunk_dir) if chunk_dir is not None else None
    fingerprint = engine.fingerprint()
    outputs: list[dict[str, Any]] = []
    reused = generated = new_tokens = 0
    busy = 0.0
    started = time.monotonic()
    for index, (lo, hi) in enumerate(bounds):
        chunk_ids, chunk_texts = ids[lo:hi], texts[lo:hi]
        key = chunk_key(fingerprint, chunk_ids, chunk_texts)
        done = store.load(index, key, chunk_ids) if store else None
        if done is None:
            _start(engine)
            tick = time.monotonic()
            done = _checked(engine.generate(chunk_texts, chunk_ids), len(chunk_ids), engine)
            fresh, what = done, "generated"
        else:
            reused += 1
            retry = [i for i, o in enumerate(done) if o.get("error")]
            if not retry:
                log.info("chunk %d/%d: reused (finished earlier)", index + 1, len(bounds))
                outputs.extend(done)
                continue
            _start(engine)
            tick = time.monotonic()
            again = engine.generate([chunk_texts[i] for i in retry], [chunk_ids[i] for i in retry])
            fresh = _checked(again, len(retry), engine)
            for i, output in zip(retry, fresh, strict=True):
                done[i] = output
            what = f"reused, {len(retry)} failed requests retried"
        if store:
            store.save(index, key, chunk_ids, done)
        tokens = sum(int(o.get("completion_tokens") or 0) for o in fresh)
        new_tokens += tokens
        elapsed = time.monotonic() - tick
        busy += elapsed
        generated += 1
        left = (len(bounds) - index - 1) * busy / generated
        log.info(
            "chunk %d/%d: %s, %d prompts, %d tokens in %.1f s (%.1f tokens/s), %d failed; "
            "about %.0f min left",
            index + 1,
            len(bounds),
            what,
            len(fresh),
            tokens,
            elapsed,
            tokens / elapsed if elapsed > 0 else 0.0,
            sum(1 for o in done if o.get("error")),
            left / 60,
        )
        outputs.extend(done)
    log.info(
        "shard: %d prompts in %d chunks (%d reused), %d tokens generated in %.1f s",
        len(ids),
        len(bounds),
        reused,
        new_tokens,
        time.monotonic() - started,
    )
    return outputs


def _start(engine: Engine) -> None:
    """Start an engine that starts lazily (vLLM), so chunk timings exclude the start."""
    start = getattr(engine, "start", None)
    if start is not None:
        tick = time.monotonic()
        start()
        if time.monotonic() - tick > 1:
            log.info("engine %s started in %.1f s", engine.name, time.monotonic() - tick)


def _checked(outputs: Sequence[dict], expected: int, engine: Engine) -> list[dict[str, Any]]:
    """The engine's outputs with exactly ``OUTPUT_FIELDS``, as a reused chunk has them."""
    if len(outputs) != expected:
        raise RuntimeError(f"engine {engine.name} returned {len(outputs)} outputs for {expected}")
    return [{field: output.get(field) for field in OUTPUT_FIELDS} for output in outputs]


def configure_cpu_threads(threads: int) -> None:
    """On a machine without GPU, let concurrent jobs spread over the cores.

    vLLM's CPU backend pins its worker to a core of its own choosing; two shard
    jobs would then share one core. Unless the user set the binding, leave
    placement to the OS and cap the worker's threads at the job's ``threads``.
    """
    os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", "nobind")
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, threads)))
    # One process instead of three (job, engine core, worker): on a CPU it saves
    # 15-60 s of start-up per job and gives the same texts (CPU_ENGINE_ARGS too).
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    log.info(
        "CPU engine: VLLM_CPU_OMP_THREADS_BIND=%r OMP_NUM_THREADS=%r",
        os.environ["VLLM_CPU_OMP_THREADS_BIND"],
        os.environ["OMP_NUM_THREADS"],
    )
