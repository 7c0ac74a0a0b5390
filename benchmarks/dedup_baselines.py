"""The baselines of benchmarks/bench_dedup.py: datasketch in this process, rensa and
datatrove in the baseline venv (benchmarks/requirements-datatrove.txt), and the
helpers that run a script there (also used by the other benchmarks)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path

CACHE = Path(os.environ.get("CORPUSFORGE_CACHE", Path.home() / ".cache" / "corpusforge"))
BENCH_VENV = Path(os.environ.get("CORPUSFORGE_BENCH_VENV", CACHE / "bench-venv"))

# ---------------------------------------------------------------- baselines (datasketch)

_SPLIT = re.compile(r"[\W_]+", re.UNICODE)


def py_shingles(text: str, n: int = 5) -> list[bytes]:
    """The shingles a plain Python loop builds: normalized words, joined n-grams."""
    words = _SPLIT.split(unicodedata.normalize("NFKC", text).lower())
    words = [w for w in words if w]
    return list({" ".join(words[i : i + n]).encode() for i in range(len(words) - n + 1)})


def run_datasketch_naive(texts: list[str], ids: list[str]) -> dict[str, str]:
    """MinHash() + update() per shingle, MinHashLSH query-then-insert: removed id ->
    the id it was found a duplicate of."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=0.8, num_perm=128, params=(16, 8))
    kept_of = {}
    for key, text in zip(ids, texts, strict=True):
        m = MinHash(num_perm=128)
        for sh in py_shingles(text):
            m.update(sh)
        found = lsh.query(m)
        if found:
            kept_of[key] = min(found)
        lsh.insert(key, m)
    return kept_of


def run_datasketch_bulk(texts: list[str], ids: list[str]) -> dict[str, str]:
    """MinHash.bulk + LeanMinHash, MinHashLSH query-then-insert: removed id -> the id
    it was found a duplicate of."""
    from datasketch import LeanMinHash, MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=0.8, num_perm=128, params=(16, 8))
    kept_of = {}
    mhs = MinHash.bulk([py_shingles(t) for t in texts], num_perm=128)
    for key, m in zip(ids, mhs, strict=True):
        lean = LeanMinHash(m)
        found = lsh.query(lean)
        if found:
            kept_of[key] = min(found)
        lsh.insert(key, lean)
    return kept_of


def timed(fn: Callable, *args) -> tuple[float, float, object]:
    c0, w0 = time.process_time(), time.perf_counter()
    result = fn(*args)
    return time.process_time() - c0, time.perf_counter() - w0, result


# ---------------------------------------------------------------- baseline venv (datatrove, rensa)

# rensa 0.5.0: the same Python shingle sets as datasketch (py_shingles, as strings),
# RMinHash.from_token_sets (Rust hashing and permutations), RMinHashLSH 16 x 8,
# query-then-insert; documents in memory.
RENSA_SCRIPT = r"""
import json, re, sys, time, unicodedata
from rensa import RMinHash, RMinHashLSH
split = re.compile(r"[\W_]+", re.UNICODE)
def shingles(text, n=5):
    words = [w for w in split.split(unicodedata.normalize("NFKC", text).lower()) if w]
    return list({" ".join(words[i : i + n]) for i in range(len(words) - n + 1)})
rows = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
texts, ids = [r["text"] for r in rows], [r["id"] for r in rows]
c0, w0 = time.process_time(), time.perf_counter()
mhs = RMinHash.from_token_sets([shingles(t) for t in texts], 128, 1)
lsh = RMinHashLSH(0.8, 128, 16)
kept_of = {}
for i, m in enumerate(mhs):
    found = lsh.query(m)
    if found:
        kept_of[ids[i]] = ids[min(found)]
    lsh.insert(i, m)
cpu, wall = time.process_time() - c0, time.perf_counter() - w0
print("DATATROVE " + json.dumps({"cpu": cpu, "wall": wall, "kept_of": kept_of}))
"""

# datatrove 0.10.1 minhash, its three detection stages called in this process (no
# executor, no reader, no writer): signatures of the Documents in memory (spaCy word
# tokens), the per-bucket pair search, the union-find clusters; the signature and
# bucket files between its stages are part of its method (it has no in-memory path).
# 16 buckets x 8 hashes (datasketch's and rensa's split here), 1 task.
DATATROVE_SCRIPT = r"""
import json, struct, sys, time
from datatrove.data import Document
from datatrove.pipeline.dedup import (MinhashDedupSignature, MinhashDedupBuckets,
    MinhashDedupCluster)
from datatrove.pipeline.dedup.minhash import MinhashConfig
src, work = sys.argv[1], sys.argv[2]
rows = [json.loads(line) for line in open(src, encoding="utf-8")]
docs = [Document(text=r["text"], id=r["id"]) for r in rows]
cfg = MinhashConfig(num_buckets=16, hashes_per_bucket=8)
sig = MinhashDedupSignature(output_folder=f"{work}/sigs", config=cfg)
sig.get_shingles("Warm up the word tokenizer, which loads on its first call. " * 3)
buckets = MinhashDedupBuckets(input_folder=f"{work}/sigs", output_folder=f"{work}/buckets",
                              config=cfg)
cluster = MinhashDedupCluster(input_folder=f"{work}/buckets", output_folder=f"{work}/remove",
                              config=cfg, save_cluster_id=True)
times = {}
def stage(name, fn):
    c0, w0 = time.process_time(), time.perf_counter()
    fn()
    times[name] = (time.process_time() - c0, time.perf_counter() - w0)
stage("signatures", lambda: sig.run(iter(docs), 0, 1))
stage("buckets", lambda: [buckets.run(None, b, cfg.num_buckets) for b in range(cfg.num_buckets)])
stage("clusters", lambda: cluster.run(None, 0, 1))
data = open(f"{work}/remove/000000.remove", "rb").read()
removed = [rows[i]["id"] for (i,) in struct.iter_unpack("<I", data)]
# (doc, cluster) pairs of every clustered document; a removed doc -> its cluster's first doc
pairs = struct.iter_unpack("<II", open(f"{work}/remove/000000.clusters", "rb").read())
cluster_of = {rows[d]["id"]: c for d, c in pairs}
first = {}
for key in sorted(cluster_of):
    first.setdefault(cluster_of[key], key)
kept_of = {key: first[cluster_of[key]] for key in cluster_of}
print("DATATROVE " + json.dumps({"stages": times, "removed": removed, "kept_of": kept_of,
      "cpu": sum(c for c, _ in times.values()), "wall": sum(w for _, w in times.values())}))
"""


def write_docs(path: Path, ids: Iterable[str], texts: Iterable[str]) -> None:
    """Documents as jsonl {id, text}, the input of the datatrove scripts."""
    with open(path, "w", encoding="utf-8") as handle:
        for key, text in zip(ids, texts, strict=True):
            handle.write(json.dumps({"id": key, "text": text}, ensure_ascii=False) + "\n")


def in_bench_venv(script: str, *args: str) -> tuple[str | None, str]:
    """Run ``python -c script args`` in the baseline venv: (the text after the
    script's ``DATATROVE`` line tag, or None; an error message, or "")."""
    python = BENCH_VENV / "bin" / "python"
    if not python.exists():
        return None, f"no baseline venv at {BENCH_VENV} (make it with tools/install_bench.sh)"
    proc = subprocess.run(
        [str(python), "-c", script, *args], capture_output=True, text=True, check=False
    )
    line = [x for x in proc.stdout.splitlines() if x.startswith("DATATROVE")]
    if proc.returncode or not line:
        return None, "baseline failed: " + proc.stderr[-1200:]
    return line[0].removeprefix("DATATROVE").strip(), ""


def run_in_venv(script: str, texts: list[str], ids: list[str]) -> dict | str:
    """One of the scripts above on these documents: its JSON result, or an error."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "docs.jsonl"
        write_docs(src, ids, texts)
        out, error = in_bench_venv(script, str(src), str(Path(tmp) / "work"))
        return error if out is None else json.loads(out)
