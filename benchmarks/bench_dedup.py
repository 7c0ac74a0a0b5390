"""Dedup benchmark: throughput per core and quality against baselines, in one run.

    nice -n 10 .venv/bin/python benchmarks/bench_dedup.py [--docs 4000] [--skip-baseline-venv]

Corpus: built here from prose on this machine (Debian packages python3-doc,
manpages, fortunes; fortunes-zh and the zh_CN/zh_TW man pages for Chinese):
paragraphs are cleaned, made unique and packed into ~800-word documents (no
paragraph used twice, so originals do not overlap), then near-duplicates (5% of
words edited, half in 1-4 clustered spans, half scattered) and exact copies
(half byte-identical, half differing only in case, punctuation and spacing) are
injected. Every injected pair's exact 5-gram Jaccard is computed.

Every side gets the same documents (all of them, injected duplicates included),
in memory, and does the same work: signatures + LSH bands + clusters (or LSH
queries), from texts to a decision per document; no side reads or writes the
corpus. One process each, CPU seconds:
- ours (``corpusforge.dedup``, numpy + datasketch's affine32 permutations): the
  stage's steps fingerprint + exact + signatures + bands + clusters (exact dedup
  is extra work the others do not do), with its default 21 bands x 6 rows and
  estimated-Jaccard verification, and again with 16 x 8 like the others;
- datasketch 2.0 naive: MinHash() + update() per shingle, MinHashLSH (16 x 8),
  query-then-insert;
- datasketch 2.0 fastest: MinHash.bulk + LeanMinHash, the same LSH;
- rensa 0.5.0 (Rust): RMinHash.from_token_sets over the same Python shingle sets,
  RMinHashLSH (16 x 8), query-then-insert;
- datatrove 0.10.1 minhash, 16 x 8: its signature, bucket and cluster stages
  called in one process on Documents in memory (no executor launches, no reader,
  no writer, no filter stage; the signature and bucket files it writes between
  its stages are part of its method).
rensa and datatrove run in the baseline venv (benchmarks/requirements-datatrove.txt),
which ``tools/install_bench.sh`` makes with the Debian text packages.

Agreement: per injected pair, whether the two documents end in one cluster;
the sides keep different members (ours by its keep rule, the others the first
seen), so pair verdicts are compared, not removed ids.

One run (2026-12-01, --docs 4000 --zh-docs 1000, Intel(R) Xeon(R) Processor, 2
cores shared with other jobs): 4,600 English documents of ~830 words (4,000
originals, 400 near-duplicates, 200 exact copies). Documents per CPU-second:
ours 2,485 (16 x 8: 2,658), datasketch naive 182 (ours 13.7x), datasketch bulk
988 (2.5x), rensa 2,266 (1.10x), datatrove 106 (23.4x; 99.7% of its time in the
signature stage: spaCy words). Recall of pairs with 5-gram Jaccard >= 0.8: 1.0
for ours, datasketch and datatrove, 0.9975 for rensa and ours at 16 x 8 (one
pair). Same pair verdicts as ours: 88-89% for the others, all differences on
pairs with Jaccard < 0.8: they take any band collision as a duplicate (34-41% of
those pairs), ours verifies the estimated Jaccard (4%). No side removed a
document outside the injected families.

Quality of ours (whole stage: exact + near) in English and Chinese: recall on
injected pairs with Jaccard >= 0.8, precision = removed documents whose kept twin
is from the same injected family.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

# datasketch, rensa, datatrove; in_bench_venv and write_docs serve the other benchmarks too
from dedup_baselines import (  # noqa: E402, F401
    BENCH_VENV,
    CACHE,
    DATATROVE_SCRIPT,
    RENSA_SCRIPT,
    in_bench_venv,
    run_datasketch_bulk,
    run_datasketch_naive,
    run_in_venv,
    timed,
    write_docs,
)

from corpusforge import dedup as dd  # noqa: E402
from corpusforge.records import stable_id  # noqa: E402
from corpusforge.schema import with_defaults  # noqa: E402

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


def _sentences(pool: list[str]) -> list[str]:
    """The sentences of English paragraphs (split after . ! or ? and a space)."""
    return [x for p in pool for x in re.split(r"(?<=[.!?])\s+", p) if len(x.split()) >= 3]


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
    recombine: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Originals from disjoint paragraphs, plus injected near and exact duplicates.

    Returns the documents (``id``, ``text``, ``lang``, ``seed_id``, ``source``) and
    the injected pairs (``orig``, ``copy``, ``kind``). ``doc_tokens`` counts words
    (en) or characters (zh). When the pool is used up, its paragraphs are used again
    (originals then share paragraphs), or with ``recombine`` new paragraphs are made
    of 2 to 6 sentences drawn from the whole pool (English), so that a large corpus
    does not repeat paragraphs or whole documents beyond its injected copies.
    """
    rng = random.Random(seed)
    pool = list(pool if pool is not None else paragraph_pool(lang))
    rng.shuffle(pool)
    sentences = _sentences(pool) if recombine else []
    is_zh = lang == "zh"
    sep = "\n" if is_zh else "\n\n"

    def size(p):
        return len(p) if is_zh else len(p.split())

    docs, cur, cur_len = [], [], 0
    i = 0
    while len(docs) < n_orig:
        if i >= len(pool) and sentences:
            pool = [" ".join(rng.choices(sentences, k=rng.randint(2, 6))) for _ in range(100_000)]
            i = 0
        elif i >= len(pool):
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

    ``timer`` gets CPU and wall seconds of fingerprint + exact + signatures + bands +
    clusters (the documents in memory, no file written), and of all six steps.
    """
    parts = [docs.iloc[i::shards].reset_index(drop=True) for i in range(shards)]
    c0, w0 = time.process_time(), time.perf_counter()
    fp, para = dd.concat_fingerprints(dd.fingerprint(part, cfg) for part in parts)
    exact, boiler, _ = dd.exact_duplicates(fp, para, cfg)
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
    near, stats = dd.near_clusters(
        np.concatenate(pairs),
        [len(m) for m in metas],
        lambda s, rows: (metas[s].iloc[rows], sigs[s][rows]),
        cfg,
    )
    removed = dd.decisions(exact, near)
    if timer is not None:
        timer["cpu"] = time.process_time() - c0
        timer["wall"] = time.perf_counter() - w0
        timer["stats"] = stats
    stage = dd.DedupStage(cfg, {"removed": removed, "boilerplate": boiler})
    for part in parts:
        stage(part)
    if timer is not None:
        timer["all_cpu"] = time.process_time() - c0
    return removed


# ---------------------------------------------------------------- agreement


def removal_quality(truth: pd.DataFrame, jac: np.ndarray, side: dict, t: float) -> dict:
    """Any side's decisions against the injected pairs: recall (the two found in one
    cluster), removals outside every injected pair (false positives unless the
    source texts overlap)."""
    hit = pair_verdicts(truth, side["kept_of"])
    removed = side["removed"]
    members = set(truth["orig"]) | set(truth["copy"])
    hi = jac >= t
    return {
        "removed": len(removed),
        "recall_j_ge_t": round(float(hit[hi].mean()), 4) if hi.any() else None,
        "recall_j_lt_t": round(float(hit[~hi].mean()), 4) if (~hi).any() else None,
        "removed_outside_pairs": len(removed - members),
    }


def pair_verdicts(truth: pd.DataFrame, kept_of: dict[str, str]) -> np.ndarray:
    """Per injected pair: are the two in one cluster (the same document kept)? The
    sides keep different members (ours by its keep rule, the others the first
    seen), so verdicts per pair are compared, not removed ids."""

    def rep(x):
        seen = 0
        while x in kept_of and kept_of[x] != x and seen < 1000:
            x, seen = kept_of[x], seen + 1
        return x

    return np.array([rep(a) == rep(b) for a, b in zip(truth["orig"], truth["copy"], strict=True)])


# ---------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=4000, help="English originals (throughput)")
    ap.add_argument("--words", type=int, default=800)
    ap.add_argument("--zh-docs", type=int, default=2000, help="Chinese originals (quality)")
    ap.add_argument("--skip-baseline-venv", action="store_true", help="no datatrove, no rensa")
    args = ap.parse_args()
    cfg = dd.settings(with_defaults("dedup"))
    cfg16 = dd.settings(with_defaults("dedup") | {"bands": 16, "rows": 8})
    print(
        f"config: num_perm {cfg['num_perm']} bands {cfg['bands']} x rows {cfg['rows']} "
        f"threshold {cfg['threshold']} verify >= {cfg['verify_threshold']} scheme {cfg['scheme']}"
    )
    t0 = time.perf_counter()
    en, en_truth = make_corpus("en", args.docs, args.words, seed=1)
    n = len(en)
    print(
        f"en corpus: {n} docs ({args.docs} originals + {len(en_truth)} injected), "
        f"{en['text'].str.split().str.len().mean():.0f} words/doc, "
        f"built in {time.perf_counter() - t0:.1f}s; every side below gets all {n}"
    )
    texts, ids = en["text"].tolist(), en["id"].tolist()
    jac = true_jaccards(en, en_truth)
    t = cfg["threshold"]

    sides: dict[str, dict] = {}
    run_ours(en.iloc[:200], cfg)  # warm-up: imports, permutations, token cache
    run_datasketch_bulk(texts[:50], ids[:50])
    for label, c in (
        (f"ours ({cfg['bands']}x{cfg['rows']})", cfg),
        ("ours (16x8)", cfg16),
    ):
        timer: dict = {}
        removed = run_ours(en, c, timer=timer)
        sides[label] = {
            "cpu": timer["cpu"],
            "wall": timer["wall"],
            "removed": set(removed["id"]),
            "kept_of": dict(zip(removed["id"], removed["kept_id"], strict=True)),
        }
        if c is cfg:
            print("quality en (ours):", json.dumps(quality(en, en_truth, removed, jac, t)))
            print(f"ours, all six steps (with filter): {n / timer['all_cpu']:,.0f} docs per CPU-s")
    for label, fn in (
        ("datasketch naive", run_datasketch_naive),
        ("datasketch bulk", run_datasketch_bulk),
    ):
        cpu, wall, kept_of = timed(fn, texts, ids)
        sides[label] = {"cpu": cpu, "wall": wall, "removed": set(kept_of), "kept_of": kept_of}
    if not args.skip_baseline_venv:
        for label, script in (("rensa", RENSA_SCRIPT), ("datatrove", DATATROVE_SCRIPT)):
            res = run_in_venv(script, texts, ids)
            if isinstance(res, str):
                print(f"{label}: {res}")
                continue
            sides[label] = {
                "cpu": res["cpu"],
                "wall": res["wall"],
                "removed": set(res.get("removed", res["kept_of"])),
                "kept_of": res["kept_of"],
            }
            if "stages" in res:
                print(
                    f"{label} stages (CPU-s, wall-s): "
                    + ", ".join(f"{k} {c:.2f}/{w:.2f}" for k, (c, w) in res["stages"].items())
                )
    ours_label = next(iter(sides))
    ours = sides[ours_label]
    base = pair_verdicts(en_truth, ours["kept_of"])
    print(
        f"\nsame {n} documents in memory, near-duplicate detection (signatures + bands + "
        "clusters/LSH queries), removed ids out; one process each"
    )
    for label, s in sides.items():
        q = removal_quality(en_truth, jac, s, t)
        print(
            f"{label:18s} {n / s['cpu']:8,.0f} docs per CPU-s {n / s['wall']:8,.0f} wall  "
            f"ratio ours/it {s['cpu'] / ours['cpu']:5.2f}x  recall J>={t} "
            f"{q['recall_j_ge_t']} (J<{t}: {q['recall_j_lt_t']}) removed {q['removed']} "
            f"outside pairs {q['removed_outside_pairs']}  same pair verdicts as ours "
            f"{np.mean(pair_verdicts(en_truth, s['kept_of']) == base):.3f} (differ on "
            f"{np.sum((pair_verdicts(en_truth, s['kept_of']) != base) & (jac >= t))} pairs "
            f"with J>={t})"
        )

    zh, zh_truth = make_corpus("zh", args.zh_docs, 800, seed=2)
    removed = run_ours(zh, cfg)
    jac = true_jaccards(zh, zh_truth)
    print(f"zh corpus: {len(zh)} docs, {zh['text'].str.len().mean():.0f} chars/doc")
    print("quality zh (ours):", json.dumps(quality(zh, zh_truth, removed, jac, t)))
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(f"peak RSS of this process: {ru.ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
