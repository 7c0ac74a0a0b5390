"""Dedup benchmark: throughput per core and quality against baselines, in one run.

    nice -n 10 .venv/bin/python benchmarks/bench_dedup.py [--docs 20000] [--skip-datatrove]

Corpus: built here from prose on this machine (Debian packages python3-doc,
manpages, fortunes; fortunes-zh and the zh_CN/zh_TW man pages for Chinese):
paragraphs are cleaned, made unique and packed into ~800-word documents (no
paragraph used twice, so originals do not overlap), then near-duplicates (5% of
words edited, half in 1-4 clustered spans, half scattered) and exact copies
(half byte-identical, half differing only in case, punctuation and spacing) are
injected. Every injected pair's exact 5-gram Jaccard is computed.

Measured on the same corpus, single process each, CPU seconds (per core):
- ours: signatures + bands + clusters (corpusforge.dedup, numpy + datasketch's
  affine32 permutations, 21 bands x 6 rows, verified candidates);
- datasketch naive: MinHash() + update() per shingle + MinHashLSH insert/query (16 x 8);
- datasketch fastest: MinHash.bulk + LeanMinHash + MinHashLSH (16 x 8);
- datatrove 0.10.1 minhash, 4 stages (14 x 8, its defaults but 1 task), run in a
  separate venv (see benchmarks/requirements-datatrove.txt):

    python3.11 -m venv ~/.cache/corpusforge/bench-venv
    ~/.cache/corpusforge/bench-venv/bin/pip install -r benchmarks/requirements-datatrove.txt

Quality of ours (whole stage: exact + near) in English and Chinese: recall on
injected pairs with Jaccard >= 0.8, precision = removed documents whose kept twin
is from the same injected family.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from corpusforge import dedup as dd  # noqa: E402
from corpusforge.records import stable_id  # noqa: E402
from corpusforge.schema import with_defaults  # noqa: E402

CACHE = Path(os.environ.get("CORPUSFORGE_CACHE", Path.home() / ".cache" / "corpusforge"))
BENCH_VENV = Path(os.environ.get("CORPUSFORGE_BENCH_VENV", CACHE / "bench-venv"))

# ---------------------------------------------------------------- prose from this machine

PY_SOURCES = Path("/usr/share/doc/python3-doc/html/_sources")
MAN_ROOT = Path("/usr/share/man")
FORTUNES = Path("/usr/share/games/fortunes")
ZH_FORTUNES = ("chinese", "tang300", "song100")
ANSI = re.compile(r"\x1b\[[0-9;]*m|\[[0-9;]*m")
ROFF_ESC = re.compile(r"\\f[BIRP1-4]|\\f\(..|\\[&|^~%]|\\\(..|\\\*.|\\[-e]|\\s[+-]?\d")


def _clean_lines(lines: list[str]) -> list[str]:
    return [re.sub(r"\s+", " ", x).strip() for x in lines if x.strip()]


def _paragraphs_rst(text: str) -> list[str]:
    out = []
    for block in re.split(r"\n\s*\n", text):
        lines = block.splitlines()
        if not lines or lines[0].startswith((" ", "\t", "..", ">>>", "=", "-", "*", "+")):
            continue
        out.append(" ".join(_clean_lines(lines)))
    return out


def _paragraphs_man(text: str) -> list[str]:
    out, cur = [], []
    for line in text.splitlines():
        if line.startswith((".", "'")):
            if line[:3] in (".PP", ".P", ".LP", ".SH", ".SS", ".TP", ".IP") and cur:
                out.append(" ".join(cur))
                cur = []
            continue
        line = ROFF_ESC.sub("", line).strip()
        if line:
            cur.append(line)
    if cur:
        out.append(" ".join(cur))
    return out


def _paragraphs_fortune(text: str) -> list[str]:
    return [" ".join(_clean_lines(ANSI.sub("", c).splitlines())) for c in text.split("\n%\n")]


def paragraph_pool(lang: str) -> list[str]:
    """Unique prose paragraphs, English (>= 12 words) or Chinese (>= 16 characters).

    Long paragraphs are cut into pieces (<= 120 words, <= 240 characters), so that a
    document is made of several pieces even when the pool has to be reused.
    """
    out = []
    for p in _paragraphs(lang):
        if lang == "zh":
            out += [p[i : i + 160] for i in range(0, len(p), 160)] if len(p) > 240 else [p]
        else:
            words = p.split()
            if len(words) > 120:
                out += [" ".join(words[i : i + 80]) for i in range(0, len(words), 80)]
            else:
                out.append(p)
    return out


def _paragraphs(lang: str) -> list[str]:
    """Unique prose paragraphs from this machine's packages (cached)."""
    path = CACHE / "dedup-bench" / f"paragraphs-{lang}.json"
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    paras: list[str] = []
    if lang == "en":
        for f in sorted(PY_SOURCES.rglob("*.txt")):
            paras += _paragraphs_rst(f.read_text(encoding="utf-8", errors="replace"))
        for f in sorted(MAN_ROOT.glob("man[1-8]/*.gz")):
            with gzip.open(f, "rt", encoding="utf-8", errors="replace") as handle:
                paras += _paragraphs_man(handle.read())
        for f in sorted(FORTUNES.iterdir()):
            if f.is_file() and "." not in f.name and f.name not in ZH_FORTUNES:
                paras += _paragraphs_fortune(f.read_text(encoding="utf-8", errors="replace"))
        keep = [p for p in paras if len(p.split()) >= 12 and p.isascii()]
    else:
        for name in ZH_FORTUNES:
            paras += _paragraphs_fortune((FORTUNES / name).read_text(encoding="utf-8"))
        for f in sorted(MAN_ROOT.glob("zh_*/man*/*.gz")):
            with gzip.open(f, "rt", encoding="utf-8", errors="replace") as handle:
                paras += _paragraphs_man(handle.read())

        def han(p):
            return sum(1 for c in p if "\u4e00" <= c <= "\u9fff")

        keep = [p for p in paras if han(p) >= 16]
    seen, unique = set(), []
    for p in keep:
        key = " ".join(dd.reference_tokens(p, lang == "zh"))
        if key and key not in seen:
            seen.add(key)
            unique.append(p)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(unique, ensure_ascii=False), encoding="utf-8")
    return unique


# ---------------------------------------------------------------- corpus with injected duplicates


def _edit_tokens(tokens: list[str], rate: float, clustered: bool, vocab, rng) -> list[str]:
    toks = list(tokens)
    n_edit = max(1, round(rate * len(toks)))
    if clustered:
        spans = rng.randint(1, 4)
        sizes = np.random.RandomState(rng.randint(0, 1 << 30)).multinomial(
            n_edit, [1 / spans] * spans
        )
        positions = []
        for size in sizes:
            if size == 0:
                continue
            start = rng.randint(0, max(0, len(toks) - size))
            positions += range(start, min(len(toks), start + size))
    else:
        positions = rng.sample(range(len(toks)), min(n_edit, len(toks)))
    for pos in positions:
        toks[pos] = rng.choice(vocab)
    return toks


def _variant(text: str, rng) -> str:
    """Same normalized text: other case, punctuation and spacing."""
    words = text.split(" ")
    words = [w.upper() if rng.random() < 0.1 else w for w in words]
    return "  ".join(words).replace(".", " . ").replace(",", " ;") + " !"


def make_corpus(
    lang: str,
    n_orig: int,
    doc_tokens: int,
    near_frac: float = 0.1,
    exact_frac: float = 0.05,
    seed: int = 0,
    pool: list[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Originals from disjoint paragraphs, plus injected near and exact duplicates.

    Returns the documents (``id``, ``text``, ``lang``, ``seed_id``, ``source``) and
    the injected pairs (``orig``, ``copy``, ``kind``). ``doc_tokens`` counts words
    (en) or characters (zh).
    """
    rng = random.Random(seed)
    pool = list(pool if pool is not None else paragraph_pool(lang))
    rng.shuffle(pool)
    is_zh = lang == "zh"
    sep = "\n" if is_zh else "\n\n"

    def size(p):
        return len(p) if is_zh else len(p.split())

    docs, cur, cur_len = [], [], 0
    i = 0
    while len(docs) < n_orig:
        if i >= len(pool):
            i = 0
            rng.shuffle(pool)  # pool exhausted: reuse (originals may then overlap)
        cur.append(pool[i])
        cur_len += size(pool[i])
        i += 1
        if cur_len >= doc_tokens:
            docs.append(sep.join(cur))
            cur, cur_len = [], 0
    texts = list(docs)
    vocab_src = texts[: min(200, len(texts))]
    vocab = sorted({t for x in vocab_src for t in (list(x) if is_zh else x.split())} - {""})
    pairs = []
    n_near = round(near_frac * n_orig)
    n_exact = round(exact_frac * n_orig)
    for k in range(n_near):
        src = rng.randrange(n_orig)
        clustered = k % 2 == 0
        if is_zh:
            chars = _edit_tokens(list(docs[src]), 0.05, clustered, vocab, rng)
            text = "".join(chars)
        else:
            parts = docs[src].split(" ")
            text = " ".join(_edit_tokens(parts, 0.05, clustered, vocab, rng))
        texts.append(text)
        pairs.append((src, len(texts) - 1, "near_clustered" if clustered else "near_scattered"))
    for k in range(n_exact):
        src = rng.randrange(n_orig)
        texts.append(docs[src] if k % 2 == 0 else _variant(docs[src], rng))
        pairs.append((src, len(texts) - 1, "exact"))
    ids = [stable_id("bench", lang, seed, j) for j in range(len(texts))]
    frame = pd.DataFrame(
        {
            "id": ids,
            "seed_id": ids,
            "source": f"bench-{lang}",
            "text": texts,
            "lang": lang,
        }
    )
    truth = pd.DataFrame(
        {
            "orig": [ids[a] for a, _, _ in pairs],
            "copy": [ids[b] for _, b, _ in pairs],
            "kind": [k for _, _, k in pairs],
        }
    )
    return frame, truth


def true_jaccards(docs: pd.DataFrame, truth: pd.DataFrame, n: int = 5) -> np.ndarray:
    """Exact n-gram Jaccard of every injected pair (normalized tokens)."""
    text = dict(zip(docs["id"], docs["text"], strict=True))
    lang = dict(zip(docs["id"], docs["lang"], strict=True))
    out = []
    for a, b in zip(truth["orig"], truth["copy"], strict=True):
        cm = lang[a] in ("zh", "ja")
        out.append(
            dd.jaccard(dd.reference_shingles(text[a], cm, n), dd.reference_shingles(text[b], cm, n))
        )
    return np.array(out)


def quality(
    docs: pd.DataFrame, truth: pd.DataFrame, removed: pd.DataFrame, jac: np.ndarray, t: float
) -> dict:
    """Recall on injected pairs (by Jaccard) and precision of the removals."""
    kept_of = dict(zip(removed["id"], removed["kept_id"], strict=True))

    def rep(x):
        return kept_of.get(x, x)

    same = np.array([rep(a) == rep(b) for a, b in zip(truth["orig"], truth["copy"], strict=True)])
    family = {}
    for a, b in zip(truth["orig"], truth["copy"], strict=True):
        family.setdefault(a, a)
        family[b] = family[a]
    text = dict(zip(docs["id"], docs["text"], strict=True))
    cm = dict(zip(docs["id"], docs["lang"].isin(["zh", "ja"]), strict=True))
    same_family = [family.get(x, x) == family.get(k, k) for x, k in kept_of.items()]
    # a removal across families is still right when the two texts are near-duplicates
    # in the source itself (true Jaccard >= t)
    correct = [
        ok
        or dd.jaccard(
            dd.reference_shingles(text[x], cm[x], 5), dd.reference_shingles(text[k], cm[x], 5)
        )
        >= t
        for ok, (x, k) in zip(same_family, kept_of.items(), strict=True)
    ]
    hi = jac >= t
    return {
        "pairs": len(truth),
        "pairs_j_ge_t": int(hi.sum()),
        "recall_j_ge_t": round(float(same[hi].mean()), 4) if hi.any() else None,
        "recall_j_lt_t": round(float(same[~hi].mean()), 4) if (~hi).any() else None,
        "recall_exact": round(float(same[(truth["kind"] == "exact").to_numpy()].mean()), 4),
        "removed": len(kept_of),
        "precision": round(float(np.mean(correct)), 4) if correct else 1.0,
        "removed_across_families": int(len(same_family) - sum(same_family)),
        "jaccard_median_near": round(float(np.median(jac[truth["kind"] != "exact"])), 3),
        "missed_j_ge_t": sorted(round(float(x), 3) for x in jac[hi & ~same]),
    }


# ---------------------------------------------------------------- ours, in process


def run_ours(
    docs: pd.DataFrame, cfg: dict, shards: int = 4, timer: dict | None = None
) -> pd.DataFrame:
    """All dedup steps in one process, shard by shard, like the rules do.

    ``timer`` gets CPU and wall seconds of signatures + bands + clusters.
    """
    parts = [docs.iloc[i::shards].reset_index(drop=True) for i in range(shards)]
    all0 = time.process_time()
    fp, para = dd.concat_fingerprints(dd.fingerprint(part, cfg) for part in parts)
    exact, boiler, _ = dd.exact_duplicates(fp, para, cfg)
    c0, w0 = time.process_time(), time.perf_counter()
    perms = dd.Permutations(cfg["num_perm"], cfg["seed"], cfg["scheme"])
    metas, sigs = [], []
    for part in parts:
        meta, sig, _ = dd.signatures(part, exact["id"], boiler, cfg, perms)
        metas.append(meta)
        sigs.append(sig)
    pairs = []
    for g in dd.band_group_names(cfg):
        p, _ = dd.band_candidates(sigs, dd.bands_of_group(cfg, g), cfg)
        pairs.append(p)
    near, stats = dd.near_clusters(np.concatenate(pairs), metas, lambda s: sigs[s], cfg)
    if timer is not None:
        timer["cpu"] = time.process_time() - c0
        timer["wall"] = time.perf_counter() - w0
        timer["stats"] = stats
    removed = dd.decisions(exact, near)
    for part in parts:
        dd.filter_shard(part, removed, boiler, cfg)
    if timer is not None:
        timer["all_cpu"] = time.process_time() - all0
    return removed


# ---------------------------------------------------------------- baselines (datasketch)

_SPLIT = re.compile(r"[\W_]+", re.UNICODE)


def py_shingles(text: str, n: int = 5) -> list[bytes]:
    """The shingles a plain Python loop builds: normalized words, joined n-grams."""
    words = _SPLIT.split(unicodedata.normalize("NFKC", text).lower())
    words = [w for w in words if w]
    return list({" ".join(words[i : i + n]).encode() for i in range(len(words) - n + 1)})


def run_datasketch_naive(texts: list[str], ids: list[str]) -> float:
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=0.8, num_perm=128, params=(16, 8))
    dups = 0
    for key, text in zip(ids, texts, strict=True):
        m = MinHash(num_perm=128)
        for sh in py_shingles(text):
            m.update(sh)
        if lsh.query(m):
            dups += 1
        lsh.insert(key, m)
    return dups


def run_datasketch_bulk(texts: list[str], ids: list[str]) -> float:
    from datasketch import LeanMinHash, MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=0.8, num_perm=128, params=(16, 8))
    dups = 0
    mhs = MinHash.bulk([py_shingles(t) for t in texts], num_perm=128)
    for key, m in zip(ids, mhs, strict=True):
        lean = LeanMinHash(m)
        if lsh.query(lean):
            dups += 1
        lsh.insert(key, lean)
    return dups


def timed(fn: Callable, *args) -> tuple[float, float, object]:
    c0, w0 = time.process_time(), time.perf_counter()
    result = fn(*args)
    return time.process_time() - c0, time.perf_counter() - w0, result


# ---------------------------------------------------------------- datatrove (separate venv)

DATATROVE_SCRIPT = r"""
import sys, time, resource
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup import (MinhashDedupSignature, MinhashDedupBuckets,
    MinhashDedupCluster, MinhashDedupFilter)
from datatrove.pipeline.dedup.minhash import MinhashConfig
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
src, work = sys.argv[1], sys.argv[2]
cfg = MinhashConfig()
def cpu():
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime
c0 = cpu()
def run(pipeline, tasks=1):
    LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=1,
                          logging_dir=f"{work}/logs/{len(times)}").run()
times = []
t0 = time.perf_counter()
run([JsonlReader(src), MinhashDedupSignature(output_folder=f"{work}/sigs", config=cfg)])
run([MinhashDedupBuckets(input_folder=f"{work}/sigs", output_folder=f"{work}/buckets",
                         config=cfg)], tasks=cfg.num_buckets)
run([MinhashDedupCluster(input_folder=f"{work}/buckets", output_folder=f"{work}/remove",
                         config=cfg)])
run([JsonlReader(src), MinhashDedupFilter(input_folder=f"{work}/remove"),
     JsonlWriter(f"{work}/out")])
print("DATATROVE", time.perf_counter() - t0, cpu() - c0)
"""


def write_docs(path: Path, ids: Iterable[str], texts: Iterable[str]) -> None:
    """Documents as jsonl {id, text}, the input of the datatrove scripts."""
    with open(path, "w", encoding="utf-8") as handle:
        for key, text in zip(ids, texts, strict=True):
            handle.write(json.dumps({"id": key, "text": text}, ensure_ascii=False) + "\n")


def in_bench_venv(script: str, *args: str) -> tuple[str | None, str]:
    """Run ``python -c script args`` in the datatrove venv: (the text after the
    script's ``DATATROVE`` line tag, or None; an error message, or "")."""
    python = BENCH_VENV / "bin" / "python"
    if not python.exists():
        return None, f"no datatrove venv at {BENCH_VENV} (see benchmarks/bench_dedup.py)"
    proc = subprocess.run(
        [str(python), "-c", script, *args], capture_output=True, text=True, check=False
    )
    line = [x for x in proc.stdout.splitlines() if x.startswith("DATATROVE")]
    if proc.returncode or not line:
        return None, "datatrove failed: " + proc.stderr[-1200:]
    return line[0].removeprefix("DATATROVE").strip(), ""


def run_datatrove(texts: list[str], ids: list[str]) -> tuple[float, float] | str:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in"
        src.mkdir()
        write_docs(src / "docs.jsonl", ids, texts)
        out, error = in_bench_venv(DATATROVE_SCRIPT, str(src), str(Path(tmp) / "work"))
        if out is None:
            return error
        wall, cpu = out.split()
        return float(cpu), float(wall)


# ---------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=20000, help="English originals (throughput)")
    ap.add_argument("--words", type=int, default=800)
    ap.add_argument("--naive-docs", type=int, default=1500)
    ap.add_argument("--bulk-docs", type=int, default=4000)
    ap.add_argument("--datatrove-docs", type=int, default=1500)
    ap.add_argument("--zh-docs", type=int, default=2000, help="Chinese originals (quality)")
    ap.add_argument("--skip-datatrove", action="store_true")
    args = ap.parse_args()
    cfg = dd.settings(with_defaults("dedup"))
    print(
        f"config: num_perm {cfg['num_perm']} bands {cfg['bands']} x rows {cfg['rows']} "
        f"threshold {cfg['threshold']} verify >= {cfg['verify_threshold']} scheme {cfg['scheme']}"
    )
    t0 = time.perf_counter()
    en, en_truth = make_corpus("en", args.docs, args.words, seed=1)
    print(
        f"en corpus: {len(en)} docs ({args.docs} originals + {len(en_truth)} injected), "
        f"{en['text'].str.split().str.len().mean():.0f} words/doc, "
        f"built in {time.perf_counter() - t0:.1f}s"
    )
    texts, ids = en["text"].tolist(), en["id"].tolist()

    timer: dict = {}
    removed = run_ours(en, cfg, timer=timer)
    ours = len(en) / timer["cpu"]
    print(
        f"ours (signatures+bands+clusters): {len(en)} docs, {timer['cpu']:.2f} CPU-s, "
        f"{timer['wall']:.2f} s wall -> {ours:,.0f} docs/s per core "
        f"({len(en) / timer['wall']:,.0f} docs/s wall)"
    )
    print(
        f"ours, all six steps (fingerprint, exact, signatures, bands, clusters, filter): "
        f"{timer['all_cpu']:.2f} CPU-s -> {len(en) / timer['all_cpu']:,.0f} docs/s per core"
    )
    jac = true_jaccards(en, en_truth)
    print("quality en:", json.dumps(quality(en, en_truth, removed, jac, cfg["threshold"])))

    n = min(args.naive_docs, len(en))
    cpu, _, _ = timed(run_datasketch_naive, texts[:n], ids[:n])
    naive = n / cpu
    print(f"datasketch naive: {n} docs, {cpu:.2f} CPU-s -> {naive:,.0f} docs/s per core")
    n = min(args.bulk_docs, len(en))
    cpu, _, _ = timed(run_datasketch_bulk, texts[:n], ids[:n])
    bulk = n / cpu
    print(f"datasketch bulk+LeanMinHash: {n} docs, {cpu:.2f} CPU-s -> {bulk:,.0f} docs/s per core")
    trove = None
    if not args.skip_datatrove:
        n = min(args.datatrove_docs, len(en))
        res = run_datatrove(texts[:n], ids[:n])
        if isinstance(res, str):
            print(res)
        else:
            trove = n / res[0]
            print(
                f"datatrove 4 stages: {n} docs, {res[0]:.2f} CPU-s, {res[1]:.2f} s wall -> "
                f"{trove:,.0f} docs/s per core"
            )
    print(f"RATIO ours / datasketch naive: {ours / naive:.1f}x (target >= 10x)")
    print(f"RATIO ours / datasketch bulk: {ours / bulk:.1f}x (target >= 2x)")
    if trove:
        print(f"RATIO ours / datatrove: {ours / trove:.1f}x (target >= 10x)")

    zh, zh_truth = make_corpus("zh", args.zh_docs, 800, seed=2)
    removed = run_ours(zh, cfg)
    jac = true_jaccards(zh, zh_truth)
    print(f"zh corpus: {len(zh)} docs, {zh['text'].str.len().mean():.0f} chars/doc")
    print("quality zh:", json.dumps(quality(zh, zh_truth, removed, jac, cfg["threshold"])))
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(f"peak RSS of this process: {ru.ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
