"""Paragraph dedup (corpusforge.paragraphs): CC-NET's normalization, hashing, the first
occurrence kept in (shard, id, line) order, the memory-bounded gather, removal counts
and rejections."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from corpusforge.paragraphs import (
    dedup_paragraphs,
    distinct_hashes,
    gather,
    line_hash,
    load_hashes,
    normalize_line,
    removed_mask,
    save_hashes,
    shard_line_hashes,
    text_hashes,
)
from corpusforge.records import REJECT_COLUMNS
from corpusforge.schema import with_defaults

CFG = with_defaults("dedup")["paragraphs"]
BOILER = "Subscribe to our newsletter for weekly gardening tips and offers!"
LONG = "The tomato plants on the balcony gave more fruit this year than ever before. " * 3
STORY = "A different story about sunflowers and the bees that visit them all summer. " * 2


def test_normalization_is_ccnets():
    assert normalize_line("  Héllo,   WORLD!! 2024  ") == "hello world 0000"
    assert normalize_line("Ça coûte 12,50 €.") == "ca coute 0000"
    assert normalize_line("——— *** ———") == ""
    assert normalize_line("你好，世界！第３章") == "你好世界第0章"  # full-width digit too
    assert normalize_line("a\u200bb\tc") == "ab c"  # format characters go, blanks collapse


def test_line_hash_is_blake2b_of_the_normalized_line():
    digest = hashlib.blake2b(b"hello world", digest_size=8).digest()
    assert line_hash("hello world") == int.from_bytes(digest, "little")
    assert line_hash("hello world") != line_hash("hello world 0")
    lines, hashes = text_hashes("Hello, World!\n\n----\nhello world\n  Ünïcode 42 ")
    assert lines == ["Hello, World!", "", "----", "hello world", "  Ünïcode 42 "]
    assert hashes[1] == hashes[2] == 0  # empty once normalized: no part
    assert hashes[0] == hashes[3] == np.uint64(line_hash("hello world"))
    # the whole text folded at once gives each line's own normalization
    assert hashes[4] == np.uint64(line_hash(normalize_line(lines[4]))) != 0


def docs(rows: list[tuple[str, str]], origin: str = "web", lang: str = "en") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [r[0] for r in rows],
            "seed_id": [r[0] for r in rows],
            "origin": origin,
            "lang": lang,
            "text": [r[1] for r in rows],
        }
    )


def build(tmp_path, shards: list[pd.DataFrame], cfg=CFG, batch=1000):
    """Hash every shard, gather, apply: (kept, rejects, stats) per shard."""
    paths, lines = [], []
    for i, frame in enumerate(shards):
        path = tmp_path / f"h{i}.npy"
        lines.append(shard_line_hashes(frame, cfg["apply_to"]))
        save_hashes(distinct_hashes(lines[-1]), path)
        paths.append(path)
    earlier = [tmp_path / f"e{i}.npy" for i in range(len(shards))]
    gstats = gather(paths, earlier, tmp_path / "gather.json", batch)
    results = [
        dedup_paragraphs(frame, load_hashes(e), cfg, line_hashes)
        for frame, e, line_hashes in zip(shards, earlier, lines, strict=True)
    ]
    # without the hash step's line hashes, the same result
    again = dedup_paragraphs(shards[-1], load_hashes(earlier[-1]), cfg)
    assert again[0].equals(results[-1][0]) and again[2] == results[-1][2]
    return results, gstats


def test_first_occurrence_in_shard_id_line_order_is_kept(tmp_path):
    shard0 = docs([("b2", f"{LONG}\n{BOILER}"), ("a1", f"Intro line here.\n{LONG}\n{BOILER}")])
    shard1 = docs([("a0", f"{BOILER.upper()}\n{STORY}\n{LONG}")])
    (r0, r1), gstats = build(tmp_path, [shard0, shard1])
    k0 = r0[0].set_index("id")
    # in shard 0, "a1" comes before "b2" (ids sorted): a1 keeps both lines
    assert k0.loc["a1", "text"] == f"Intro line here.\n{LONG}\n{BOILER}"
    assert k0.loc["a1", "removed_lines"] == 0
    # b2 lost both its lines, left empty: rejected with what was removed
    assert r0[1]["id"].tolist() == ["b2"]
    assert r0[1]["reason"].tolist() == ["paragraph_dedup"]
    assert "removed 2 of 2 lines" in r0[1]["detail"].iloc[0]
    assert list(r0[1].columns) == REJECT_COLUMNS
    # shard 1 comes after shard 0, even though its id sorts first; the upper-case
    # copy is the same line once normalized
    k1 = r1[0].set_index("id")
    assert k1.loc["a0", "text"] == STORY.strip()
    assert k1.loc["a0", "removed_lines"] == 2
    assert k1.loc["a0", "removed_chars"] == len(BOILER) + len(LONG)
    # the gather sees each shard's distinct hashes; shard 1 repeats two of shard 0's
    assert gstats["earlier_shard_repeats"] == [0, 2]
    assert gstats["shard_distinct_hashes"] == 3 + 3
    assert gstats["distinct_hashes"] == 4


def test_within_one_document_later_repeats_go_too(tmp_path):
    text = f"{LONG}\nsame line twice\n\nsame line twice\nSame line, twice!"
    (res,), _ = build(tmp_path, [docs([("x", text)])])
    kept = res[0]
    assert kept["text"].iloc[0] == f"{LONG}\nsame line twice"
    assert kept["removed_lines"].iloc[0] == 2


def test_min_chars_rejects_short_leftovers_only_when_lines_went(tmp_path):
    shard = docs([("a", f"{LONG}\n{BOILER}"), ("b", f"Short.\n{BOILER}"), ("c", "Tiny.")])
    (res,), _ = build(tmp_path, [shard])
    kept, rejects, stats = res
    assert kept["id"].tolist() == ["a", "c"]  # "c" is short, but lost nothing
    assert rejects["id"].tolist() == ["b"]
    assert "6 characters left < 100" in rejects["detail"].iloc[0]
    assert rejects["text"].iloc[0] == f"Short.\n{BOILER}"  # the text as it came in
    loose = {**CFG, "min_chars": 0}
    (res,), _ = build(tmp_path, [shard], cfg=loose)
    assert res[0].set_index("id").loc["b", "text"] == "Short."
    assert stats["removed_lines"] == 1 and stats["documents_changed"] == 1


def test_other_origins_are_neither_hashed_nor_changed(tmp_path):
    web = docs([("w", f"{LONG}\n{BOILER}")])
    gen = docs([("a", f"{BOILER}\n{LONG}")], origin="generated")
    both = pd.concat([gen, web], ignore_index=True)
    (res,), _ = build(tmp_path, [both])
    kept, _, stats = res
    assert kept.set_index("id").loc["w", "removed_lines"] == 0  # the generated copy counts not
    assert kept.set_index("id").loc["a", "text"] == f"{BOILER}\n{LONG}"
    assert stats["not_deduplicated"] == 1


def test_stats_by_language(tmp_path):
    en = docs([("a", f"{LONG}\n{BOILER}"), ("b", f"{LONG}\nAnother line entirely.\n" * 2)])
    zh = docs([("c", "这是一段很长的中文内容。\n" * 3 + "结束。")], lang="zh")
    (res,), _ = build(
        tmp_path, [pd.concat([en, zh], ignore_index=True)], cfg={**CFG, "min_chars": 0}
    )
    stats = res[2]
    assert stats["removed_chars_by_lang"]["zh"] == 2 * len("这是一段很长的中文内容。")
    assert stats["removed_lines_by_lang"] == {"en": 3, "zh": 2}
    assert stats["removed_chars"] == sum(stats["removed_chars_by_lang"].values())
    assert stats["chars_in_by_lang"]["zh"] == len(zh["text"].iloc[0])


def test_gather_in_small_ranges_matches_a_python_set(tmp_path):
    """Many shards of random hashes, gathered in ranges of ~50 hashes: each shard's
    list is exactly its hashes that a plain set over the earlier shards holds."""
    rng = np.random.default_rng(7)
    pool = rng.integers(0, 2**63, size=3000, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    shards = [np.unique(rng.choice(pool, size=400)) for _ in range(6)]
    paths = []
    for i, arr in enumerate(shards):
        paths.append(tmp_path / f"h{i}.npy")
        save_hashes(arr, paths[-1])
    outs = [tmp_path / f"e{i}.npy" for i in range(6)]
    stats = gather(paths, outs, None, batch=50)
    assert stats["ranges"] >= 32 and stats["largest_range_hashes"] < 200
    seen: set[int] = set()
    for arr, out in zip(shards, outs, strict=True):
        expected = sorted(int(h) for h in arr if int(h) in seen)
        got = load_hashes(out)
        assert got.tolist() == expected  # sorted, exact
        seen.update(int(h) for h in arr)
    assert stats["distinct_hashes"] == len(seen)


def test_load_hashes_refuses_other_arrays(tmp_path):
    np.save(tmp_path / "bad.npy", np.zeros(3, dtype=np.int32))
    with pytest.raises(ValueError, match=r"bad\.npy: not a 1-d uint64"):
        load_hashes(tmp_path / "bad.npy")


def test_removed_mask_and_mismatched_line_hashes():
    h = np.array([5, 0, 7, 5, 9, 0, 7], dtype=np.uint64)
    assert removed_mask(h, np.array([9], dtype=np.uint64)).tolist() == [
        False, False, False, True, True, False, True,
    ]  # fmt: skip
    frame = docs([("a", f"{LONG}\n{BOILER}")])
    with pytest.raises(ValueError, match="3 line hashes for 2 lines"):
        dedup_paragraphs(frame, np.zeros(0, np.uint64), CFG, np.ones(3, dtype=np.uint64))


def test_a_shard_streamed_in_batches_gives_the_whole_shards_result(tmp_path):
    """Rule paragraphs' and paragraphs_hash's streamed steps, in batches of 2 and 3
    documents, give the documents, rejected rows and stats of one pass (lines
    repeated within and across batches, other origins between, an index's lines)."""
    from corpusforge.io import read_parquet, run_doc_stage, write_parquet
    from corpusforge.paragraphs import BatchedApply, iter_line_hashes

    texts = [f"{LONG}\n{BOILER}", f"Line {BOILER}\n{STORY}", f"{BOILER}\n{LONG}", STORY, "x\ny"]
    rows = [(f"{i:02d}", f"{texts[i % 5]}\nDoc {i} line.\n{texts[(i * 3) % 5]}") for i in range(11)]
    frame = pd.concat([docs(rows[:8]), docs(rows[8:], origin="generated")], ignore_index=True)
    frame = frame.sort_values("id").reset_index(drop=True)
    write_parquet(frame, tmp_path / "in.parquet")
    whole_lines = shard_line_hashes(frame, CFG["apply_to"])
    for batch in (2, 3):
        lines = np.concatenate(
            list(iter_line_hashes(tmp_path / "in.parquet", CFG["apply_to"], batch))
        )
        assert np.array_equal(lines, whole_lines)
    earlier = np.array([line_hash(normalize_line(STORY.strip()))], dtype=np.uint64)
    indexed = np.unique(text_hashes("x\ny")[1])
    kept, rejects, stats = dedup_paragraphs(frame, earlier, CFG, whole_lines, indexed)
    assert len(rejects) and stats["removed_lines"] > len(rejects)
    for batch in (2, 3):
        out = [tmp_path / f"{name}{batch}" for name in ("docs", "rej", "stats")]
        # gather_batch 1000 (the least) cuts nothing here; 2 cuts the hash space in 16
        cfg = {**CFG, "gather_batch": 1000 if batch == 2 else 2}
        step = BatchedApply(whole_lines, earlier, cfg, indexed)
        streamed = run_doc_stage(step, tmp_path / "in.parquet", *out, batch_rows=batch)
        pd.testing.assert_frame_equal(
            read_parquet(out[0]), kept.astype(read_parquet(out[0]).dtypes)
        )
        assert read_parquet(out[1])["id"].tolist() == rejects["id"].tolist()
        assert {k: v for k, v in streamed.items() if k != "shard"} == stats


def test_hash_files_are_written_in_parts_and_ranges(tmp_path):
    """paragraphs_hash's files, written a part at a time and the distinct hashes a range
    of the hash space at a time: np.save's bytes of the whole arrays, whatever the range
    size; the removed lines decided range by range are the same too."""
    from corpusforge.io import write_parquet
    from corpusforge.paragraphs import hash_shard, hash_writer

    rng = np.random.default_rng(3)
    values = rng.integers(0, 2**64, size=40, dtype=np.uint64)
    values[::7] = 0
    lines = rng.choice(values, size=500)
    np.save(tmp_path / "whole.npy", lines)
    with hash_writer(tmp_path / "parts.npy") as add:
        for part in np.array_split(lines, 7):
            add(part)
    assert (tmp_path / "parts.npy").read_bytes() == (tmp_path / "whole.npy").read_bytes()
    earlier = np.unique(values[:10])
    whole = removed_mask(lines, earlier, batch=10**6)
    for batch in (1, 3, 64):
        assert np.array_equal(removed_mask(lines, earlier, batch=batch), whole)
    repeated = [x in lines[:i] for i, x in enumerate(lines)]
    expected = (np.array(repeated) | np.isin(lines, earlier)) & (lines != 0)
    assert np.array_equal(whole, expected)

    texts = [f"{LONG}\n{BOILER}", f"{BOILER}\n{STORY}", STORY, "a\nb\nc\na"]
    frame = docs([(f"{i:02d}", f"{texts[i % 4]}\nDoc {i}.") for i in range(9)])
    write_parquet(frame, tmp_path / "in.parquet")
    want = shard_line_hashes(frame, CFG["apply_to"])
    found = {}
    for batch in (1000, 2):
        out = tmp_path / f"lines{batch}.npy", tmp_path / f"hashes{batch}.npy"
        counts = hash_shard(tmp_path / "in.parquet", CFG["apply_to"], 2, *out, batch=batch)
        assert np.array_equal(load_hashes(out[0]), want)
        assert np.array_equal(load_hashes(out[1]), distinct_hashes(want))
        assert counts == (len(want), len(distinct_hashes(want)))
        found[batch] = [p.read_bytes() for p in out]
    assert found[1000] == found[2]


def test_a_streamed_shard_with_surplus_line_hashes_fails(tmp_path):
    """Line hashes of more lines than the shard's documents have (another shard's):
    the streamed step says so once the last batch is done."""
    from corpusforge.io import run_doc_stage, write_parquet
    from corpusforge.paragraphs import BatchedApply

    frame = docs([("a", f"{LONG}\n{BOILER}"), ("b", STORY)])
    write_parquet(frame, tmp_path / "in.parquet")
    lines = np.concatenate([shard_line_hashes(frame, CFG["apply_to"]), np.ones(2, np.uint64)])
    step = BatchedApply(lines, np.zeros(0, np.uint64), CFG)
    out = [tmp_path / name for name in ("docs", "rej", "stats")]
    run_doc_stage(step, tmp_path / "in.parquet", *out, batch_rows=1)
    with pytest.raises(ValueError, match="5 line hashes for 3 lines"):
        step.check_all_used()
