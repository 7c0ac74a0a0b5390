"""The dedup index (corpusforge.dedup.index): publish, check, versions, parameters."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from corpusforge.dedup import settings
from corpusforge.dedup.index import (
    DedupIndexError,
    base_version,
    current_version,
    key_params,
    lines_in_index,
    open_segments,
    publish,
    read_manifest,
    resolve,
)
from corpusforge.dedup.index_jobs import IndexCheckStage, shard_keys, update_job
from corpusforge.io import write_parquet
from corpusforge.paragraphs import shard_line_hashes
from corpusforge.schema import with_defaults

WORDS = [
    "river",
    "stone",
    "bridge",
    "lantern",
    "harvest",
    "meadow",
    "copper",
    "window",
    "thunder",
    "orchard",
    "violin",
    "glacier",
    "pepper",
    "saddle",
    "marble",
    "compass",
    "falcon",
    "harbor",
    "timber",
    "candle",
    "velvet",
    "basket",
    "canyon",
    "feather",
    "ladder",
    "mirror",
    "pillow",
    "quarry",
    "rocket",
    "shadow",
    "tunnel",
    "walnut",
]


def text(seed: int, n_words: int = 120) -> str:
    """A document of random words, in lines of 12 words."""
    rng = np.random.default_rng(seed)
    words = [WORDS[i] for i in rng.integers(0, len(WORDS), n_words)]
    return "\n".join(" ".join(words[i : i + 12]) for i in range(0, n_words, 12))


def docs(texts: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {"id": list(texts), "text": list(texts.values()), "origin": "web", "lang": "en"}
    )


@pytest.fixture(scope="module")
def cfg() -> dict:
    dedup = settings({k: v for k, v in with_defaults("dedup").items() if k != "index"})
    return {**dedup, "max_matches": 16}


def join(path: Path, build: str, frame: pd.DataFrame, cfg: dict) -> dict:
    """Publish a build's documents (all kept) and lines, as index_update does."""
    keys, meta, sig = shard_keys(frame, cfg)
    keys = keys[~keys["short"]].reset_index(drop=True)
    signed = np.flatnonzero(keys["id"].isin(set(meta["id"])).to_numpy())
    return publish(
        path,
        build,
        key_params(cfg),
        keys["id"].tolist(),
        keys["exact_hash"].to_numpy(np.uint64),
        sig,
        signed,
        shard_line_hashes(frame, ["web"]),
        {"config_hash": "test"},
    )


def dump_a() -> pd.DataFrame:
    return docs({f"a{i}": text(i) for i in range(6)})


def check_docs(frame: pd.DataFrame, cfg: dict, read: list[dict]):
    """Rule index_check's stage over ``frame``: (kept, rejected rows, stats)."""
    return IndexCheckStage({**cfg, "read": read})(frame)


def read_current(path: Path) -> list[dict]:
    return [{"path": str(path), "version": current_version(path)}]


def test_a_build_finds_copies_of_indexed_documents_and_names_them(tmp_path, cfg):
    index = tmp_path / "index"
    join(index, "dump-a", dump_a(), cfg)
    a = dump_a().set_index("id")["text"]
    near = a["a1"].replace("river", "ocean", 1).replace("stone", "pebble", 1)
    b = docs(
        {
            "b0": a["a0"].upper() + "!",  # same normalized text: exact
            "b1": near,
            "b2": text(100),
            "b3": text(101),
        }
    )
    kept, rejects, stats, *_ = check_docs(b, cfg, read_current(index))
    assert sorted(kept["id"]) == ["b2", "b3"]
    assert sorted(rejects["id"]) == ["b0", "b1"]
    assert set(rejects["reason"]) == {"seen_in_index"}
    detail = {r.id: json.loads(r.detail) for r in rejects.itertuples()}
    assert detail["b0"]["matched_id"] == "a0" and detail["b0"]["match"] == "exact"
    assert detail["b1"]["matched_id"] == "a1" and detail["b1"]["match"] == "near"
    assert detail["b1"]["build"] == "dump-a" and detail["b1"]["jaccard"] < 1.0
    assert stats["seen_by_build"] == {"dump-a": 2}
    assert stats["seen_by_match"] == {"exact": 1, "near": 1}
    # nothing is found in an empty index
    kept, rejects, *_ = check_docs(b, cfg, [])
    assert len(kept) == 4 and rejects.empty


def test_lines_of_indexed_builds_are_found(tmp_path, cfg):
    index = tmp_path / "index"
    join(index, "dump-a", dump_a(), cfg)
    a_lines = shard_line_hashes(dump_a(), ["web"])
    other = shard_line_hashes(docs({"x": text(500)}), ["web"])
    query = np.concatenate([a_lines[:3], other])
    found = lines_in_index(query, open_segments(read_current(index)))
    assert set(found.tolist()) == set(a_lines[:3].tolist())


def test_versions_chain_and_a_build_is_not_checked_against_itself(tmp_path, cfg):
    index = tmp_path / "index"
    assert base_version(index, "dump-a") is None
    first = join(index, "dump-a", dump_a(), cfg)
    assert first["version"] == "v0001" and current_version(index) == "v0001"
    assert base_version(index, "dump-a") is None  # a rerun of a: as before it joined
    assert base_version(index, "dump-b") == "v0001"
    join(index, "dump-b", docs({"b": text(7)}), cfg)
    assert current_version(index) == "v0002"
    assert base_version(index, "dump-b") == "v0001"
    manifest = read_manifest(index, "v0002")
    assert [s["build"] for s in manifest["segments"]] == ["dump-a", "dump-b"]
    assert manifest["segments"][0]["documents"] == 6 and manifest["segments"][0]["lines"] > 0
    # the same build published again replaces its own segment
    join(index, "dump-b", docs({"b": text(7), "c": text(8)}), cfg)
    manifest = read_manifest(index, "v0003")
    assert [s["build"] for s in manifest["segments"]] == ["dump-a", "dump-b"]
    assert manifest["segments"][1]["documents"] == 2


def test_other_parameters_fail_naming_the_key_and_both_values(tmp_path, cfg):
    index = tmp_path / "index"
    join(index, "dump-a", dump_a(), cfg)
    other = {**cfg, "num_perm": 64, "bands": 8, "rows": 8}
    with pytest.raises(DedupIndexError, match=r"dedup\.bands = 21.*dedup\.bands = 8"):
        resolve({"path": str(index), "update": True}, other, "dump-b")
    with pytest.raises(DedupIndexError, match=r"check\[0\].*dedup\.word_ngram = 5.*= 3"):
        resolve({"check": [str(index)]}, {**cfg, "word_ngram": 3}, "dump-b")
    with pytest.raises(DedupIndexError, match="holds no index"):
        resolve({"check": [str(tmp_path / "none")]}, cfg, "dump-b")
    resolved = resolve({"path": str(index)}, cfg, "dump-b")
    assert resolved["read"] == [{"path": str(index), "version": "v0001"}]
    assert resolved["update"] == {"path": str(index), "build": "dump-b", "checked_against": "v0001"}
    assert resolve({"path": str(index), "update": False}, cfg, "dump-b")["update"] is None


def _publish_then_hang(path: str, ready: str) -> None:
    """Child process: publish, but stop for good halfway through writing the segment."""
    import threading

    import corpusforge.dedup.index as index

    write = index._save
    calls = {"n": 0}

    def save(dest, array):
        write(dest, array)
        calls["n"] += 1
        if calls["n"] == 20:
            Path(ready).write_text("halfway")
            threading.Event().wait()

    index._save = save
    dedup = settings({k: v for k, v in with_defaults("dedup").items() if k != "index"})
    join(Path(path), "dump-b", docs({"b0": text(3), "b1": text(4)}), dedup)


def test_a_killed_update_leaves_the_previous_version_whole(tmp_path, cfg):
    index = tmp_path / "index"
    join(index, "dump-a", dump_a(), cfg)
    ready = tmp_path / "ready"
    proc = multiprocessing.get_context("fork").Process(
        target=_publish_then_hang, args=(str(index), str(ready))
    )
    proc.start()
    while not ready.exists() and proc.is_alive():
        proc.join(0.05)
    assert ready.exists(), "the child never reached the middle of the update"
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    assert current_version(index) == "v0001"
    assert not (index / "v0002.json").exists()
    assert [p.name for p in (index / "segments").iterdir() if not p.name.startswith(".")] == [
        "v0001-dump-a"
    ]
    a = dump_a()
    kept, rejects, *_ = check_docs(a.assign(id="copy-" + a["id"]), cfg, read_current(index))
    assert kept.empty and len(rejects) == 6
    # the next update publishes over the leftovers
    join(index, "dump-b", docs({"b": text(9)}), cfg)
    assert current_version(index) == "v0002"


def _join_at_once(path: str, build: str, seed: int, barrier) -> None:
    """Child process: join the index as soon as every child is ready."""
    dedup = settings({k: v for k, v in with_defaults("dedup").items() if k != "index"})
    frame = docs({f"{build}-{i}": text(seed + i) for i in range(3)})
    barrier.wait()
    join(Path(path), build, frame, dedup)


def test_builds_publishing_at_once_take_turns_and_none_is_lost(tmp_path, cfg):
    index = tmp_path / "index"
    join(index, "dump-a", dump_a(), cfg)
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(4)
    builds = [f"dump-{c}" for c in "bcde"]
    procs = [
        ctx.Process(target=_join_at_once, args=(str(index), b, 100 * (k + 1), barrier))
        for k, b in enumerate(builds)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
        assert proc.exitcode == 0
    # five versions, each the child of the one before: every build is in the last
    assert current_version(index) == "v0005"
    chain = [read_manifest(index, f"v{n:04d}") for n in range(1, 6)]
    assert [m["parent"] for m in chain] == [None, "v0001", "v0002", "v0003", "v0004"]
    joined = [m["joined"] for m in chain[1:]]
    assert sorted(joined) == builds
    assert [s["build"] for s in chain[-1]["segments"]] == ["dump-a", *joined]
    assert (index / "LOCK").read_text() == ""  # released, no holder named
    # each build's documents are found through the published version
    for k, build in enumerate(builds):
        copies = docs({f"copy-{i}": text(100 * (k + 1) + i) for i in range(3)})
        _, rejects, _ = check_docs(copies, cfg, read_current(index))
        assert len(rejects) == 3
        assert {json.loads(d)["build"] for d in rejects["detail"]} == {build}


def test_the_update_streams_the_final_documents_with_the_same_segment(tmp_path, cfg):
    """index_update a few final documents at a time writes the segment that one
    batch of the whole build writes (the same keys, refs, signatures and lines)."""
    finals, keys, sigs, whole = [], [], [], []
    for k in range(2):
        texts = {f"s{k}-{i:02d}": text(50 * k + i) for i in range(7)}
        texts[f"s{k}-07"] = "too short"  # no keys in the index
        frame = docs(texts)
        stage = IndexCheckStage({**cfg, "read": []})
        out = SimpleNamespace(
            hashes=tmp_path / f"keys{k}.parquet", signatures=tmp_path / f"sig{k}.parquet"
        )
        stage.open_outputs(out)
        stage(frame.iloc[:4])  # two batches, as a job streams them
        stage(frame.iloc[4:])
        stage.write_outputs(out)
        stage.close()
        final = frame.iloc[[0, 2, 3, 5, 6, 7]].reset_index(drop=True)  # later stages drop some
        write_parquet(final, tmp_path / f"final{k}.parquet")
        finals.append(tmp_path / f"final{k}.parquet")
        keys.append(out.hashes)
        sigs.append(out.signatures)
        whole.append(final)
    settings = {"params": key_params(cfg), "config_hash": "test", "line_origins": ["web"]}
    for batch in (1, 2, 1000):
        update = {"path": str(tmp_path / f"index-{batch}"), "build": "b", "checked_against": None}
        result = update_job(
            finals, keys, sigs, {**settings, "update": update}, tmp_path / "p.json", batch
        )
        assert result["segment"]["documents"] == 10 and result["segment"]["signed"] == 10
    join(tmp_path / "index-one", "b", pd.concat(whole, ignore_index=True), cfg)
    segments = {
        name: tmp_path / name / "segments/v0001-b"
        for name in ("index-1", "index-2", "index-1000", "index-one")
    }
    files = sorted(
        p.relative_to(segments["index-one"]) for p in segments["index-one"].rglob("*.npy")
    )
    assert len(files) == 16 * 3 + 21 * 2 + 1
    for name, folder in segments.items():
        for rel in files:
            assert (folder / rel).read_bytes() == (segments["index-one"] / rel).read_bytes(), (
                name,
                rel,
            )
        ids = pd.read_parquet(folder / "docs.parquet")["id"].tolist()
        assert ids == [i for f in whole for i in f["id"] if not i.endswith("-07")]
    assert not list((tmp_path / "index-2" / "segments").glob("*/.spill"))


def test_several_indexes_are_read_and_each_match_names_its_own(tmp_path, cfg):
    join(tmp_path / "one", "dump-a", dump_a(), cfg)
    join(tmp_path / "two", "dump-c", docs({f"c{i}": text(200 + i) for i in range(3)}), cfg)
    read = resolve({"path": str(tmp_path / "one"), "check": [str(tmp_path / "two")]}, cfg, "b")
    assert [r["path"] for r in read["read"]] == [str(tmp_path / "one"), str(tmp_path / "two")]
    b = docs({"b0": text(2), "b1": text(201), "b2": text(300)})
    kept, rejects, stats, *_ = check_docs(b, cfg, read["read"])
    assert kept["id"].tolist() == ["b2"]
    detail = {r.id: json.loads(r.detail) for r in rejects.itertuples()}
    assert (detail["b0"]["build"], detail["b0"]["matched_id"]) == ("dump-a", "a2")
    assert (detail["b1"]["build"], detail["b1"]["matched_id"]) == ("dump-c", "c1")
    assert detail["b1"]["index"] == str(tmp_path / "two")
    assert stats["seen_by_build"] == {"dump-a": 1, "dump-c": 1}
