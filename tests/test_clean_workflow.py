"""The clean stage end to end: crafted crawl pages through a web-mode build.

One real build (mode web, one shard, no generation) in a copy of the repository:
a WET file written here holds a page with mojibake ftfy repairs, a GBK page read
as latin-1, a traditional-character news page inside site lines, a page full of
contact details, a pinyin/hanzi mix, a spam page and a page of site lines only.
Each must end where it was meant to, and no personal value may reach any file
the stage or a later one writes.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from clean_pages import (
    CAFE,
    CAFE_MOJIBAKE,
    CONTACT_PAGE,
    CONTACTS,
    EN_SITE_LINES,
    GBK_AS_LATIN1,
    PII_VALUES,
    PINYIN_MIX,
    SIMPLIFIED_NEWS,
    SPAM_EN,
    TRADITIONAL_PAGE,
)
from web_pages import GOOD_EN, wet_file
from workflow_util import (
    assert_lint_clean,
    build_with,
    copy_repo,
    final_docs,
    planned_jobs,
    seed_records,
    smk,
)

pytestmark = pytest.mark.workflow

TOMATOES = "http://garden.example/tomatoes"
KEPT = {
    TOMATOES: GOOD_EN[TOMATOES],
    "http://cafe.example/spring": CAFE_MOJIBAKE,
    "http://news.example.tw/typhoon": TRADITIONAL_PAGE,
    "http://shop.example.cn/contact": CONTACT_PAGE,
}
REJECTED = {
    "http://news.example.cn/gbk": (GBK_AS_LATIN1, "garbled_text"),
    "http://learn.example.cn/pinyin": (PINYIN_MIX, "pinyin_mixed"),
    "http://casino.example/win": (SPAM_EN, "flagged_words"),
    "http://empty.example/": ("\n".join(EN_SITE_LINES), "empty_text"),
}
CONFIG = {
    "mode": "web",
    "shards": 1,
    "seeds": {"crawl": {"kind": "documents", "source": {"path": "crawl/pages.warc.wet.gz"}}},
    "filters": {"rule_sets": []},
    "quality": {"enabled": False},
    "decontam": {"benchmarks": {}},
}


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    workdir = copy_repo(tmp_path_factory.mktemp("clean"))
    pages = {**KEPT, **{url: text for url, (text, _) in REJECTED.items()}}
    return build_with(workdir, CONFIG, wet_file(pages), "clean")


def test_each_page_ends_as_expected(build):
    final = final_docs(build).set_index("url")
    assert set(final.index) == set(KEPT)
    assert final.loc["http://cafe.example/spring", "text"] == CAFE
    typhoon = final.loc["http://news.example.tw/typhoon"]
    assert typhoon["text"] == SIMPLIFIED_NEWS and typhoon["lang"] == "zh"
    contact = final.loc["http://shop.example.cn/contact", "text"]
    assert contact.count("<PHONE>") == 3 and contact.count("<EMAIL>") == 2
    seeds = seed_records(build / "results", "crawl").set_index("url")
    rejected = pd.read_parquet(build / "results/rejected/clean/0000.parquet").set_index("id")
    for url, (_, reason) in REJECTED.items():
        row = rejected.loc[seeds.loc[url, "id"]]
        assert (row["stage"], row["reason"]) == ("clean", reason), url
    assert rejected.loc[seeds.loc["http://news.example.cn/gbk", "id"], "detail"].startswith(
        "mojibake "
    )
    docs = pd.read_parquet(build / "results/docs/clean/0000.parquet").set_index("url")
    record = docs.loc["http://news.example.tw/typhoon", "clean"]
    assert record["boilerplate_lines"] == 4 and record["chars_converted"] > 20
    assert docs.loc["http://cafe.example/spring", "clean"]["unicode_fixed"]
    counts = {kind: len(values) for kind, values in CONTACTS.items()}
    assert docs.loc["http://shop.example.cn/contact", "pii"] == counts
    # the columns travel with the documents to the last stage
    last = pd.read_parquet(build / "results/docs/dedup/0000.parquet").set_index("url")
    assert last.loc["http://shop.example.cn/contact", "pii"] == counts


def test_summary_card_and_report_show_what_clean_changed(build):
    summary = json.loads((build / "results/stats/summary.json").read_text())
    assert summary["audit"]["ok"] and summary["accounting"]["balanced"]
    stages = ["collect", "url_filter", "clean", "line_corrections", "langid"]
    assert summary["doc_stages"][:5] == stages
    clean = summary["clean"]
    assert clean["pii_by_type"] == {kind: len(values) for kind, values in CONTACTS.items()}
    assert clean["rejected_by_reason"] == {r: 1 for _, r in REJECTED.values()}
    assert clean["converted_documents"] == 1 and clean["unicode_fixed"] >= 1
    card = (build / "results/final/README.md").read_text(encoding="utf-8")
    assert "#### clean" in card and "Personal data masked in 1 document" in card
    assert "OpenCC `t2s`" in card
    assert (build / "results/report/clean.png").stat().st_size > 10_000


def test_no_personal_value_leaves_the_clean_stage(build):
    """Every file written by clean and after it: no phone, email, ID, card or IP."""
    results = build / "results"
    written = [results / "final", results / "stats", results / "report", results / "logs"]
    written += [results / "rejected/clean", results / "docs/clean", results / "docs/langid"]
    written += [results / "docs/perplexity", results / "docs/dedup"]
    files = [p for folder in written for p in folder.rglob("*") if p.is_file()]
    assert len(files) > 20
    for path in files:
        if path.suffix == ".parquet":
            text = pd.read_parquet(path).to_json(force_ascii=False)
        else:
            text = path.read_bytes().decode("utf-8", errors="replace")
        for value in PII_VALUES:
            assert value not in text, (path, value)


def test_changing_a_clean_setting_reruns_clean_and_after(build):
    assert planned_jobs(smk(build, "-n", "--configfile", "clean.yaml")) == {}
    changed = {**CONFIG, "clean": {"pii": {"mode": "drop"}}}
    (build / "changed.yaml").write_text(yaml.safe_dump(changed))
    jobs = planned_jobs(smk(build, "-n", "--configfile", "changed.yaml"))
    assert "clean" in jobs and "langid" in jobs
    assert "ingest_seed" not in jobs and "collect" not in jobs
    assert_lint_clean(build, "--configfile", "clean.yaml")
