"""The web stages of issue 13 end to end: URL filter, line corrections, paragraph dedup.

One real build (mode web, two shards, no generation) in a copy of the repository,
with the stages at their defaults: crafted crawl pages share a club notice (kept
on the first page in build order, removed from the others), one page is on the
demo blocklist (url_blocked), one is mostly share buttons and counters
(line_corrections), one has a single counter line (corrected, kept). The audit
must balance, and the summary and card show what the stages removed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from web_pages import GOOD_EN, GOOD_ZH, wet_file
from workflow_util import (
    assert_lint_clean,
    build_with,
    copy_repo,
    final_docs,
    rejected,
    seed_records,
)

pytestmark = pytest.mark.workflow

CLUB = "The Example Garden Club meets on the first Saturday of every month at the town library."
BLOCKED_URL = "http://www.free-prizes.example/claim"
BLOCKED = (
    "Lake ice forms from the top down, because water is densest at about four degrees.\n"
    "On a calm and cold night a thin clear sheet can cover a small lake in a few hours.\n"
    "Clear black ice is the strongest kind, while white ice full of air bubbles is weaker."
)
BEES = (
    "Honey bees visit thousands of flowers every day to collect nectar and pollen.\n"
    "A strong colony in summer can hold fifty thousand workers and a single queen.\n"
    "The workers share the jobs of the hive, from cleaning cells to guarding the entrance.\n"
    "Older bees fly out to forage, and they tell the others where to go with a dance.\n"
    "Beekeepers check their hives every week in spring to see that the queen is laying.\n"
    "In autumn the colony shrinks, and the bees cluster together to survive the winter."
)
LIGHT_URL = "http://bees.example/colony"
HEAVY_URL = "http://forum.example/thread/42"
WIDGETS = ["Share", "12 likes", "Sign in", "Read more", "点赞", "返回顶部"]
HEAVY = "\n".join(
    ["Home | Forum | Members | Search", *BEES.split("\n")[:3], *WIDGETS, "3 comments"]
)
PAGES = {
    **{url: f"{text}\n{CLUB}" for url, text in GOOD_EN.items()},
    **GOOD_ZH,
    BLOCKED_URL: BLOCKED,
    LIGHT_URL: f"{BEES}\n12 likes",
    HEAVY_URL: HEAVY,
}
CONFIG = {
    "mode": "web",
    "shards": 2,
    "seeds": {"crawl": {"kind": "documents", "source": {"path": "crawl/pages.warc.wet.gz"}}},
    "filters": {"rule_sets": []},
    "quality": {"enabled": False},
    "decontam": {"benchmarks": {}},
}
SHARDS = ["0000", "0001"]


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    workdir = copy_repo(tmp_path_factory.mktemp("webclean"))
    return build_with(workdir, CONFIG, wet_file(PAGES), "web")


def stage_docs(workdir: Path, stage: str) -> pd.DataFrame:
    """A stage's kept documents over all shards, in build order (shard, id)."""
    frames = [
        pd.read_parquet(workdir / f"results/docs/{stage}/{s}.parquet").assign(shard=s)
        for s in SHARDS
    ]
    return pd.concat(frames, ignore_index=True).sort_values(["shard", "id"], kind="stable")


def test_repeated_paragraph_stays_on_the_first_page_only(build):
    before = stage_docs(build, "langid")
    holders = before[before["text"].str.contains(CLUB, regex=False)]
    assert len(holders) == 3
    first = holders["url"].iloc[0]  # the first in (shard, id) order
    after = stage_docs(build, "paragraphs").set_index("url")
    for url in GOOD_EN:
        row = after.loc[url]
        if url == first:
            assert CLUB in row["text"] and row["removed_lines"] == 0
        else:
            assert CLUB not in row["text"]
            assert (row["removed_lines"], row["removed_chars"]) == (1, len(CLUB))
            assert row["text"] == GOOD_EN[url]
    final = final_docs(build).set_index("url")
    assert sum(CLUB in t for t in final["text"]) == 1
    assert set(GOOD_EN) | set(GOOD_ZH) | {LIGHT_URL} == set(final.index)


def test_blocked_domain_and_interface_page_are_rejected(build):
    seeds = seed_records(build / "results", "crawl").set_index("url")
    url_rej = rejected(build, "url_filter").set_index("id")
    row = url_rej.loc[seeds.loc[BLOCKED_URL, "id"]]
    assert (row["reason"], row["detail"]) == (
        "url_blocked",
        "blocklist demo_blocklist: free-prizes.example",
    )
    assert len(url_rej) == 1
    lc_rej = rejected(build, "line_corrections").set_index("id")
    row = lc_rej.loc[seeds.loc[HEAVY_URL, "id"]]
    assert row["reason"] == "line_corrections"
    assert "removed 8 lines" in row["detail"] and "> 5.0%" in row["detail"]
    assert row["text"] == HEAVY  # the page as it came in
    assert len(lc_rej) == 1
    corrected = stage_docs(build, "line_corrections").set_index("url")
    assert corrected.loc[LIGHT_URL, "text"] == BEES
    assert corrected.loc[LIGHT_URL, "corrected_lines"] == 1
    assert corrected.loc[LIGHT_URL, "corrected_chars"] == len("12 likes")


def test_audit_balances_and_summary_and_card_show_the_stages(build):
    summary = json.loads((build / "results/stats/summary.json").read_text())
    assert summary["audit"]["ok"] and summary["accounting"]["balanced"]
    assert summary["accounting"]["seed_rows"] == len(PAGES)
    assert summary["doc_stages"][:6] == [
        "collect",
        "url_filter",
        "clean",
        "line_corrections",
        "langid",
        "paragraphs",
    ]
    url = summary["url_filter"]
    assert url["in"] == len(PAGES) and url["rejected"] == 1 and url["no_url"] == 0
    assert url["blocked_by_list"] == {"blocklist demo_blocklist": 1}
    lc = summary["line_corrections"]
    assert lc["rejected"] == 1 and lc["corrected_lines_by_kind"] == {"counter": 1}
    para = summary["paragraphs"]
    assert para["removed_lines"] == 2 and para["removed_chars"] == 2 * len(CLUB)
    assert sorted(para["by_shard"]) == SHARDS
    assert sum(s["removed_chars"] for s in para["by_shard"].values()) == 2 * len(CLUB)
    assert para["by_lang"]["en"]["removed_chars"] == 2 * len(CLUB)
    assert para["by_lang"]["zh"]["removed_chars"] == 0
    card = (build / "results/final/README.md").read_text(encoding="utf-8")
    assert "#### paragraphs" in card and "Paragraph dedup removed 2 repeated lines" in card
    assert "#### url_filter" in card and "blocklist demo_blocklist: 1" in card
    assert "#### line_corrections" in card
    assert_lint_clean(build, "--configfile", "web.yaml")
