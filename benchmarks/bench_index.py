"""The dedup index (corpusforge.dedup.index) against datatrove's MinHash index, one run.

    nice -n 10 .venv/bin/python benchmarks/bench_index.py --index-docs 1000000 --query-docs 20000

Both sides get the same documents: ``--index-docs`` documents make the index (ours:
shard_keys + publish; datatrove 0.10.1: MinhashDedupSignature, then
MinhashDedupBuckets with ``index_folder`` and ``create_index_name``), then
``--query-docs`` new documents are checked against it (ours: IndexCheckStage = exact hash,
MinHash signature, index lookup and verification; datatrove: signatures, then
MinhashDedupBuckets with ``index_folder``, only_dedup_in_index). Datatrove runs in the
baseline venv (tools/install_bench.sh), with the same LSH split as ours (21 bands x 6
rows; its default 64-bit hashes).

Documents: ~200 words drawn (Zipf) from a vocabulary of made-up words, a pure function
of the seed. Among the query documents, 5% are exact copies of indexed ones (other
case and punctuation), 5% near copies (2 words replaced), the rest new. Printed:
index bytes per document, check CPU seconds per document, peak RSS of the check
process, and what each side found against the injected copies.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dedup_baselines import in_bench_venv, write_docs

from corpusforge.dedup import settings
from corpusforge.dedup.index import key_params, publish
from corpusforge.schema import with_defaults

BATCH = 20_000  # documents hashed at once when the index is made

DATATROVE_INDEX_SCRIPT = r"""
import json, os, struct, sys, time
from datatrove.data import Document
from datatrove.pipeline.dedup import MinhashDedupSignature, MinhashDedupBuckets
from datatrove.pipeline.dedup.minhash import MinhashConfig
index_src, query_src, work = sys.argv[1], sys.argv[2], sys.argv[3]
cfg = MinhashConfig(num_buckets=21, hashes_per_bucket=6)
def docs(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            yield Document(text=r["text"], id=r["id"])
def status(key="VmHWM"):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
def timed(fn):
    c0, w0 = time.process_time(), time.perf_counter()
    fn()
    return time.process_time() - c0, time.perf_counter() - w0
def bucket_pass(sigs, out, create=None):
    step = MinhashDedupBuckets(input_folder=sigs, output_folder=out, index_folder=f"{work}/index",
                               config=cfg, create_index_name=create, only_dedup_in_index=True)
    for b in range(cfg.num_buckets):
        step.run(None, b, cfg.num_buckets)
sig = MinhashDedupSignature(output_folder=f"{work}/sigs-index", config=cfg)
sig.get_shingles("Warm up the word tokenizer, which loads on its first call. " * 3)
t_sig = timed(lambda: sig.run(docs(index_src), 0, 1))
t_idx = timed(lambda: bucket_pass(f"{work}/sigs-index", f"{work}/dups-index", "dump_a"))
size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(f"{work}/index") for f in fs)
rss0 = status()
qsig = MinhashDedupSignature(output_folder=f"{work}/sigs-query", config=cfg)
q_sig = timed(lambda: qsig.run(docs(query_src), 0, 1))
q_look = timed(lambda: bucket_pass(f"{work}/sigs-query", f"{work}/dups-query"))
found = set()
for name in os.listdir(f"{work}/dups-query"):
    data = open(os.path.join(f"{work}/dups-query", name), "rb").read()
    for f1, d1, f2, d2 in struct.iter_unpack("<4I", data):
        if f1 == 0xFFFFFFFF:
            found.add(d2)
print("DATATROVE " + json.dumps({
    "index_cpu": t_sig[0] + t_idx[0], "index_wall": t_sig[1] + t_idx[1], "index_bytes": size,
    "check_cpu": q_sig[0] + q_look[0], "check_wall": q_sig[1] + q_look[1],
    "check_signature_cpu": q_sig[0], "check_lookup_cpu": q_look[0],
    "peak_rss_kib": status(), "rss_before_check_kib": rss0,
    "anon_after_check_kib": status("RssAnon"), "file_after_check_kib": status("RssFile"),
    "found_rows": sorted(found)}))
"""


def vocabulary(size: int = 50_000, seed: int = 7) -> list[str]:
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    lengths = rng.integers(3, 10, size)
    return sorted({"".join(rng.choice(letters, n)) for n in lengths})


def documents(n: int, seed: int, vocab: list[str], words: int = 200) -> list[str]:
    """n documents of ``words`` Zipf-drawn words, 5 lines each."""
    rng = np.random.default_rng(seed)
    ranks = np.minimum(rng.zipf(1.2, (n, words)), len(vocab)) - 1
    perm = rng.permutation(len(vocab))
    vocab_arr = np.array(vocab, dtype=object)[perm]
    line = words // 5
    out = []
    for row in ranks:
        toks = vocab_arr[row]
        out.append("\n".join(" ".join(toks[i : i + line]) + "." for i in range(0, words, line)))
    return out


def queries(index_texts: list[str], n: int, vocab: list[str], seed: int = 1):
    """The query documents and the truth: row -> (kind, index row)."""
    rng = np.random.default_rng(seed)
    texts = documents(n, seed + 1000, vocab)
    truth = {}
    n_copy = n // 20
    picks = rng.choice(len(index_texts), 2 * n_copy, replace=False)
    for k in range(n_copy):  # exact: other case and punctuation
        texts[k] = index_texts[picks[k]].upper().replace(".", " !")
        truth[k] = ("exact", int(picks[k]))
    for k in range(n_copy, 2 * n_copy):  # near: two words replaced
        toks = index_texts[picks[k]].split(" ")
        for pos in rng.choice(len(toks), 2, replace=False):
            toks[pos] = vocab[int(rng.integers(len(vocab)))]
        texts[k] = " ".join(toks)
        truth[k] = ("near", int(picks[k]))
    return texts, truth


def frame(texts: list[str], prefix: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [f"{prefix}{i:08d}" for i in range(len(texts))],
            "text": texts,
            "origin": "web",
            "lang": "en",
        }
    )


def dedup_cfg() -> dict:
    dedup = settings({k: v for k, v in with_defaults("dedup").items() if k != "index"})
    return {**dedup, "max_matches": 16}


def make_index(texts: list[str], root: Path) -> dict:
    """Our index of ``texts`` (one build): CPU seconds, bytes."""
    from corpusforge.dedup.index_jobs import shard_keys
    from corpusforge.paragraphs import shard_line_hashes

    cfg = dedup_cfg()
    c0, w0 = time.process_time(), time.perf_counter()
    ids, exact, sigs, signed, lines = [], [], [], [], []
    for start in range(0, len(texts), BATCH):
        docs = frame(texts[start : start + BATCH], "a")
        docs["id"] = [f"a{i:08d}" for i in range(start, start + len(docs))]
        keys, meta, sig = shard_keys(docs, cfg)
        ok = ~keys["short"].to_numpy(bool)
        has_sig = keys["id"].isin(set(meta["id"])).to_numpy()
        pos = pd.Series(np.arange(len(meta)), index=meta["id"].to_numpy())
        base = len(ids)
        sel = keys[ok].reset_index(drop=True)
        ids += sel["id"].tolist()
        exact.append(sel["exact_hash"].to_numpy(np.uint64))
        signed_ids = keys.loc[ok & has_sig, "id"]
        sigs.append(sig[pos.loc[signed_ids].to_numpy(np.int64)])
        signed.append(np.flatnonzero(sel["id"].isin(set(signed_ids)).to_numpy()) + base)
        lines.append(np.unique(shard_line_hashes(docs, ["web"])))
    result = publish(
        root,
        "dump-a",
        key_params(cfg),
        ids,
        np.concatenate(exact),
        np.concatenate(sigs),
        np.concatenate(signed),
        np.concatenate(lines),
        {"config_hash": "bench"},
    )
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    seg = result["segment"]
    return {"cpu": cpu, "wall": wall, "bytes": seg["bytes"], "documents": seg["documents"]}


def peak_rss_kib(key: str = "VmHWM") -> int:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited
    from the parent across fork and exec), or another line of /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {key} in /proc/self/status")


def check_child(query_path: str, index_root: str) -> None:
    """In a process of its own (peak RSS): check the query documents, print JSON."""
    from corpusforge.dedup.index import current_version
    from corpusforge.dedup.index_jobs import IndexCheckStage

    docs = pd.read_parquet(query_path)
    rss0 = peak_rss_kib()
    read = [{"path": index_root, "version": current_version(index_root)}]
    c0, w0 = time.process_time(), time.perf_counter()
    _, rejects, _ = IndexCheckStage({**dedup_cfg(), "read": read})(docs)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    found = {
        int(r.id[1:]): (json.loads(r.detail)["match"], int(json.loads(r.detail)["matched_id"][1:]))
        for r in rejects.itertuples()
    }
    print(
        "CHECK "
        + json.dumps(
            {
                "cpu": cpu,
                "wall": wall,
                "peak_rss_kib": peak_rss_kib(),
                "rss_before_check_kib": rss0,
                "anon_after_check_kib": peak_rss_kib("RssAnon"),
                "file_after_check_kib": peak_rss_kib("RssFile"),
                "found": {str(k): v for k, v in found.items()},
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--index-docs", type=int, default=100_000)
    ap.add_argument("--query-docs", type=int, default=10_000)
    ap.add_argument("--skip-datatrove", action="store_true")
    ap.add_argument("--check-child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.check_child:
        check_child(*args.check_child)
        return
    vocab = vocabulary()
    t0 = time.perf_counter()
    index_texts = documents(args.index_docs, 0, vocab)
    query_texts, truth = queries(index_texts, args.query_docs, vocab)
    print(
        f"{args.index_docs:,} indexed and {args.query_docs:,} query documents "
        f"(~200 words) made in {time.perf_counter() - t0:.1f} s; CPU: {os.cpu_count()} cores"
    )
    with tempfile.TemporaryDirectory(prefix="bench-index-") as tmp:
        work = Path(tmp)
        ours_index = make_index(index_texts, work / "ours")
        query_path = work / "query.parquet"
        frame(query_texts, "q").to_parquet(query_path)
        proc = subprocess.run(
            [sys.executable, __file__, "--check-child", str(query_path), str(work / "ours")],
            capture_output=True,
            text=True,
            check=False,
        )
        line = [x for x in proc.stdout.splitlines() if x.startswith("CHECK ")]
        if proc.returncode or not line:
            raise SystemExit("our check failed: " + proc.stderr[-2000:])
        ours = json.loads(line[0].removeprefix("CHECK "))
        ours_found = {int(k): tuple(v) for k, v in ours["found"].items()}
        dt: dict | None = None
        if not args.skip_datatrove:
            write_docs(
                work / "index.jsonl", [f"a{i}" for i in range(len(index_texts))], index_texts
            )
            write_docs(
                work / "query.jsonl", [f"q{i}" for i in range(len(query_texts))], query_texts
            )
            out, error = in_bench_venv(
                DATATROVE_INDEX_SCRIPT,
                str(work / "index.jsonl"),
                str(work / "query.jsonl"),
                str(work / "dt"),
            )
            if out is None:
                print(f"datatrove: {error}")
            else:
                dt = json.loads(out)
    n_i, n_q = ours_index["documents"], args.query_docs
    per = 1e3 / n_q
    mib = 1 / 1024
    print("\n| | ours | datatrove |\n|---|---|---|")
    rows = [
        ("index bytes / document", ours_index["bytes"] / n_i, dt and dt["index_bytes"] / n_i),
        ("make the index, CPU s", ours_index["cpu"], dt and dt["index_cpu"]),
        ("check, CPU ms / document", per * ours["cpu"], dt and per * dt["check_cpu"]),
        ("check, wall ms / document", per * ours["wall"], dt and per * dt["check_wall"]),
    ]
    memory = {  # MiB, from /proc/self/status of each check process
        "check process peak RSS, MiB": "peak_rss_kib",
        "  resident after the check: anonymous, MiB": "anon_after_check_kib",
        "  resident after the check: mapped files, MiB": "file_after_check_kib",
        "  peak before the check": "rss_before_check_kib",
    }
    rows += [(name, mib * ours[key], dt and mib * dt[key]) for name, key in memory.items()]
    for name, a, b in rows:
        print(f"| {name} | {a:,.3f} | {'-' if b is None else f'{b:,.3f}'} |")
    exact = {k for k, (kind, _) in truth.items() if kind == "exact"}
    near = {k for k, (kind, _) in truth.items() if kind == "near"}
    right = sum(1 for k, (_, ref) in ours_found.items() if k in truth and truth[k][1] == ref)
    mine = set(ours_found)
    print(
        f"\nours: {len(mine)} found; exact copies {len(exact & mine)}/{len(exact)}, "
        f"near copies {len(near & mine)}/{len(near)}, new documents found "
        f"{len(mine - exact - near)}; matched document right for {right}"
    )
    if dt:
        got = set(dt["found_rows"])
        print(
            f"datatrove: {len(got)} found; exact copies {len(exact & got)}/{len(exact)}, near "
            f"copies {len(near & got)}/{len(near)}, new documents found {len(got - exact - near)} "
            f"(it names no matched document); both found {len(got & mine)}"
        )


if __name__ == "__main__":
    main()
