"""Benchmark of the generate rule's code path against bare vLLM and bare transformers,
in each dtype the engine can be given on a CPU (bfloat16 and float32).

Same prompts (the real prompts of the default build: the embedded seed's extracts
through the en/zh templates), same sampling parameters and per-prompt seeds, same
run. Each dtype runs in a subprocess of its own (one vLLM engine per process), with
one loaded engine shared by its vLLM variants:

- ``vllm direct``: ``LLM.generate(texts, params)`` on prompts already rendered with
  the chat template, nothing else (the floor for any wrapper);
- ``rule``: ``corpusforge.generate_job.run_job`` as rule ``generate`` runs it: read
  the Parquet shard, render and tokenize, generate in chunks of ``chunk_size``
  (each chunk saved with its completion marker), filter, write docs, rejects and
  stats, remove the chunks. Measured once with the whole shard in one chunk (the
  default for shards up to ``chunk_size`` prompts) and once with smaller chunks
  (resume granularity costs a batch drain at the end of every chunk);
- ``transformers``: ``model.generate`` on one left-padded batch, in the same dtype,
  as many threads as vLLM's worker (one).

Variants run in interleaved rounds (the machine is shared; the median is used).
Prints tokens/s (completion tokens over wall time, engine load excluded) and
tokens per CPU-second of this process (vLLM's engine runs in this process on the
CPU, so this is robust to other load on a shared machine), the ratios within a
dtype (goal: rule / vllm direct >= 0.95), and float32 against bfloat16, with the
CPU's model and whether it has native bfloat16 (what ``dtype: auto`` goes by).

    .venv/bin/python benchmarks/bench_generate.py [--dtypes bfloat16,float32]
        [--prompts 32] [--max-tokens 128] [--rounds 2] [--small-chunk 8]
        [--threads 1] [--model DIR] [--transformers-rounds 1] [--no-transformers]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "corpusforge" / "tests"
SAMPLING = {"temperature": 0.8, "top_p": 0.95, "top_k": 50, "repetition_penalty": 1.1, "seed": 42}


def default_model() -> Path:
    """The converted SmolLM2-135M-Instruct the tests use (converted here if missing)."""
    from corpusforge.model import cached_default_conversion

    return cached_default_conversion(CACHE)


def real_prompts(n: int):
    """The default build's prompts: embedded seed -> en/zh templates (first n by id)."""
    import yaml

    from corpusforge.prompts import build_prompts, load_template_dir
    from corpusforge.seed import SeedSpec, ingest_file

    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    seed_cfg = config["seeds"]["default"]
    seeds, _, _ = ingest_file(
        ROOT / seed_cfg["source"]["path"], SeedSpec.from_config("default", seed_cfg)
    )
    templates = load_template_dir([ROOT / p for p in config["prompts"]["templates"]])
    prompts, _, _ = build_prompts(seeds, templates, config["prompts"])
    if len(prompts) < n:  # more prompts than the seed has: cycle, with fresh ids
        reps = -(-n // len(prompts))
        import pandas as pd

        from corpusforge.records import stable_id

        copies = []
        for rep in range(reps):
            copy = prompts.copy()
            copy["id"] = [stable_id("bench", rep, pid) for pid in copy["id"]]
            copies.append(copy)
        prompts = pd.concat(copies).sort_values("id").reset_index(drop=True)
    return prompts.head(n).reset_index(drop=True)


def rule_job(
    folder: Path, prompt_file: Path, model: Path, engine_args: dict, chunk_size: int, sampling: dict
):
    ns = SimpleNamespace
    results = folder / "results"
    return ns(
        input=ns(prompts=str(prompt_file), model=str(model)),
        output=ns(
            docs=str(results / "docs/generate/0000.parquet"),
            rejected=str(results / "rejected/generate/0000.parquet"),
            stats=str(results / "stats/generate/0000.json"),
        ),
        params=ns(
            engine="vllm",
            model_name="smollm2-135m-instruct",
            system_prompt=None,
            sampling=sampling,
            engine_args=engine_args,
            filters={"min_tokens": 0, "drop_truncated": False},
            cpu_kvcache_gib=2,
            chunk_size=chunk_size,
        ),
        wildcards=ns(shard="0000"),
        log=[str(results / "logs/generate/0000.log")],
        threads=1,
        resources=ns(gpu=0),
        config={
            "results": str(results),
            "generation": {
                "max_failure_rate": 1.0,
                "allow_cpu_fallback": False,
                "engine_args": {"dtype": engine_args["dtype"]},
            },
        },
    )


def run_one(args) -> dict:
    """Every variant in ``args.dtype``; returns the medians by variant."""
    from corpusforge import generate as gen
    from corpusforge.engines import VllmEngine
    from corpusforge.generate_job import run_job
    from corpusforge.io import read_parquet, write_parquet

    sampling = {**SAMPLING, "max_tokens": args.max_tokens}
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    gen.configure_cpu_threads(args.threads)
    model = args.model or default_model()
    prompts = real_prompts(args.prompts)
    work = Path(tempfile.mkdtemp(prefix="bench-generate-"))
    prompt_file = work / "prompts.parquet"
    write_parquet(prompts, prompt_file)
    langs = prompts["prompt_lang"].value_counts().to_dict()
    print(f"== dtype {args.dtype}: model {model}")
    print(f"{len(prompts)} prompts {langs}, max_tokens {args.max_tokens}, {args.rounds} rounds")

    # The rule's engine arguments on a CPU (config defaults + CPU_ENGINE_ARGS).
    engine_args = {
        **gen.CPU_ENGINE_ARGS,
        "enforce_eager": True,
        "max_model_len": 2048,
        "enable_chunked_prefill": False,
        "seed": SAMPLING["seed"],
        "dtype": args.dtype,
    }
    from vllm import LLM, SamplingParams

    tick = time.perf_counter()
    llm = LLM(model=str(model), **engine_args)
    print(f"vLLM load: {time.perf_counter() - tick:.1f} s (excluded below)")
    tokenizer = llm.get_tokenizer()
    texts = gen.render_chat(tokenizer, prompts["prompt"].tolist(), None)
    prompt_tokens = sum(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts)
    print(f"prompt tokens: {prompt_tokens} ({prompt_tokens / len(texts):.0f} per prompt)")
    kwargs = gen.sampling_kwargs(sampling, prompts["id"].tolist())
    # warm-up: one untimed pass over the whole batch (first allocations, kernels)
    llm.generate(texts, [SamplingParams(**kw) for kw in kwargs], use_tqdm=False)

    def direct() -> tuple[int, tuple[float, float], list[str]]:
        llm.reset_prefix_cache()
        params = [SamplingParams(**kw) for kw in kwargs]
        tick = clock()
        results = llm.generate(texts, params, use_tqdm=False)
        elapsed = since(tick)
        tokens = sum(len(r.outputs[0].token_ids) for r in results)
        return tokens, elapsed, [r.outputs[0].text.strip() for r in results]

    def factory(name, *, sampling, system_prompt, model_path, engine_args, **_):
        return VllmEngine(model_path, sampling, engine_args, system_prompt, llm=llm)

    def rule(chunk_size: int, tag: str) -> tuple[int, tuple[float, float], list[str]]:
        folder = work / f"{tag}-{time.monotonic_ns()}"
        job = rule_job(folder, prompt_file, model, engine_args, chunk_size, sampling)
        tick = clock()
        run_job(job, engine_factory=factory)
        elapsed = since(tick)
        docs = read_parquet(job.output.docs)
        rejects = read_parquet(job.output.rejected)
        by_prompt = dict(zip(docs["prompt_id"], docs["text"], strict=True))
        tokens = int(docs["completion_tokens"].sum())
        if not rejects.empty:
            print(f"  ({tag}: {len(rejects)} rejected: {sorted(set(rejects['reason']))})")
        return tokens, elapsed, [by_prompt.get(pid, "") for pid in prompts["id"]]

    whole = max(len(prompts), 1)
    variants = {
        "vllm direct": direct,
        f"rule, chunk_size {whole} (1 chunk)": lambda: rule(whole, "whole"),
        f"rule, chunk_size {args.small_chunk}": lambda: rule(args.small_chunk, "small"),
    }
    rates: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    texts_seen: dict[str, list[str]] = {}
    for round_no in range(args.rounds):
        for name, run in variants.items():
            tokens, (wall, cpu), outs = run()
            rates[name].append((tokens / wall, tokens / cpu))
            texts_seen.setdefault(name, outs)
            report(round_no, name, tokens, wall, cpu)

    names = list(variants)
    same = texts_seen[names[0]] == texts_seen[names[1]]
    print(f"rule (1 chunk) texts identical to vllm direct: {same}")

    if not args.no_transformers:
        del llm
        rates["transformers"] = transformers_rates(model, texts, args)

    medians = {
        name: tuple(statistics.median(r[i] for r in values) for i in (0, 1))
        for name, values in rates.items()
    }
    return {"medians": medians, "names": names, "rule_same_as_direct": same}


def print_dtype(dtype: str, result: dict) -> None:
    medians, names = result["medians"], result["names"]
    print(f"\n{dtype}: median tokens/s       wall   per CPU-second of this process")
    for name, (wall, cpu) in medians.items():
        print(f"  {name:<30} {wall:8.1f} {cpu:8.1f}")
    base = medians["vllm direct"]
    print(f"{dtype}: ratios (wall; per CPU-second)")
    for name in names[1:]:
        wall, cpu = (medians[name][i] / base[i] for i in (0, 1))
        print(f"  {name} / vllm direct: {wall:.3f}; {cpu:.3f}  (goal >= 0.95)")
    if "transformers" in medians:
        hf = medians["transformers"]
        for name in names[:2]:
            wall, cpu = (medians[name][i] / hf[i] for i in (0, 1))
            print(f"  {name} / transformers ({dtype}): {wall:.2f}; {cpu:.2f}")


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dtypes", default="bfloat16,float32")
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--small-chunk", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--transformers-rounds", type=int, default=1)
    parser.add_argument("--no-transformers", action="store_true")
    parser.add_argument("--dtype", help=argparse.SUPPRESS)  # one dtype, in a subprocess
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.dtype:
        args.result.write_text(json.dumps(run_one(args)))
        return

    from corpusforge.precision import cpu_flags, resolve_dtype

    auto, reason = resolve_dtype("auto", gpus=0)
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; dtype auto here: {auto} ({reason})")
    results = {}
    for dtype in args.dtypes.split(","):
        out = Path(tempfile.mkdtemp(prefix="bench-generate-")) / "result.json"
        argv = [a for a in sys.argv[1:] if not a.startswith("--dtypes")]
        cmd = [sys.executable, __file__, *argv, "--dtype", dtype, "--result", str(out)]
        subprocess.run(cmd, check=True)
        results[dtype] = json.loads(out.read_text())
    for dtype, result in results.items():
        print_dtype(dtype, result)
    if {"bfloat16", "float32"} <= set(results):
        print("\nfloat32 / bfloat16 (wall; per CPU-second)")
        for name in [*results["float32"]["names"][:2], "transformers"]:
            if name not in results["float32"]["medians"]:
                continue
            f32, b16 = (results[d]["medians"][name] for d in ("float32", "bfloat16"))
            print(f"  {name:<30} {f32[0] / b16[0]:.2f}; {f32[1] / b16[1]:.2f}")
    print(f"native bfloat16 flags: {sorted(cpu_flags() & {'amx_bf16', 'avx512_bf16', 'bf16'})}")


def clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def since(tick: tuple[float, float]) -> tuple[float, float]:
    wall, cpu = clock()
    return wall - tick[0], cpu - tick[1]


def report(round_no: int, name: str, tokens: int, wall: float, cpu: float) -> None:
    print(f"round {round_no + 1} {name:<30} {tokens:6d} tokens {wall:7.1f} s wall "
          f"{cpu:7.1f} s CPU {tokens / wall:8.1f} tokens/s")  # fmt: skip


def transformers_rates(model: Path, texts: list[str], args) -> list[tuple[float, float]]:
    """(tokens/s, tokens per CPU-second) of transformers' generate on one left-padded batch."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(args.threads)
    tokenizer = AutoTokenizer.from_pretrained(model)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    dtype = getattr(torch, args.dtype)
    hf_model = AutoModelForCausalLM.from_pretrained(model, dtype=dtype).eval()
    batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    eos = hf_model.generation_config.eos_token_id
    eos_ids = set(eos if isinstance(eos, list) else [eos])
    rates = []
    for round_no in range(args.transformers_rounds):
        torch.manual_seed(SAMPLING["seed"] + round_no)
        tick = clock()
        with torch.inference_mode():
            out = hf_model.generate(
                **batch,
                max_new_tokens=args.max_tokens,
                do_sample=True,
                temperature=SAMPLING["temperature"],
                top_p=SAMPLING["top_p"],
                top_k=SAMPLING["top_k"],
                repetition_penalty=SAMPLING["repetition_penalty"],
                pad_token_id=tokenizer.pad_token_id,
            )
        wall, cpu = since(tick)
        new = out[:, batch["input_ids"].shape[1] :].tolist()
        tokens = 0
        for row in new:  # count up to and including the first end-of-sequence token
            for tok in row:
                tokens += 1
                if tok in eos_ids:
                    break
        rates.append((tokens / wall, tokens / cpu))
        report(round_no, "transformers", tokens, wall, cpu)
    return rates


if __name__ == "__main__":
    sys.exit(main())
