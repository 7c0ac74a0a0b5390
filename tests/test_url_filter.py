"""URL filter (corpusforge.url_filter): domain lists with subdomains, allowlist, hard and
soft URL words, lists fetched from a URL with sha256, and the shard step."""

from __future__ import annotations

import functools
import hashlib
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from corpusforge.fetch import fetch_source
from corpusforge.records import REJECT_COLUMNS
from corpusforge.schema import with_defaults
from corpusforge.url_filter import (
    UrlFilter,
    UrlFilterError,
    UrlFilterStage,
    host_of,
    read_list,
    settings,
)

ROOT = Path(__file__).resolve().parents[1]


def section_of(tmp_path: Path, lists: dict[str, tuple[str, str]], **cfg) -> tuple[dict, dict]:
    """The url_filter section and its files (name -> path) over lists written here:
    name -> (kind, file text)."""
    files, section = {}, {"lists": {}, **cfg}
    for name, (kind, text) in lists.items():
        path = tmp_path / f"{name}.txt"
        path.write_text(text, encoding="utf-8")
        files[name] = str(path)
        section["lists"][name] = {"kind": kind, "source": {"path": str(path)}}
    return with_defaults("url_filter", section), files


def make_filter(tmp_path: Path, lists: dict[str, tuple[str, str]], **cfg) -> UrlFilter:
    """A filter over lists written here: name -> (kind, file text)."""
    return settings(*section_of(tmp_path, lists, **cfg))


LISTS = {
    "spam": ("block", "# spam sites\nspam-links.invalid\nhttps://www.bad.example/x\n"),
    "more": ("block", "*.tracker.example\n"),
    "trusted": ("allow", "good.spam-links.invalid\nsexology.example\n"),
    "hard": ("hard_words", "porn\n"),
    "soft": ("soft_words", "sex\nnude\nwebcam\n"),
}


@pytest.fixture
def url_filter(tmp_path: Path) -> UrlFilter:
    return make_filter(tmp_path, LISTS)


def test_host_of_normalizes_urls_and_bare_domains():
    assert host_of("HTTP://WWW.Example.COM.:8080/a?b") == "www.example.com"
    assert host_of("*.tracker.example") == "tracker.example"
    assert host_of("example.org") == "example.org"
    assert host_of("   ") is None


def test_blocklist_matches_the_domain_and_its_subdomains_only(url_filter):
    assert url_filter.verdict("http://spam-links.invalid/page") == (
        "url_blocked",
        "blocklist spam: spam-links.invalid",
    )
    outcome, detail = url_filter.verdict("https://a.b.spam-links.invalid/")
    assert (outcome, detail) == ("url_blocked", "blocklist spam: spam-links.invalid")
    # a URL line in the list blocks its host (www.bad.example), not the parent domain
    assert url_filter.verdict("http://www.bad.example/")[0] == "url_blocked"
    assert url_filter.verdict("http://bad.example/")[0] == "passed"
    assert url_filter.verdict("http://x.tracker.example/")[1] == "blocklist more: tracker.example"
    # a longer name that merely ends with the same letters is another domain
    assert url_filter.verdict("http://notspam-links.invalid/")[0] == "passed"


def test_allowlist_skips_blocklist_and_word_scoring(url_filter):
    assert url_filter.verdict("http://good.spam-links.invalid/porn")[0] == "allowlisted"
    assert url_filter.verdict("http://www.good.spam-links.invalid/")[0] == "allowlisted"
    assert url_filter.verdict("http://sexology.example/sex-nude-webcam")[0] == "allowlisted"


def test_hard_word_rejects_alone_and_soft_words_above_the_count(url_filter):
    assert url_filter.verdict("http://videos.example/free-porn-today") == (
        "url_blocked",
        "hard_words hard: porn",
    )
    # words are whole runs of letters and digits: "pornography" is not "porn"
    assert url_filter.verdict("http://history.example/pornography-laws")[0] == "passed"
    assert url_filter.verdict("http://health.example/sex-education")[0] == "passed"
    outcome, detail = url_filter.verdict("http://cams.example/nude/sex?x=1")
    assert outcome == "url_blocked"
    assert detail == "soft_words soft: 2 > 1 (nude, sex)"
    # the same word twice counts once
    assert url_filter.verdict("http://a.example/sex/sex")[0] == "passed"


def test_max_soft_words_is_configurable(tmp_path):
    lenient = make_filter(tmp_path, {"soft": ("soft_words", "sex\nnude\n")}, max_soft_words=2)
    assert lenient.verdict("http://a.example/nude-sex")[0] == "passed"


def test_bad_list_files_are_named(tmp_path):
    bad = tmp_path / "words.txt"
    bad.write_text("two words\n")
    with pytest.raises(UrlFilterError, match=r"url_filter.lists.w: .*words.txt line 1"):
        read_list(bad, "soft_words", "url_filter.lists.w")
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n\n")
    with pytest.raises(UrlFilterError, match="lists nothing"):
        read_list(empty, "block", "url_filter.lists.e")
    with pytest.raises(UrlFilterError, match="cannot read"):
        read_list(tmp_path / "missing.txt", "block", "url_filter.lists.m")


def test_demo_lists_block_only_reserved_names():
    """The shipped demo blocklist names .example / .invalid domains only."""
    cfg = with_defaults("url_filter")
    files = {name: str(ROOT / item["source"]["path"]) for name, item in cfg["lists"].items()}
    demo = settings(cfg, files)
    domains = next(iter(demo.block.values()))
    assert domains and all(d.endswith((".example", ".invalid")) for d in domains)
    assert demo.verdict("http://www.free-prizes.example/claim")[0] == "url_blocked"
    assert demo.verdict("http://garden.example/tomatoes")[0] == "passed"


def test_the_stage_rejects_blocked_and_passes_documents_without_url(tmp_path):
    section, files = section_of(tmp_path, LISTS)
    # the rule's inputs: list_<name> -> the list's local file
    stage = UrlFilterStage(section, {f"list_{name}": path for name, path in files.items()})
    docs = pd.DataFrame(
        {
            "id": ["d4", "d1", "d3", "d2", "d5"],
            "seed_id": ["d4", "d1", "d3", "d2", "d5"],
            "text": ["a", "b", "c", "d", "e"],
            "url": [
                "http://spam-links.invalid/",
                None,
                "http://garden.example/",
                "http://videos.example/porn",
                "http://good.spam-links.invalid/",
            ],
        }
    )
    kept, rejects, stats = stage(docs)
    assert kept["id"].tolist() == ["d1", "d3", "d5"]
    assert list(rejects.columns) == REJECT_COLUMNS
    assert rejects["id"].tolist() == ["d2", "d4"]
    assert set(rejects["reason"]) == {"url_blocked"}
    assert rejects["detail"].tolist() == [
        "hard_words hard: porn",
        "blocklist spam: spam-links.invalid",
    ]
    assert stats["in"] == 5 and stats["kept"] == 3 and stats["rejected"] == 2
    assert (stats["no_url"], stats["allowlisted"], stats["passed"]) == (1, 1, 1)
    assert stats["blocked_by_list"] == {"blocklist spam": 1, "hard_words hard": 1}
    # no url column at all (generated documents): everything passes, counted
    kept, rejects, stats = stage(docs.drop(columns="url"))
    assert len(kept) == 5 and rejects.empty and stats["no_url"] == 5


# ---------------------------------------------------------------- a list from a URL


@pytest.fixture
def served(tmp_path: Path):
    """A folder served over HTTP on 127.0.0.1 (its base URL)."""
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=root))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


# every test here talks to servers on 127.0.0.1 (conftest.no_proxy)
pytestmark = pytest.mark.usefixtures("no_proxy")


def test_blocklist_from_a_url_with_sha256(served, tmp_path):
    root, base = served
    data = b"# served list\nserved-spam.example\n"
    (root / "domains").write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    cfg = with_defaults(
        "url_filter",
        {"lists": {"ut1": {"kind": "block", "source": {"url": f"{base}/domains", "sha256": sha}}}},
    )
    with pytest.raises(UrlFilterError, match=r"url_filter\.lists\.ut1\.source"):
        settings(cfg)  # a remote list must be fetched first
    local = fetch_source(cfg["lists"]["ut1"]["source"], tmp_path / "lists/ut1/domains")
    flt = settings(cfg, {"ut1": str(local)})
    assert flt.verdict("http://www.served-spam.example/")[1] == "blocklist ut1: served-spam.example"
    # a list that changed on the server no longer matches its pinned sha256
    (root / "domains").write_bytes(data + b"another.example\n")
    with pytest.raises(Exception, match=r"(?i)sha256"):
        fetch_source(cfg["lists"]["ut1"]["source"], tmp_path / "again/domains")
    assert not (tmp_path / "again/domains").exists()
