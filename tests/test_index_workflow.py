"""Crawl by crawl: two builds against one dedup index (issue 25), end to end.

Build 1 (mode web, no generation) reads dump A and joins an empty index. Build 2 reads
dump B, a glob of two WET files holding an exact copy and a near copy of A's pages, a
page that repeats one line of A, and new pages. Build 2 must reject exactly the copies
as seen_in_index, each naming the page it matched in A, remove the repeated line, keep
the new pages, and leave an index whose published version holds both builds (version 1
still readable). A third file added to B's glob reruns only its own ingest job and the
build-wide steps; an index made with other MinHash parameters is refused before any job.
"""

from __future__ import annotations

import json
import os
import re
import socket

import numpy as np
import pandas as pd
import pytest
import yaml
from web_pages import GOOD_EN, GOOD_ZH, wet_file
from workflow_util import (
    Background,
    assert_lint_clean,
    copy_repo,
    planned_jobs,
    refused,
    seed_records,
    smk,
)

from corpusforge.dedup.index import current_version, open_segments, publish_lock, read_manifest

pytestmark = pytest.mark.workflow

EN = list(GOOD_EN)
GARDEN, PRINTING, CYCLING = EN
REPEATED = GOOD_EN[CYCLING].split("\n")[0]
TIDES = (
    "The tides rise and fall twice a day because the moon pulls on the oceans.\n"
    "When the sun and the moon line up, the pull is strongest and the tides are highest.\n"
    "Sailors have used tide tables for centuries to know when a harbour is deep enough "
    "to enter.\n"
    "Along some coasts the sea can rise by more than ten metres between low and high water."
)
NEAR = (
    GOOD_EN[PRINTING]
    .replace("through Europe", "across Europe")
    .replace("hundreds of identical", "many hundreds of identical")
)
DUMP_A = dict(GOOD_EN)
DUMP_B = {
    "http://copy.example/tomatoes": GOOD_EN[GARDEN],  # exact copy
    "http://copy.example/printing": NEAR,  # near copy
    "http://tides.example/moon": f"{TIDES}\n{REPEATED}",  # one repeated line
    **GOOD_ZH,  # a new page
}
ZH = list(GOOD_ZH)


def dump_config(seed: str, source: dict, results: str, **index) -> dict:
    return {
        "mode": "web",
        "results": results,
        "shards": 2,
        "seeds": {seed: {"kind": "documents", "source": source}},
        "filters": {"rule_sets": []},
        "quality": {"enabled": False},
        "decontam": {"benchmarks": {}},
        "dedup": {"index": {"path": "index", **index}},
    }


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    workdir = copy_repo(tmp_path_factory.mktemp("index"))
    (workdir / "dumps/b").mkdir(parents=True)
    (workdir / "dumps/a.warc.wet.gz").write_bytes(wet_file(DUMP_A))
    pages_b = list(DUMP_B.items())
    (workdir / "dumps/b/00.warc.wet.gz").write_bytes(wet_file(dict(pages_b[:2])))
    (workdir / "dumps/b/01.warc.wet.gz").write_bytes(wet_file(dict(pages_b[2:])))
    a = dump_config("dump_a", {"path": "dumps/a.warc.wet.gz"}, "results-a", name="cc-a")
    b = dump_config("dump_b", {"glob": "dumps/b/*.warc.wet.gz"}, "results-b", name="cc-b")
    (workdir / "a.yaml").write_text(yaml.safe_dump(a))
    (workdir / "b.yaml").write_text(yaml.safe_dump(b))
    proc = smk(workdir, "--cores", "2", "--configfile", "a.yaml")
    assert proc.returncode == 0, proc.stderr[-6000:]
    # build 2 is killed while its index_update job waits for the index's publish lock
    # (held here, as another build publishing would hold it), then run again
    (workdir / "killed.json").write_text(json.dumps(killed_while_publishing(workdir)))
    assert smk(workdir, "--unlock", "--configfile", "b.yaml").returncode == 0
    proc = smk(workdir, "--cores", "2", "--rerun-incomplete", "--configfile", "b.yaml")
    assert proc.returncode == 0, proc.stderr[-6000:]
    return workdir


def killed_while_publishing(workdir) -> dict:
    """Run build 2 until its index_update job waits for the lock, kill the whole
    build (SIGKILL), and say what the index and the build's outputs were then."""
    index, log = workdir / "index", workdir / "results-b/logs/index_update/all.log"
    with publish_lock(index):
        build = Background(
            workdir, "--cores", "2", "--configfile", "b.yaml", output=workdir / "killed-build.log"
        )
        try:
            build.wait_until(
                lambda: log.exists() and "waiting for the publish lock" in log.read_text(),
                "index_update never reached the lock",
            )
        finally:
            build.kill()
    return {
        "waited": log.read_text(),
        "current": current_version(index),
        "versions": sorted(p.name for p in index.glob("v*.json")),
        "segments": sorted(p.name for p in (index / "segments").iterdir()),
        "published": (workdir / "results-b/index/published.json").exists(),
        "ids_v1": open_segments([{"path": str(index), "version": "v0001"}])[0].ids(np.arange(3)),
    }


def test_build_1_joins_an_empty_index(builds):
    manifest = read_manifest(builds / "index", "v0001")
    assert manifest["parent"] is None and manifest["joined"] == "cc-a"
    (segment,) = manifest["segments"]
    assert segment["build"] == "cc-a" and segment["documents"] == 3
    assert segment["lines"] == sum(len(t.split("\n")) for t in DUMP_A.values())
    assert manifest["params"]["num_perm"] == 128 and manifest["params"]["bands"] == 21
    assert len(segment["config_hash"]) == 64
    stats = json.loads((builds / "results-a/stats/index/0000.json").read_text())
    assert stats["indexes"] == []


def test_build_2_rejects_exactly_the_copies_naming_their_match(builds):
    seeds_a = seed_records(builds / "results-a", "dump_a").set_index("url")
    rejected = pd.concat(
        [pd.read_parquet(p) for p in sorted((builds / "results-b/rejected/index").glob("*"))]
    )
    seeds_b = seed_records(builds / "results-b", "dump_b").set_index("id")
    assert set(rejected["reason"]) == {"seen_in_index"}
    urls = {seeds_b.loc[r.id, "url"]: json.loads(r.detail) for r in rejected.itertuples()}
    assert set(urls) == {"http://copy.example/tomatoes", "http://copy.example/printing"}
    exact, near = urls["http://copy.example/tomatoes"], urls["http://copy.example/printing"]
    assert exact["build"] == near["build"] == "cc-a"
    assert exact["match"] == "exact" and exact["matched_id"] == seeds_a.loc[GARDEN, "id"]
    assert near["match"] == "near" and near["matched_id"] == seeds_a.loc[PRINTING, "id"]
    assert 0.7 < near["jaccard"] < 1.0
    final = pd.DataFrame(
        [
            json.loads(line)
            for path in sorted((builds / "results-b/final").rglob("*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines()
        ]
    ).set_index("url")
    assert set(final.index) == {"http://tides.example/moon", *ZH}
    assert REPEATED not in final.loc["http://tides.example/moon", "text"]
    assert final.loc["http://tides.example/moon", "text"].startswith(TIDES.split("\n")[0])


def test_summary_and_card_show_what_the_index_removed(builds):
    summary = json.loads((builds / "results-b/stats/summary.json").read_text())
    assert summary["audit"]["ok"] and summary["accounting"]["balanced"]
    index = summary["index"]
    assert index["documents_removed"] == 2
    assert index["documents_removed_by_build"] == {"cc-a": 2}
    assert index["documents_removed_by_match"] == {"exact": 1, "near": 1}
    assert index["lines_removed"] == 1
    assert index["indexes"] == [{"path": "index", "version": "v0001"}]
    card = (builds / "results-b/final/README.md").read_text()
    assert "2 documents removed as seen in an earlier build" in card
    assert "| cc-a | 2 |" in card


def test_the_index_holds_both_builds_and_version_1_stays_readable(builds):
    index = builds / "index"
    assert current_version(index) == "v0002"
    manifest = read_manifest(index, "v0002")
    assert manifest["parent"] == "v0001"
    assert [s["build"] for s in manifest["segments"]] == ["cc-a", "cc-b"]
    assert manifest["segments"][1]["documents"] == 2  # the tides page and the zh page
    published = json.loads((builds / "results-b/index/published.json").read_text())
    assert published["version"] == "v0002"
    assert read_manifest(index, "v0001")["segments"][0]["documents"] == 3
    # reruns do nothing: neither build finds itself in the index it joined
    for cfg in ("a.yaml", "b.yaml"):
        assert planned_jobs(smk(builds, "-n", "--configfile", cfg)) == {}, cfg


def test_a_build_killed_while_publishing_leaves_version_1_published(builds):
    killed = json.loads((builds / "killed.json").read_text())
    holder = f"held by {socket.gethostname()} pid {os.getpid()}"  # this test process
    assert f"index index: waiting for the publish lock, {holder}" in killed["waited"]
    assert killed["current"] == "v0001" and killed["versions"] == ["v0001.json"]
    assert not killed["published"]
    assert sorted(killed["ids_v1"]) == sorted(seed_records(builds / "results-a", "dump_a")["id"])
    # the killed job had written its segment, not yet named or published
    assert [s for s in killed["segments"] if not s.startswith(".tmp-cc-b.")] == ["v0001-cc-a"]
    assert len(killed["segments"]) == 2
    # version 1 was whole: the rerun was checked against it (the copies above)
    # and published over it
    manifest = read_manifest(builds / "index", "v0002")
    assert manifest["segments"][1]["checked_against"] == "v0001"


def test_a_new_file_reruns_only_its_own_ingest(builds):
    pages = {"http://new.example/bees": TIDES.replace("moon", "Moon")}
    (builds / "dumps/b/02.warc.wet.gz").write_bytes(wet_file(pages))
    # the seed's records: the new file's ingest job, then the seed's keys, its two
    # shards and its stats (a glob is listed when the workflow starts: no checkpoint)
    proc = smk(builds, "results-b/stats/seed/dump_b.json", "--cores", "2", "--configfile", "b.yaml")
    assert proc.returncode == 0, proc.stderr[-3000:]
    ran = re.findall(
        r"^\s*(?:local)?(?:rule|checkpoint) (\w+):", proc.stdout + proc.stderr, re.MULTILINE
    )
    assert sorted(ran) == ["ingest_seed", "ingest_seed_file", "seed_keys"] + ["seed_shard"] * 2
    assert "file=02.warc.wet.gz" in proc.stdout + proc.stderr
    # then the stages of the one shard the new page went to (the other shard's seed
    # records came out the same bytes: Snakemake compares the checksums of files
    # under 1 MB), the build-wide steps, and the list written again for the record
    jobs = planned_jobs(smk(builds, "-n", "--configfile", "b.yaml"))
    assert "ingest_seed_file" not in jobs and "seed_files" not in jobs
    assert jobs["list_seed_files"] == 1
    assert jobs["collect"] == 1 and jobs["index_check"] == 1 and jobs["index_update"] == 1


def test_other_minhash_parameters_are_refused_before_any_job(builds):
    cfg = yaml.safe_load((builds / "b.yaml").read_text())
    cfg["dedup"]["num_perm"] = 64
    cfg["dedup"]["bands"], cfg["dedup"]["rows"] = 16, 4
    (builds / "other.yaml").write_text(yaml.safe_dump(cfg))
    text = refused(builds, "--configfile", "other.yaml")
    assert "dedup.bands = 21" in text and "dedup.bands = 16" in text
    assert "dedup.index.path: the index index (v0001)" in text  # b: as before it joined
    assert_lint_clean(builds, "--configfile", "b.yaml")
