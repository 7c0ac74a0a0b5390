"""Decontamination benchmark: ours against a plain n-gram set and datatrove, one run.

    nice -n 10 .venv/bin/python benchmarks/bench_decontam.py [--docs 5000] [--questions 5000]
        [--skip-datatrove]

One run (2026-12-01, --docs 5000, Intel(R) Xeon(R) Processor, 2 cores shared with
other jobs), all sides on the same 5,000 documents (1,005 Chinese), documents per
CPU-second of the check: ours 4,076, a plain Python set of 13-gram strings 5,620
(ours 0.73x), datatrove 247 (ours 16.5x); ours' index 2.3 MB of arrays against
22.2 MB for the set; ours and the plain set flag the same 204 documents (all 200
planted spans); datatrove flags 230: 167 in common, 37 Chinese ones only ours
finds, 63 only datatrove finds (numbers mapped to 0, other tokens; see "why").

Corpus: built here from prose on this machine (Debian packages python3-doc,
manpages, fortunes; fortunes-zh and the zh_CN/zh_TW man pages for Chinese; the
paragraph pool of benchmarks/bench_dedup.py). The paragraphs are shuffled; the
first ones become the benchmark "questions" (80% English, 20% Chinese), the
others are packed into documents (~400 words or ~600 Chinese characters; 20%
Chinese). Paragraphs with box-drawing characters (tables in fortunes-zh) are left
out, and pool paragraphs that already share a 13-gram with a question (man-page
boilerplate) are set aside, so questions and documents start disjoint. Then planted:
- ``--planted`` documents get a span of >= 13 tokens of a question (13-40 tokens,
  sometimes upper-cased or in quotes with other punctuation), at a paragraph
  break or inside a sentence: each must be found;
- ``--near-misses`` other documents get a span of exactly 12 tokens: too short to
  count, they must not be found (unless the document overlaps a question anyway).

Measured, single process each:
- ours: ``corpusforge.decontam.build_index`` (reads the benchmark jsonl, 64-bit
  64-bit hashes of the 13-grams from per-token BLAKE2b hashes, sorted unique
  uint64 array) then
  the stage (``DecontamStage``, its index read back from Parquet) on a DataFrame;
- plain (written here, no project's code): a Python set of the benchmark's
  13-gram strings and a scan of every document's 13-grams against it,
  with the same normalisation as ours (NFKC, case-folded, punctuation and symbols
  as spaces, one token per Han/kana/hangul character) implemented separately;
  both MUST flag exactly the same documents (the script fails otherwise).
  (Cosmopedia's decontamination script is another design: a dict of 10-gram word
  tuples, then a difflib ratio to confirm each hit; it is not what is timed here.)
- datatrove 0.10.1 ``NGramsDecontFilter`` (n_grams=13) in its separate venv
  (see benchmarks/requirements-datatrove.txt) on the same documents. Its index
  is built by calling ``NGramsDecontIndexer.compute_hashes`` on the
  questions (the indexer class itself refuses to be built without lighteval,
  which it only uses to download lighteval tasks). datatrove
  normalises differently (digits to 0, diacritics stripped, spaCy word tokens, no
  per-character split of Chinese), so its findings are compared, not required
  to be equal.

Printed: index build time and size (tracemalloc of the build, retained and peak),
docs/s per CPU-second and wall, RATIO ours/peer, and the contaminated counts.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import sys
import tempfile
import time
import tracemalloc
import unicodedata
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_dedup import in_bench_venv, paragraph_pool, write_docs  # noqa: E402

from corpusforge import decontam as dc  # noqa: E402
from corpusforge.io import write_parquet  # noqa: E402
from corpusforge.records import stable_id  # noqa: E402

N = 13
BENCH_NAME = "bench_questions"
# fortunes-zh holds many tables drawn with box characters: not prose, left out
BOX_DRAWING = re.compile("[\u2500-\u257f]")

# ---------------------------------------------------------------- plain path (a Python set)

# Hangul jamo, kana, hangul compatibility jamo, CJK ext. A, CJK unified, hangul
# syllables, CJK compatibility ideographs: one token per character.
CJK_BLOCKS = (
    (0x1100, 0x11FF),
    (0x3040, 0x30FF),
    (0x3130, 0x318F),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xAC00, 0xD7AF),
    (0xF900, 0xFAFF),
)


class _Spacer(dict):
    """str.translate table, filled on demand: punctuation/symbols/separators/control
    characters -> space, CJK characters -> the character between spaces."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        if unicodedata.category(ch)[0] in "PSZC":
            value = " "
        elif any(lo <= code <= hi for lo, hi in CJK_BLOCKS):
            value = f" {ch} "
        else:
            value = ch
        self[code] = value
        return value


_SPACER = _Spacer()


def plain_tokens(text: str) -> list[str]:
    return unicodedata.normalize("NFKC", text).casefold().translate(_SPACER).split()


def plain_build(questions_file: Path, n: int = N) -> set[str]:
    grams: set[str] = set()
    with open(questions_file, encoding="utf-8") as handle:
        for line in handle:
            toks = plain_tokens(json.loads(line)["question"])
            grams.update(" ".join(toks[i : i + n]) for i in range(len(toks) - n + 1))
    return grams


def plain_scan(texts: list[str], grams: set[str], n: int = N) -> list[bool]:
    out = []
    for text in texts:
        toks = plain_tokens(text)
        out.append(any(" ".join(toks[i : i + n]) in grams for i in range(len(toks) - n + 1)))
    return out


# ---------------------------------------------------------------- corpus


def _span(text: str, zh: bool, size: int, rng: random.Random) -> str | None:
    """A raw piece of ``text`` holding exactly ``size`` tokens (None if it cannot)."""
    if zh:
        cjk = [i for i, ch in enumerate(text) if " " + ch + " " == ch.translate(_SPACER)]
        for _ in range(20):
            if len(cjk) < size:
                return None
            k = rng.randrange(len(cjk) - size + 1)
            piece = text[cjk[k] : cjk[k + size - 1] + 1]
            if len(plain_tokens(piece)) == size:
                return piece
        return None
    words = text.split()
    for _ in range(20):
        if len(words) < size:
            return None
        start = rng.randrange(len(words) - size + 1)
        piece = " ".join(words[start : start + size])
        if len(plain_tokens(piece)) == size and len(piece.split()) == size:
            return piece
    return None


def _vary(piece: str, zh: bool, rng: random.Random) -> str:
    r = rng.random()
    if r < 0.25 and not zh:
        return piece.upper()
    if r < 0.5:
        return "“" + piece.replace(",", " -").replace(".", ";") + "”"
    return piece


def _insert(doc: str, piece: str, zh: bool, rng: random.Random) -> str:
    if rng.random() < 0.5:  # as its own paragraph
        parts = doc.split("\n\n" if not zh else "\n")
        parts.insert(rng.randrange(len(parts) + 1), piece)
        return ("\n\n" if not zh else "\n").join(parts)
    if zh:  # inside a sentence
        pos = rng.randrange(len(doc) + 1)
        return doc[:pos] + piece + doc[pos:]
    words = doc.split(" ")
    pos = rng.randrange(len(words) + 1)
    return " ".join([*words[:pos], piece, *words[pos:]])


def make_corpus(
    n_docs: int,
    n_questions: int,
    n_planted: int,
    n_near: int,
    words: int,
    seed: int = 7,
    zh_share: float = 0.2,
    set_aside: dict[str, int] | None = None,
) -> tuple[list[str], pd.DataFrame, dict[str, set[str]]]:
    """(questions, documents, {"planted": ids, "near_miss": ids}).

    ``set_aside`` gets the number of pool paragraphs dropped per language because
    they overlap a question.
    """
    set_aside = {} if set_aside is None else set_aside
    rng = random.Random(seed)
    pools = {}
    questions: list[tuple[str, bool]] = []
    for lang in ("en", "zh"):
        pool = [p for p in paragraph_pool(lang) if not BOX_DRAWING.search(p)]
        rng.shuffle(pool)
        k = round(n_questions * (zh_share if lang == "zh" else 1 - zh_share))
        questions += [(q, lang == "zh") for q in pool[:k]]
        pools[lang] = pool[k:]
    # man pages and docs repeat boilerplate: set aside the paragraphs that already share
    # an n-gram with a question, so that the planted spans are the only contamination
    grams = set()
    for q, _ in questions:
        toks = plain_tokens(q)
        grams.update(" ".join(toks[i : i + N]) for i in range(len(toks) - N + 1))
    for lang in ("en", "zh"):
        hit = plain_scan(pools[lang], grams)
        pools[lang] = [p for p, h in zip(pools[lang], hit, strict=True) if not h]
        set_aside[lang] = sum(hit)
    texts, langs = [], []
    cursor = {"en": 0, "zh": 0}
    for _ in range(n_docs):
        lang = "zh" if rng.random() < zh_share else "en"
        pool = pools[lang]
        cur, size = [], 0
        while size < (600 if lang == "zh" else words):
            if cursor[lang] >= len(pool):
                cursor[lang] = 0
                rng.shuffle(pool)
            p = pool[cursor[lang]]
            cursor[lang] += 1
            cur.append(p)
            size += len(p) if lang == "zh" else len(p.split())
        texts.append(("\n" if lang == "zh" else "\n\n").join(cur))
        langs.append(lang)
    ids = [stable_id("bench-decontam", seed, j) for j in range(n_docs)]
    chosen = rng.sample(range(n_docs), min(n_docs, n_planted + n_near))
    truth: dict[str, set[str]] = {"planted": set(), "near_miss": set()}
    for k, j in enumerate(chosen):
        near = k >= n_planted
        zh = langs[j] == "zh"
        candidates = [q for q, qzh in questions if qzh == zh]
        piece = None
        while piece is None:
            size = N - 1 if near else rng.randint(N, 40)
            piece = _span(rng.choice(candidates), zh, size, rng)
        texts[j] = _insert(texts[j], _vary(piece, zh, rng), zh, rng)
        truth["near_miss" if near else "planted"].add(ids[j])
    docs = pd.DataFrame(
        {"id": ids, "seed_id": ids, "source": "bench-decontam", "text": texts, "lang": langs}
    )
    return [q for q, _ in questions], docs, truth


# ---------------------------------------------------------------- datatrove (separate venv)

DATATROVE_SCRIPT = r"""
import json, os, sys, time, tracemalloc
from types import SimpleNamespace
import numpy as np
from datatrove.data import Document
from datatrove.pipeline.decont.n_grams import (NGramsDecontConfig, NGramsDecontFilter,
    NGramsDecontIndexer)
from datatrove.utils.hashing import create_hash_func
from datatrove.utils.word_tokenizers import load_word_tokenizer
qfile, dfile, work, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
questions = [json.loads(line)["question"] for line in open(qfile, encoding="utf-8")]
rows = [json.loads(line) for line in open(dfile, encoding="utf-8")]
config = NGramsDecontConfig(n_grams=n)
# what NGramsDecontIndexer.__init__ sets up (its __new__ insists on lighteval)
indexer = SimpleNamespace(tokenizer=load_word_tokenizer("en"), config=config,
                          hash_func=create_hash_func(config.hash_config))
indexer.tokenizer.word_tokenize("Warm up the tokenizer.")
os.makedirs(work, exist_ok=True)
c0, w0 = time.process_time(), time.perf_counter()
hashes = set()
for q in questions:
    hashes.update(NGramsDecontIndexer.compute_hashes(indexer, q))
array = np.array(sorted(hashes), dtype=config.hash_config.np_descr)
with open(f"{work}/bench_questions.index.hashes", "wb") as f:
    array.tofile(f)
filt = NGramsDecontFilter(work, config=config)
filt.load_index_hashes()
build_cpu, build_wall = time.process_time() - c0, time.perf_counter() - w0
tracemalloc.start()
probe = NGramsDecontFilter(work, config=config)
probe.load_index_hashes()
index_bytes = tracemalloc.get_traced_memory()[0]
tracemalloc.stop()
del probe
docs = [Document(text=r["text"], id=r["id"]) for r in rows]
found = []
c0, w0 = time.process_time(), time.perf_counter()
for doc in docs:
    res = filt.filter(doc)
    if res is not True and not (isinstance(res, tuple) and res[0]):
        found.append(doc.id)
scan_cpu, scan_wall = time.process_time() - c0, time.perf_counter() - w0
print("DATATROVE " + json.dumps({"build_cpu": build_cpu, "build_wall": build_wall,
    "index_ngrams": len(array), "index_bytes": index_bytes, "scan_cpu": scan_cpu,
    "scan_wall": scan_wall, "found": found}))
"""


def run_datatrove(qfile: Path, docs: pd.DataFrame, tmp: Path) -> dict | str:
    dfile = tmp / "docs.jsonl"
    write_docs(dfile, docs["id"], docs["text"])
    out, error = in_bench_venv(DATATROVE_SCRIPT, str(qfile), str(dfile), str(tmp / "dt"), str(N))
    return error if out is None else json.loads(out)


# ---------------------------------------------------------------- main


def timed(fn, *args):
    c0, w0 = time.process_time(), time.perf_counter()
    result = fn(*args)
    return time.process_time() - c0, time.perf_counter() - w0, result


def traced(fn, *args) -> tuple[int, int]:
    """(bytes still allocated by fn's result, peak bytes) under tracemalloc."""
    tracemalloc.start()
    result = fn(*args)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del result
    return current, peak


def ours_build(qfile: Path) -> dc.Index:
    frame, _ = dc.build_index([dc.Benchmark(BENCH_NAME, str(qfile), ("question",))], N)
    return dc.Index.from_frame(frame, N)


def mb(x: float) -> str:
    return f"{x / 2**20:.1f} MB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=5000)
    ap.add_argument("--questions", type=int, default=5000)
    ap.add_argument("--planted", type=int, default=200)
    ap.add_argument("--near-misses", type=int, default=200)
    ap.add_argument("--words", type=int, default=400, help="words per English document")
    ap.add_argument("--skip-datatrove", action="store_true")
    args = ap.parse_args()

    t0 = time.perf_counter()
    aside: dict[str, int] = {}
    questions, docs, truth = make_corpus(
        args.docs, args.questions, args.planted, args.near_misses, args.words, set_aside=aside
    )
    n = len(docs)
    print(
        f"corpus: {n} docs ({(docs['lang'] == 'zh').sum()} zh), "
        f"{docs['text'].str.len().mean():.0f} chars/doc; {len(questions)} questions "
        f"({sum(len(plain_tokens(q)) < N for q in questions)} shorter than {N} tokens); "
        f"planted {len(truth['planted'])}, near misses ({N - 1} tokens) "
        f"{len(truth['near_miss'])}; pool paragraphs set aside for overlapping a question "
        f"{aside}; built in {time.perf_counter() - t0:.1f}s"
    )
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        qfile = tmp / "questions.jsonl"
        with open(qfile, "w", encoding="utf-8") as handle:
            for q in questions:
                handle.write(json.dumps({"question": q}, ensure_ascii=False) + "\n")

        # ours
        b_cpu, b_wall, index = timed(ours_build, qfile)
        retained, peak = traced(ours_build, qfile)
        print(
            f"ours index: {len(index.hashes):,} unique {N}-grams, built in {b_cpu:.2f} CPU-s "
            f"({b_wall:.2f} s wall); arrays {mb(index.hashes.nbytes + index.benchmark.nbytes)}, "
            f"retained {mb(retained)}, peak during build {mb(peak)}"
        )
        index_file = tmp / "index.parquet"
        write_parquet(
            pd.DataFrame({"hash": index.hashes, "benchmark": index.benchmark}),
            index_file,
            schema=dc.INDEX_SCHEMA,
        )
        stage = dc.DecontamStage({"n": N, "benchmarks": {}}, {"index": index_file})
        s_cpu, s_wall, (_, rejects, stats) = timed(stage, docs)
        ours_found = set(rejects["id"])
        ours_rate = n / s_cpu
        print(
            f"ours check: {n} docs, {s_cpu:.2f} CPU-s ({s_wall:.2f} s wall) -> "
            f"{ours_rate:,.0f} docs/s per CPU-s ({n / s_wall:,.0f} wall); "
            f"contaminated {len(ours_found)}"
        )

        # plain set
        pb_cpu, pb_wall, grams = timed(plain_build, qfile)
        retained, peak = traced(plain_build, qfile)
        print(
            f"plain index: {len(grams):,} {N}-gram strings in a set, built in {pb_cpu:.2f} CPU-s "
            f"({pb_wall:.2f} s wall); retained {mb(retained)}, peak during build {mb(peak)}"
        )
        texts = docs["text"].tolist()
        ps_cpu, ps_wall, flags = timed(plain_scan, texts, grams)
        plain_found = {i for i, f in zip(docs["id"], flags, strict=True) if f}
        plain_rate = n / ps_cpu
        print(
            f"plain scan: {n} docs, {ps_cpu:.2f} CPU-s ({ps_wall:.2f} s wall) -> "
            f"{plain_rate:,.0f} docs/s per CPU-s ({n / ps_wall:,.0f} wall); "
            f"contaminated {len(plain_found)}"
        )
        print(
            f"RATIO ours/plain: check {ours_rate / plain_rate:.2f}x per CPU-s, "
            f"{ps_wall / s_wall:.2f}x wall; index build {pb_cpu / b_cpu:.2f}x per CPU-s"
        )
        planted_found = len(truth["planted"] & ours_found)
        near_found = len(truth["near_miss"] & ours_found)
        others = len(ours_found - truth["planted"] - truth["near_miss"])
        print(
            f"ours found: planted {planted_found}/{len(truth['planted'])}, near misses "
            f"{near_found}/{len(truth['near_miss'])} (expected ~0: only if a neighbouring token "
            f"completes a 13-gram), other documents {others} "
            f"(overlaps already in the source texts); by benchmark "
            f"{stats.get('contaminated_by_benchmark')}"
        )
        if ours_found != plain_found:
            print(
                f"FAIL: ours and plain differ: only ours {sorted(ours_found - plain_found)[:10]}, "
                f"only plain {sorted(plain_found - ours_found)[:10]}"
            )
            sys.exit(1)
        print(f"same contaminated documents in ours and plain: {len(ours_found)} (OK)")
        if planted_found != len(truth["planted"]):
            print("FAIL: a planted overlap was not found")
            sys.exit(1)

        # datatrove
        if args.skip_datatrove:
            print("datatrove: skipped (--skip-datatrove)")
        else:
            sub = docs  # the same documents as ours and the plain set
            res = run_datatrove(qfile, sub, tmp)
            if isinstance(res, str):
                print(f"datatrove: {res}")
            else:
                m = len(sub)
                found = set(res["found"])
                ours_sub = ours_found & set(sub["id"])
                zh_ids = set(sub["id"][sub["lang"] == "zh"])
                trove_rate = m / res["scan_cpu"]
                print(
                    f"datatrove index: {res['index_ngrams']:,} {N}-gram hashes, built in "
                    f"{res['build_cpu']:.2f} CPU-s ({res['build_wall']:.2f} s wall), "
                    f"dict {mb(res['index_bytes'])}"
                )
                print(
                    f"datatrove filter: {m} docs, {res['scan_cpu']:.2f} CPU-s "
                    f"({res['scan_wall']:.2f} s wall) -> {trove_rate:,.0f} docs/s per CPU-s "
                    f"({m / res['scan_wall']:,.0f} wall); contaminated {len(found)}"
                )
                print(
                    f"RATIO ours/datatrove: check {ours_rate / trove_rate:.1f}x per CPU-s, "
                    f"{(res['scan_wall'] / m) / (s_wall / n):.1f}x wall; index build "
                    f"{res['build_cpu'] / b_cpu:.1f}x per CPU-s"
                )
                print(
                    f"on these {m} docs: ours {len(ours_sub)} (zh {len(ours_sub & zh_ids)}), "
                    f"datatrove {len(found)} (zh {len(found & zh_ids)}), both "
                    f"{len(ours_sub & found)}, only ours {len(ours_sub - found)} "
                    f"(zh {len((ours_sub - found) & zh_ids)}), only datatrove "
                    f"{len(found - ours_sub)}."
                )
                print(
                    "  why: datatrove maps every number to 0 (a run of 13 numbers matches "
                    "any other), keeps symbols outside its punctuation list (box-drawing, "
                    "arrows) as tokens, lowercases before spaCy, whose English exceptions "
                    "split words ('id' -> 'i d'), and strips diacritics: more matches in "
                    "tables and command listings; a run of Chinese characters is one token, "
                    "so a copied Chinese sentence needs 13 such runs to match: "
                    "Chinese overlaps go unseen."
                )
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(f"peak RSS of this process: {ru.ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
