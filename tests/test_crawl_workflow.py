"""A web corpus from a Common Crawl-like dump: a wet.paths.gz served on 127.0.0.1.

The paths file lists three WET files and one WARC file. One WET file answers 503
before it is served, another is cut off mid-transfer on the first attempt (the
retry asks for the rest with HTTP Range); one WET file has a corrupt gzip member
in the middle. The build (mode web, no generation) must fetch each file in its
own job, keep every file's name in ``source_file`` to the final jsonl, reject the
corrupt span with its offsets, and balance the audit file by file.
"""

from __future__ import annotations

import gzip
import json

import pandas as pd
import pytest
import yaml
from web_pages import (
    GOOD_EN,
    GOOD_ZH,
    LATIN_URL,
    WARC_EN_URL,
    CrawlServer,
    member_offsets,
    warc_file,
    wet_file,
)
from workflow_util import assert_lint_clean, copy_repo, final_docs, planned_jobs, seed_records, smk

pytestmark = pytest.mark.workflow

PREFIX = "crawl-data/CC-MAIN-2099-01/segments/1/wet"
NAMES = [f"CC-MAIN-2099-0000{i}.warc.wet.gz" for i in range(3)]
WARC_NAME = "CC-MAIN-2099-00000.warc.gz"
EN = list(GOOD_EN.items())
ZH = list(GOOD_ZH.items())
EXTRA = {
    "http://tides.example/moon": (
        "The tides rise and fall twice a day because the moon pulls on the oceans.\n"
        "When the sun and the moon line up, the pull is strongest and the tides are "
        "highest.\n"
        "Sailors have used tide tables for centuries to know when a harbour is deep "
        "enough to enter.\n"
        "Along some coasts the sea can rise by more than ten metres between low and "
        "high water.\n"
        "Walking out on the flats at low tide is safe only if you know when the water "
        "comes back.\n"
        "Local guides lead groups across the sand and watch the time very carefully."
    ),
}


# Byte offsets of the corrupt gzip member of the second WET file (start, end).
BROKEN: list[int] = []


def crawl_files() -> dict[str, bytes]:
    """Three WET files (the second with a corrupt member) and a WARC file, by path."""
    first = wet_file(dict(EN[:2]))
    second = wet_file({**dict(EN[2:]), "http://broken.example/": "x " * 300, **EXTRA})
    bad, after = member_offsets(second)[2], member_offsets(second)[3]
    BROKEN[:] = [bad, after]
    broken = bytearray(second)
    for i in range(bad + 20, after - 10):
        broken[i] ^= 0x5A
    third = wet_file(dict(ZH))
    return {
        f"/{PREFIX}/{NAMES[0]}": first,
        f"/{PREFIX}/{NAMES[1]}": bytes(broken),
        f"/{PREFIX}/{NAMES[2]}": third,
        f"/{PREFIX.replace('wet', 'warc')}/{WARC_NAME}": warc_file(),
    }


def paths_file(files: dict[str, bytes]) -> bytes:
    lines = ["# a dump's listing", *[path.lstrip("/") for path in files], ""]
    return gzip.compress("\n".join(lines).encode())


def crawl_config(base_url: str, **source) -> dict:
    return {
        "mode": "web",
        "shards": 2,
        "seeds": {
            "cc": {
                "kind": "documents",
                "source": {
                    "paths_file": {"url": f"{base_url}/crawl-data/CC-MAIN-2099-01/wet.paths.gz"},
                    "base_url": f"{base_url}/",
                    "retries": 2,
                    **source,
                },
            }
        },
        "decontam": {"benchmarks": {}},
    }


@pytest.fixture(scope="module")
def crawl_build(tmp_path_factory):
    workdir = copy_repo(tmp_path_factory.mktemp("crawl"))
    files = crawl_files()
    served = {**files, "/crawl-data/CC-MAIN-2099-01/wet.paths.gz": paths_file(files)}
    with CrawlServer(served, ranges=True) as server:
        server.faults[f"/{PREFIX}/{NAMES[0]}"] = [503]
        server.faults[f"/{PREFIX}/{NAMES[2]}"] = [("cut", 300)]
        cfg = crawl_config(server.base)
        (workdir / "crawl.yaml").write_text(yaml.safe_dump(cfg))
        dry = smk(workdir, "-n", "--configfile", "crawl.yaml")
        proc = smk(workdir, "--cores", "2", "--configfile", "crawl.yaml")
        assert proc.returncode == 0, proc.stderr[-6000:]
        requests = list(server.requests)
    return workdir, files, requests, dry


def test_each_listed_file_is_fetched_by_its_own_job(crawl_build):
    workdir, files, requests, dry = crawl_build
    assert dry.returncode == 0, dry.stderr[-3000:]
    # before the paths file is fetched, the plan holds the checkpoint, not the files
    assert "seed_files" in planned_jobs(dry)
    log = (workdir / "results/logs/download_seed_file").rglob("*.log")
    assert len(list(log)) == 4
    for path, body in files.items():
        name = path.rsplit("/", 1)[1]
        assert (workdir / f"results/downloads/cc/files/{name}").read_bytes() == body
    assert not list((workdir / "results/downloads").rglob("*.part"))
    first = [r for p, r in requests if p.endswith(NAMES[0])]
    assert len(first) == 2  # 503, then the file
    cut = [r for p, r in requests if p.endswith(NAMES[2])]
    assert cut == [None, "bytes=300-"]  # cut off, then the rest with Range


def test_source_file_reaches_the_final_jsonl(crawl_build):
    workdir, *_ = crawl_build
    final = final_docs(workdir).set_index("url")
    assert set(final["source_file"]) <= {*NAMES, WARC_NAME}
    for (url, _), name in [(EN[0], NAMES[0]), (ZH[0], NAMES[2])]:
        assert final.loc[url, "source_file"] == name
    assert final.loc[WARC_EN_URL, "source_file"] == WARC_NAME
    assert final.loc["http://tides.example/moon", "source_file"] == NAMES[1]  # after the break
    assert final["charset_detected"].isna().all()


def test_the_corrupt_member_is_rejected_and_the_audit_balances_by_file(crawl_build):
    workdir, *_ = crawl_build
    rejected = pd.read_parquet(workdir / "results/rejected/seed/cc.parquet")
    unreadable = rejected[rejected["reason"] == "unreadable_record"]
    assert len(unreadable) == 1 and unreadable["source"].iloc[0] == f"cc ({NAMES[1]})"
    start, end = BROKEN
    assert unreadable["detail"].iloc[0].startswith(f"byte offset {start} to {end}:")
    seeds = seed_records(workdir / "results", "cc").set_index("url")
    assert seeds.loc[LATIN_URL, "charset_detected"] == "cp1252"
    stats = json.loads((workdir / "results/stats/seed/cc.json").read_text())
    by_file = stats["files"]
    assert list(by_file) == sorted([*NAMES, WARC_NAME])
    for name, counts in by_file.items():
        assert counts["in"] == counts["kept"] + counts["rejected"], name
        assert counts["bytes_read"] == counts["file_bytes"], name
        assert len(counts["sha256"]) == 64
    assert by_file[NAMES[1]]["rejected_by_reason"] == {"unreadable_record": 1}
    assert by_file[WARC_NAME]["rejected_by_reason"] == {"invalid_utf8": 1, "not_html": 1}
    listing = json.loads((workdir / "results/seed/cc/files.json").read_text())
    assert listing["paths_file"] == {"lines": 5, "entries": 4, "blank": 0, "comments": 1}
    summary = json.loads((workdir / "results/stats/summary.json").read_text())
    assert summary["audit"]["ok"] and summary["accounting"]["balanced"]


def test_a_rerun_does_nothing_and_limit_files_drops_files(crawl_build):
    workdir, *_ = crawl_build
    cfg = yaml.safe_load((workdir / "crawl.yaml").read_text())
    assert planned_jobs(smk(workdir, "-n", "--configfile", "crawl.yaml")) == {}
    cfg["seeds"]["cc"]["source"]["limit_files"] = 2
    (workdir / "fewer.yaml").write_text(yaml.safe_dump(cfg))
    jobs = planned_jobs(smk(workdir, "-n", "--configfile", "fewer.yaml"))
    assert jobs.get("seed_files") == 1 and "download_seed_file" not in jobs
    assert_lint_clean(workdir, "--configfile", "crawl.yaml")
