"""Dedup at scale: N documents through every dedup rule with Snakemake, time and memory.

    uptime   # run it alone
    nice -n 10 .venv/bin/python benchmarks/bench_dedup_scale.py --docs 1000000

Builds N documents of ~300 words (5% Chinese, ~600 characters) from prose on this
machine (see bench_dedup.py), with 10% injected near-duplicates and 5% exact
copies of documents in other shards, writes them as input shards, and runs the
six dedup rules through Snakemake (tests/data/dedup_harness.smk) on ``--cores``
cores. Prints per rule: jobs, wall seconds (sum over jobs), the largest job's
wall, CPU seconds and peak RSS (from Snakemake's benchmark files), and the
recall of the injected pairs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_dedup import CACHE, ROOT, _edit_tokens, paragraph_pool

from corpusforge import dedup as dd
from corpusforge.io import read_parquet, write_parquet
from corpusforge.records import shard_of, stable_id

HARNESS = ROOT / "tests" / "data" / "dedup_harness.smk"
RULES = [
    "dedup_fingerprint",
    "dedup_exact",
    "dedup_signatures",
    "dedup_bands",
    "dedup_clusters",
    "dedup",
]


def doc_text(k: int, pools: dict, zh_share: float = 0.05) -> tuple[str, str]:
    """Document k, a pure function of k: ~300 words (en) or ~600 characters (zh)."""
    rng = random.Random(k)
    lang = "zh" if rng.random() < zh_share else "en"
    pool = pools[lang]
    parts, size = [], 0
    while size < (600 if lang == "zh" else 300):
        p = pool[rng.randrange(len(pool))]
        parts.append(p)
        size += len(p) if lang == "zh" else len(p.split())
    return ("\n" if lang == "zh" else "\n\n").join(parts), lang


def build(n: int, shards: int, results: Path, seed: int = 0) -> pd.DataFrame:
    """Write the input shards; return the injected pairs (orig index, copy index, kind)."""
    pools = {"en": paragraph_pool("en"), "zh": paragraph_pool("zh")}
    vocab = sorted({w for p in pools["en"][:2000] for w in p.split()})
    zh_vocab = sorted({c for p in pools["zh"][:500] for c in p})
    rng = random.Random(seed)
    n_near, n_exact = int(0.10 * n), int(0.05 * n)
    n_orig = n - n_near - n_exact
    src = [rng.randrange(n_orig) for _ in range(n_near + n_exact)]
    ids = [stable_id("scale", seed, k) for k in range(n)]
    shard = np.array([shard_of(i, shards) for i in ids])
    for s in range(shards):
        rows = []
        for k in np.flatnonzero(shard == s).tolist():
            if k < n_orig:
                text, lang = doc_text(k, pools)
            else:
                text, lang = doc_text(src[k - n_orig], pools)
                if k < n_orig + n_near:
                    r = random.Random(k)
                    if lang == "zh":
                        text = "".join(_edit_tokens(list(text), 0.05, True, zh_vocab, r))
                    else:
                        text = " ".join(_edit_tokens(text.split(" "), 0.05, True, vocab, r))
            rows.append(
                {"id": ids[k], "seed_id": ids[k], "source": "scale", "text": text, "lang": lang}
            )
        write_parquet(pd.DataFrame(rows).sort_values("id"), results / f"docs/input/{s:04d}.parquet")
    kinds = ["near"] * n_near + ["exact"] * n_exact
    copies = list(range(n_orig, n))
    return pd.DataFrame(
        {"orig": [ids[i] for i in src], "copy": [ids[i] for i in copies], "kind": kinds}
    )


def n_near(truth: pd.DataFrame) -> int:
    return int((truth["kind"] == "near").sum())


def read_texts(results: Path, ids: set) -> dict:
    """(text, lang) of some documents, read shard by shard from the input."""
    out = {}
    for path in sorted((results / "docs/input").glob("*.parquet")):
        part = read_parquet(path, columns=["id", "text", "lang"])
        part = part[part["id"].isin(ids)]
        out.update(zip(part["id"], zip(part["text"], part["lang"], strict=True), strict=True))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--shards", type=int, default=16)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--band-groups", type=int, default=4)
    ap.add_argument("--workdir", type=Path, default=CACHE / "dedup-scale")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args()
    work = args.workdir
    shutil.rmtree(work, ignore_errors=True)
    results = work / "results"
    t0 = time.perf_counter()
    truth = build(args.docs, args.shards, results)
    print(f"built {args.docs:,} docs in {args.shards} shards: {time.perf_counter() - t0:.0f}s")
    cfg = {
        "results": str(results),
        "shards": args.shards,
        "repo": str(ROOT),
        "dedup": {"band_groups": args.band_groups},
    }
    (work / "config.json").write_text(json.dumps(cfg))
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(HARNESS),
            "--configfile",
            str(work / "config.json"),
            "--cores",
            str(args.cores),
            "--quiet",
            "all",
        ],
        cwd=work,
        env={**os.environ},
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    if proc.returncode:
        print(proc.stderr[-3000:])
        raise SystemExit("snakemake failed")
    print(f"snakemake, all dedup rules, {args.cores} cores: {wall:.0f}s wall")
    head = ("rule", "jobs", "wall s (sum)", "max job s", "cpu s", "peak RSS MB")
    print("{:20} {:>4} {:>12} {:>9} {:>8} {:>11}".format(*head))
    for rule in RULES:
        frames = [pd.read_csv(p, sep="\t") for p in (results / "benchmarks" / rule).glob("*.tsv")]
        b = pd.concat(frames)
        print(
            f"{rule:20} {len(b):>4} {b['s'].sum():>12.1f} {b['s'].max():>9.1f} "
            f"{b['cpu_time'].sum():>8.1f} {b['max_rss'].max():>11.0f}"
        )
    removed = read_parquet(results / "dedup/removed.parquet")
    kept_of = dict(zip(removed["id"], removed["kept_id"], strict=True))

    def rep(x):
        return kept_of.get(x, x)

    same = np.array([rep(a) == rep(b) for a, b in zip(truth["orig"], truth["copy"], strict=True)])
    for kind in ("near", "exact"):
        sel = (truth["kind"] == kind).to_numpy()
        print(f"injected {kind} pairs found: {same[sel].mean():.4f} of {sel.sum():,}")
    # exact 5-gram Jaccard of a sample of near pairs: recall on those with J >= 0.8
    sample = np.flatnonzero((truth["kind"] == "near").to_numpy())[:: max(1, n_near(truth) // 3000)]
    texts = read_texts(results, set(truth["orig"].iloc[sample]) | set(truth["copy"].iloc[sample]))
    jac, found = [], []
    for i in sample:
        a, b = truth["orig"].iloc[i], truth["copy"].iloc[i]
        (ta, la), (tb, _) = texts[a], texts[b]
        cm = la == "zh"
        jac.append(dd.jaccard(dd.reference_shingles(ta, cm, 5), dd.reference_shingles(tb, cm, 5)))
        found.append(same[i])
    jac, found = np.array(jac), np.array(found)
    hi = jac >= 0.8
    print(
        f"sample of {len(sample)} near pairs: {hi.sum()} with J >= 0.8, recall on them "
        f"{found[hi].mean():.4f}; J < 0.8 found {found[~hi].mean():.4f}"
    )
    stats = json.loads((results / "dedup/clusters.json").read_text())
    print("clusters:", json.dumps({k: stats[k] for k in sorted(stats) if "histogram" not in k}))
    print("cluster sizes:", json.dumps(stats["cluster_size_histogram"]))
    print("removed:", len(removed), "exact", (removed["reason"] == "exact_duplicate").sum())
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
