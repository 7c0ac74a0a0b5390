"""Tests for corpusforge.dedup: hashing against datasketch, clustering, the stage rules.

Corpora are small and synthetic (seeded Zipf text in English-like words and in
Chinese characters), so every number here is exact and fast; the large quality
and throughput numbers come from benchmarks/bench_dedup.py.
"""

from __future__ import annotations

import importlib
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest
from datasketch import MinHash

from corpusforge import dedup as dd
from corpusforge.io import read_json, read_parquet, write_parquet
from corpusforge.records import REJECT_COLUMNS, shard_of, stable_id
from corpusforge.schema import with_defaults

REPO = Path(__file__).resolve().parent.parent
HARNESS = REPO / "tests" / "data" / "dedup_harness.smk"


# ---------------------------------------------------------------- synthetic corpora


def _vocab(seed: int = 7, size: int = 4000) -> list[str]:
    rng = random.Random(seed)
    letters = "etaoinshrdlucmfwypvbgkjqxz"
    return sorted({"".join(rng.choices(letters, k=rng.randint(2, 9))) for _ in range(size * 2)})[
        :size
    ]


VOCAB = _vocab()
HAN = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]


def zipf_text(rng: random.Random, n: int, lang: str) -> str:
    weights = [1.0 / (i + 1) for i in range(len(VOCAB if lang == "en" else HAN))]
    if lang == "en":
        words = rng.choices(VOCAB, weights=weights, k=n)
        lines = [" ".join(words[i : i + 40]).capitalize() + "." for i in range(0, n, 40)]
        return "\n".join(lines)
    chars = rng.choices(HAN, weights=weights, k=n)
    return "\n".join("".join(chars[i : i + 50]) + "。" for i in range(0, n, 50))


def edit(rng: random.Random, text: str, rate: float, lang: str) -> str:
    """Replace a share of the tokens in one or two clustered spans."""
    toks = text.split(" ") if lang == "en" else list(text)
    n_edit = max(1, round(rate * len(toks)))
    spans = rng.randint(1, 2)
    for k in range(spans):
        size = n_edit // spans + (k < n_edit % spans)
        start = rng.randrange(0, len(toks) - size)
        for i in range(start, start + size):
            toks[i] = rng.choice(VOCAB) if lang == "en" else rng.choice(HAN)
    return (" " if lang == "en" else "").join(toks)


def corpus(n_orig: int, lang: str, seed: int, n_tokens: int = 300, rate: float = 0.03):
    """Originals, one near-duplicate of every fourth, one exact copy of every tenth."""
    rng = random.Random(seed)
    texts = [zipf_text(rng, n_tokens, lang) for _ in range(n_orig)]
    pairs = []
    for i in range(0, n_orig, 4):
        texts.append(edit(rng, texts[i], rate, lang))
        pairs.append((i, len(texts) - 1))
    for i in range(1, n_orig, 10):
        texts.append(texts[i])
        pairs.append((i, len(texts) - 1))
    ids = [stable_id("test", lang, seed, j) for j in range(len(texts))]
    docs = pd.DataFrame(
        {
            "id": ids,
            "seed_id": ids,
            "source": "test",
            "text": texts,
            "prompt_lang": lang,
        }
    )
    return docs, [(ids[a], ids[b]) for a, b in pairs]


def run_stage(docs: pd.DataFrame, cfg: dict | None = None, shards: int = 3):
    """Every dedup step in process, shard by shard, as the rules chain them."""
    cfg = dd.settings(with_defaults("dedup", cfg))
    parts = [docs[[shard_of(i, shards) == s for i in docs["id"]]] for s in range(shards)]
    parts = [p.reset_index(drop=True) for p in parts]
    fp, para = dd.concat_fingerprints(dd.fingerprint(part, cfg) for part in parts)
    exact, boiler, _ = dd.exact_duplicates(fp, para, cfg)
    metas, sigs = [], []
    for part in parts:
        meta, sig, _ = dd.signatures(part, exact["id"], boiler, cfg)
        metas.append(meta)
        sigs.append(sig)
    cfg_groups = {**cfg, "band_groups": 2}
    pairs = [
        dd.band_candidates(sigs, dd.bands_of_group(cfg_groups, g), cfg)[0]
        for g in dd.band_group_names(cfg_groups)
    ]
    near, stats = dd.near_clusters(
        np.concatenate(pairs),
        [len(m) for m in metas],
        lambda s, rows: (metas[s].iloc[rows], sigs[s][rows]),
        cfg,
    )
    removed = dd.decisions(exact, near)
    stage = dd.DedupStage(cfg, {"removed": removed, "boilerplate": boiler})
    outs = [stage(part) for part in parts]
    kept = pd.concat([o[0] for o in outs], ignore_index=True)
    rejects = pd.concat([o[1] for o in outs], ignore_index=True)
    return kept, rejects, removed, stats


def representative(removed: pd.DataFrame):
    kept_of = dict(zip(removed["id"], removed["kept_id"], strict=True))
    return lambda x: kept_of.get(x, x)


# ---------------------------------------------------------------- tokens and hashes


TEXTS = [
    "Hello, World! It's a test -- of the tokenizer (punctuation) and_underscores 2024.",
    "Ünïcödé ＦＵＬＬＷＩＤＴＨ text\nsecond line: Привет, мир! नमस्ते दुनिया",
    "大数据时代，人工智能技术正在改变我们的生活方式。Python 3.11 很好用！",
    "",
    "   \n\n  ",
    "日本語のテキストです。カタカナとひらがな。",
]


@pytest.mark.parametrize("char_mode", [False, True])
def test_fast_tokens_and_shingles_match_the_reference(char_mode):
    toks = dd.tokenize(TEXTS, char_mode)
    for i, text in enumerate(TEXTS):
        ref = dd.reference_tokens(text, char_mode)
        assert toks.counts[i] == len(ref)
        # same tokens, same hash; different tokens, different hashes
        h = toks.hash[toks.start[i] : toks.start[i + 1]]
        assert len(set(h.tolist())) == len(set(ref))
        for n in (1, 3, 5):
            one = dd.tokenize([text], char_mode)
            hv, _ = dd.shingle_hashes(one, n)
            assert len(set(hv.tolist())) == len(dd.reference_shingles(text, char_mode, n))
    assert dd.reference_tokens(TEXTS[1], False)[:4] == ["ünïcödé", "fullwidth", "text", "second"]
    assert "नमस्ते" in dd.reference_tokens(TEXTS[1], False)  # marks stay inside the word


def test_token_hashes_do_not_depend_on_the_batch():
    alone = [dd.tokenize([t], False).hash for t in TEXTS]
    together = dd.tokenize(TEXTS, False)
    for i, h in enumerate(alone):
        assert np.array_equal(h, together.hash[together.start[i] : together.start[i + 1]])


def test_token_hashes_do_not_depend_on_how_many_are_hashed_at_once(monkeypatch):
    from corpusforge.dedup import hashing

    texts = TEXTS * 3
    whole = dd.tokenize(texts, False, lines=True)
    monkeypatch.setattr(hashing, "_HASH_CHUNK", 2)
    chunked = dd.tokenize(texts, False, lines=True)
    for name in ("hash", "doc", "start", "line", "line_start"):
        assert np.array_equal(getattr(whole, name), getattr(chunked, name)), name


@pytest.mark.parametrize(("scheme", "num_perm", "seed"), [("affine32", 128, 1), ("legacy", 64, 3)])
def test_minhash_equals_datasketch(scheme, num_perm, seed):
    rng = random.Random(0)
    texts = [zipf_text(rng, n, "en") for n in (5, 40, 400, 3000)] + [""]
    perms = dd.Permutations(num_perm, seed, scheme)
    hv, offsets = dd.shingle_hashes(dd.tokenize(texts, False), 5)
    sig = dd.minhash(hv, offsets, perms)
    for i in range(len(texts)):
        ref = MinHash(num_perm=num_perm, seed=seed, scheme=scheme, hashfunc=int)
        ref.update_batch(hv[offsets[i] : offsets[i + 1]].tolist())
        assert np.array_equal(ref.hashvalues.astype(np.uint64), sig[i].astype(np.uint64)), i


def test_estimated_jaccard_tracks_the_true_jaccard():
    rng = random.Random(1)
    base = zipf_text(rng, 1500, "en")
    perms = dd.Permutations(256, 1)
    for rate in (0.01, 0.03, 0.08):
        other = edit(rng, base, rate, "en")
        true = dd.jaccard(
            dd.reference_shingles(base, False, 5), dd.reference_shingles(other, False, 5)
        )
        hv, off = dd.shingle_hashes(dd.tokenize([base, other], False), 5)
        sig = dd.minhash(hv, off, perms)
        est = dd.estimated_jaccard(sig[:1], sig[1:])[0]
        assert abs(est - true) < 0.1, (rate, est, true)


def test_char_mode_from_lang_prompt_lang_and_script():
    docs = pd.DataFrame(
        {
            "text": ["plain english", "中文文本内容很多字", "中文文本内容很多字", "english"],
            "lang": [None, None, "en", "zh-Hans"],
            "prompt_lang": ["en", None, "zh", "en"],
        }
    )
    mode = dd.char_mode(docs["text"].tolist(), dd.doc_langs(docs), ["zh", "ja"])
    # prompt_lang en; no language -> script; lang en beats prompt_lang zh; lang zh-Hans
    assert mode.tolist() == [False, True, False, True]


# ---------------------------------------------------------------- bands and clusters


def _components(n, edges):
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return [find(x) for x in range(n)]


def test_union_find_matches_a_plain_python_one():
    rng = np.random.default_rng(3)
    for n, m in ((10, 0), (50, 30), (2000, 1800), (500, 3000)):
        a, b = rng.integers(0, n, m), rng.integers(0, n, m)
        got = dd.union_find(n, a, b)
        want = _components(n, zip(a.tolist(), b.tolist(), strict=True))
        assert got.tolist() == want


def test_bucket_pairs_links_every_bucket_member():
    h = np.array([5, 1, 5, 2, 5, 1, 9] + [7] * 40, dtype=np.uint64)
    pairs = dd.bucket_pairs(h, max_bucket_pairs=4)
    lo = (pairs >> np.uint64(32)).astype(int)
    hi = (pairs & np.uint64(0xFFFFFFFF)).astype(int)
    got = set(zip(lo.tolist(), hi.tolist(), strict=True))
    assert {(0, 2), (0, 4), (2, 4), (1, 5)} <= got  # small buckets: all pairs
    assert not any(3 in p or 6 in p for p in got)  # singletons: none
    big = [p for p in got if p[0] >= 7]
    assert len(big) < 2 * 40  # star + chain, not 780 pairs
    roots = dd.union_find(len(h), lo, hi)
    assert len(set(roots[7:].tolist())) == 1


def test_optimal_bands_come_from_datasketch():
    from datasketch.lsh import _optimal_param

    cfg = dd.settings(with_defaults("dedup", {"bands": None, "rows": None, "threshold": 0.7}))
    assert (cfg["bands"], cfg["rows"]) == _optimal_param(0.7, 128, 0.5, 0.5)
    assert dd.settings(with_defaults("dedup"))["verify_threshold"] == pytest.approx(
        0.7176, abs=1e-4
    )
    with pytest.raises(ValueError, match="bands x rows"):
        dd.settings(with_defaults("dedup", {"bands": 20, "rows": 8}))
    with pytest.raises(ValueError, match="both bands and rows"):
        dd.settings(with_defaults("dedup", {"bands": None}))
    with pytest.raises(jsonschema.ValidationError, match="shingles"):
        with_defaults("dedup", {"shingles": 5})


# ---------------------------------------------------------------- the stage


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_known_pairs_are_found_and_nothing_else(lang):
    docs, pairs = corpus(60, lang, seed=11)
    kept, rejects, removed, _ = run_stage(docs)
    rep = representative(removed)
    for a, b in pairs:
        assert rep(a) == rep(b), (a, b)
    family = {b: a for a, b in pairs}
    for x, k in zip(removed["id"], removed["kept_id"], strict=True):
        assert family.get(x, x) == family.get(k, k)
    assert len(kept) + len(rejects) == len(docs)
    assert set(rejects["reason"]) == {dd.EXACT, dd.NEAR}


def test_no_document_is_removed_without_a_kept_twin():
    rng = random.Random(5)
    base = zipf_text(rng, 400, "en")
    near = edit(rng, base, 0.02, "en")
    docs = pd.DataFrame(
        {
            "id": ["a" * 16, "b" * 16, "c" * 16, "d" * 16],
            "seed_id": "s",
            "source": "t",
            # c, d: exact twins; a: a near twin of c, with the lowest perplexity
            "text": [near, zipf_text(rng, 300, "en"), base, base],
            "perplexity": [10.0, 5.0, 20.0, 20.0],
        }
    )
    kept, rejects, removed, _ = run_stage(docs, shards=2)
    assert sorted(kept["id"]) == ["a" * 16, "b" * 16]
    assert set(removed["kept_id"]) <= set(kept["id"])
    by_id = {r.id: json.loads(r.detail) for r in rejects.itertuples()}
    # d is c's exact twin; c went as a near duplicate of a, so d points to a
    assert by_id["d" * 16]["kept_id"] == "a" * 16
    assert by_id["d" * 16]["exact_of"] == "c" * 16
    assert by_id["c" * 16]["kept_id"] == "a" * 16
    assert by_id["c" * 16]["cluster_id"] == by_id["d" * 16]["cluster_id"]
    assert 0.8 <= by_id["c" * 16]["jaccard"] <= 1.0
    assert kept.set_index("id").loc["a" * 16, "dup_count"] == 2


@pytest.mark.parametrize(
    ("rule", "expected"),
    [("perplexity", "b"), ("length", "c"), ("id", "a")],
)
def test_keep_rule(rule, expected):
    rng = random.Random(9)
    base = zipf_text(rng, 300, "en")
    docs = pd.DataFrame(
        {
            "id": [x * 16 for x in "abc"],
            "seed_id": "s",
            "source": "t",
            "text": [base, base + " ", base + " extra words here"],
            "perplexity": [30.0, 12.0, np.nan],
        }
    )
    kept, _, _, _ = run_stage(docs, {"keep": rule}, shards=1)
    assert kept["id"].tolist() == [expected * 16]


def test_empty_and_short_texts_are_kept_and_not_clustered():
    docs = pd.DataFrame(
        {
            "id": [f"{i:016x}" for i in range(7)],
            "seed_id": "s",
            "source": "t",
            "text": ["", "", None, "Hi!", "Hi!", "一二三", "one two three four five six seven"],
        }
    )
    docs = pd.concat([docs, docs.assign(id=[f"{i:016x}" for i in range(7, 14)])])
    kept, rejects, _, _ = run_stage(docs.reset_index(drop=True), {"min_tokens": 8})
    assert len(rejects) == 0
    assert len(kept) == 14
    # with a lower minimum, the 7-word twins are exact duplicates
    kept, rejects, _, _ = run_stage(docs.reset_index(drop=True), {"min_tokens": 7})
    assert rejects["reason"].tolist() == [dd.EXACT]


def test_boilerplate_lines_are_removed_and_boilerplate_only_docs_rejected():
    rng = random.Random(2)
    boiler = "Subscribe to our newsletter for more great content every week"
    texts = [zipf_text(rng, 200, "en") + "\n" + boiler for _ in range(4)] + [boiler]
    docs = pd.DataFrame(
        {"id": [f"{i:016x}" for i in range(5)], "seed_id": "s", "source": "t", "text": texts}
    )
    cfg = {"boilerplate": {"enabled": True, "min_docs": 3, "min_tokens": 5}}
    kept, rejects, _, _ = run_stage(docs, cfg, shards=2)
    assert len(kept) == 4 and not kept["text"].str.contains("newsletter").any()
    assert kept["boilerplate_lines"].tolist() == [1, 1, 1, 1]
    assert rejects["reason"].tolist() == [dd.BOILERPLATE]
    assert rejects["text"].tolist() == [boiler]


def test_shard_jobs_give_the_same_rows_a_batch_at_a_time(tmp_path):
    """dedup_fingerprint and dedup_signatures streamed (batches of 7 documents,
    boilerplate on) give the rows of one pass over the shard."""
    from corpusforge.dedup.stage import fingerprint_shard, signature_shard

    en, _ = corpus(30, "en", 11)
    zh, _ = corpus(12, "zh", 12)
    docs = pd.concat([en, zh], ignore_index=True).sort_values("id", ignore_index=True)
    # a line every document shares, so the boilerplate hashes are not empty
    docs["text"] = "Subscribe to our newsletter for more stories today.\n" + docs["text"]
    write_parquet(docs, tmp_path / "docs.parquet")
    cfg = dd.settings(with_defaults("dedup", {"boilerplate": {"enabled": True, "min_docs": 5}}))
    outs = {}
    for batch_rows in (None, 7):
        out = tmp_path / str(batch_rows)
        fingerprint_shard(
            tmp_path / "docs.parquet", cfg, out / "fp.parquet", out / "para.parquet", batch_rows
        )
        fp, para = read_parquet(out / "fp.parquet"), read_parquet(out / "para.parquet")
        exact, boiler, _ = dd.exact_duplicates(fp, para, cfg)
        write_parquet(exact, out / "exact.parquet")
        write_parquet(pd.DataFrame({"hash": boiler}), out / "boiler.parquet")
        signature_shard(
            tmp_path / "docs.parquet",
            out / "exact.parquet",
            out / "boiler.parquet",
            cfg,
            out / "sig.parquet",
            batch_rows,
        )
        sig = read_parquet(out / "sig.parquet")
        outs[batch_rows] = (fp, para, exact, boiler, sig)
        assert len(exact) > 0 and len(boiler) > 0 and para["doc"].max() == len(docs) - 1
    for whole, batched in zip(outs[None], outs[7], strict=True):
        if isinstance(whole, np.ndarray):
            np.testing.assert_array_equal(whole, batched)
        else:
            pd.testing.assert_frame_equal(whole, batched)
    assert len(outs[7][4]) == len(docs) - len(outs[7][2])


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_small_scale_quality(lang):
    """A few hundred documents: recall on pairs with J >= 0.8 and precision >= 0.99."""
    rng = random.Random(21 if lang == "en" else 22)
    docs, _ = corpus(240, lang, seed=30, rate=0.0)
    texts = docs["text"].tolist()[:240]
    ids = docs["id"].tolist()[:240]
    truth = []
    for k in range(160):  # near duplicates at 1-6% edits: Jaccard about 0.65-0.95
        src = rng.randrange(240)
        texts.append(edit(rng, texts[src], rng.uniform(0.01, 0.06), lang))
        ids.append(stable_id("copy", lang, k))
        truth.append((ids[src], ids[-1]))
    docs = pd.DataFrame(
        {"id": ids, "seed_id": ids, "source": "t", "text": texts, "prompt_lang": lang}
    )
    _, _, removed, _ = run_stage(docs)
    rep = representative(removed)
    text = dict(zip(ids, texts, strict=True))
    cm = lang == "zh"
    jac = np.array(
        [
            dd.jaccard(dd.reference_shingles(text[a], cm, 5), dd.reference_shingles(text[b], cm, 5))
            for a, b in truth
        ]
    )
    found = np.array([rep(a) == rep(b) for a, b in truth])
    assert (jac >= 0.8).sum() >= 60
    assert found[jac >= 0.8].mean() >= 0.99
    family = {}
    for a, b in truth:
        family.setdefault(a, a)
        family[b] = family[a]
    correct = [
        family.get(x, x) == family.get(k, k)
        for x, k in zip(removed["id"], removed["kept_id"], strict=True)
    ]
    assert np.mean(correct) >= 0.99


# ---------------------------------------------------------------- the rules, with Snakemake


def _snakemake(workdir: Path, results: Path, shards: int) -> None:
    cfg = {
        "results": str(results),
        "shards": shards,
        "repo": str(REPO),
        "dedup": {"band_groups": 2, "boilerplate": {"enabled": True, "min_docs": 20}},
    }
    (workdir / "config.json").write_text(json.dumps(cfg))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(HARNESS),
            "--configfile",
            str(workdir / "config.json"),
            "--cores",
            "2",
            "--quiet",
            "all",
        ],
        cwd=workdir,
        check=True,
        capture_output=True,
    )


def test_rules_audit_and_rerun_give_identical_bytes(tmp_path):
    en, _ = corpus(40, "en", seed=3)
    zh, _ = corpus(40, "zh", seed=4)
    docs = pd.concat([en, zh, en.iloc[:2].assign(id=["e" * 16, "f" * 16])], ignore_index=True)
    docs.loc[len(docs)] = {"id": "0" * 16, "seed_id": "x", "source": "t", "text": ""}
    shards = 2
    results = tmp_path / "results"
    for s in range(shards):
        part = docs[[shard_of(i, shards) == s for i in docs["id"]]]
        write_parquet(part.sort_values("id"), results / f"docs/input/{s:04d}.parquet")
    _snakemake(tmp_path, results, shards)

    kept = pd.concat([read_parquet(results / f"docs/dedup/{s:04d}.parquet") for s in range(2)])
    rej = pd.concat([read_parquet(results / f"rejected/dedup/{s:04d}.parquet") for s in range(2)])
    assert list(rej.columns) == REJECT_COLUMNS
    assert sorted([*kept["id"], *rej["id"]]) == sorted(docs["id"])  # each id exactly once
    assert set(rej["reason"]) == {dd.EXACT, dd.NEAR}
    for row in rej.itertuples():
        detail = json.loads(row.detail)
        assert detail["kept_id"] in set(kept["id"]) and detail["cluster_id"]
    stats = [read_json(results / f"stats/dedup/{s:04d}.json") for s in range(2)]
    assert sum(s["rejected"] for s in stats) == len(rej)
    clusters = read_json(results / "dedup/clusters.json")
    assert (clusters["bands"], clusters["rows"]) == (21, 6) and clusters["near_clusters"] >= 10
    assert sum(clusters["cluster_size_histogram"].values()) == clusters["near_clusters"]

    first = {
        p: p.read_bytes() for p in sorted(results.rglob("*")) if p.suffix in {".parquet", ".json"}
    }
    for sub in ("dedup", "docs/dedup", "rejected", "stats"):
        shutil.rmtree(results / sub)
    _snakemake(tmp_path, results, shards)
    second = {
        p: p.read_bytes() for p in sorted(results.rglob("*")) if p.suffix in {".parquet", ".json"}
    }
    assert first.keys() == second.keys()
    assert all(first[p] == second[p] for p in first)


def test_band_and_cluster_steps_read_signatures_a_batch_at_a_time(tmp_path, monkeypatch):
    """dedup_bands and dedup_clusters read the signature files a few rows at a time
    (and only the candidates' meta rows): the same pairs and decisions as the
    matrices held whole."""
    from corpusforge.dedup.stage import band_step, cluster_step, signature_shard

    mh = importlib.import_module("corpusforge.dedup.minhash")  # the name is also a function
    monkeypatch.setattr(mh, "SIGNATURE_BATCH", 5)
    docs, _ = corpus(60, "en", 13)
    cfg = dd.settings(with_defaults("dedup", {"band_groups": 2}))
    write_parquet(pd.DataFrame(columns=["id", "kept_id", "cluster_id"]), tmp_path / "exact.parquet")
    write_parquet(pd.DataFrame({"hash": np.zeros(0, np.uint64)}), tmp_path / "boiler.parquet")
    paths, metas, sigs = [], [], []
    for s, part in enumerate((docs.iloc[:35], docs.iloc[35:])):
        write_parquet(part.reset_index(drop=True), tmp_path / f"docs{s}.parquet")
        paths.append(tmp_path / f"sig{s}.parquet")
        signature_shard(
            tmp_path / f"docs{s}.parquet",
            tmp_path / "exact.parquet",
            tmp_path / "boiler.parquet",
            cfg,
            paths[-1],
            batch_rows=8,
        )
        metas.append(read_parquet(paths[-1], columns=["id", "length", "perplexity"]))
        sigs.append(dd.read_signatures(str(paths[-1]), cfg["num_perm"]))
        batches = list(mh.iter_signatures(str(paths[-1]), cfg["num_perm"]))
        assert len(batches) > 1 and np.array_equal(np.concatenate(batches), sigs[-1])
        rows = np.array([1, 4, 5, 17, len(sigs[-1]) - 1])
        assert np.array_equal(
            mh.signature_rows(str(paths[-1]), cfg["num_perm"], rows), sigs[-1][rows]
        )
    pair_files = []
    for group in dd.band_group_names(cfg):
        pair_files.append(tmp_path / f"{group}.parquet")
        band_step(group, paths, cfg, pair_files[-1])
        whole, _ = dd.band_candidates(sigs, dd.bands_of_group(cfg, group), cfg)
        assert np.array_equal(read_parquet(pair_files[-1])["pair"].to_numpy(np.uint64), whole)
    pairs = np.concatenate([read_parquet(p)["pair"].to_numpy(np.uint64) for p in pair_files])
    near, _ = dd.near_clusters(
        pairs, [len(m) for m in metas], lambda s, rows: (metas[s].iloc[rows], sigs[s][rows]), cfg
    )
    assert len(near) >= 3
    cluster_step(
        pair_files, paths, tmp_path / "exact.parquet", cfg, tmp_path / "removed.parquet",
        tmp_path / "clusters.json",
    )  # fmt: skip
    expected = dd.decisions(read_parquet(tmp_path / "exact.parquet"), near)
    pd.testing.assert_frame_equal(read_parquet(tmp_path / "removed.parquet"), expected)
