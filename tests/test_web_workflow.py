"""Web mode end to end: WARC/WET seeds beside generated documents (mode both).

One real build in a copy of the repository: the default extracts (sampled to 8)
are generated with vLLM, and crafted Common Crawl files written here go through
language ID, the heuristic filters, perplexity, dedup, decontamination against a
benchmark file written here, and the mix stage. Every page must end where it was
meant to, with the stage and reason recorded.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from web_pages import (
    CONTAMINATED_URL,
    FILTERED,
    FRENCH_URL,
    GOOD_EN,
    GOOD_ZH,
    NEAR_DUP_URL,
    QUIZ_LINE,
    WARC_EN_URL,
    crawl_pages,
    warc_file,
    wet_file,
)
from workflow_util import (
    ROOT,
    assert_lint_clean,
    copy_repo,
    final_docs,
    planned_jobs,
    refused,
    rejected,
    seed_records,
    smk,
)

from corpusforge.filters import filter_text, settings
from corpusforge.schema import with_defaults

CUT_TEXT = "A short note about the weather in the mountains this week."


def write_inputs(workdir: Path) -> None:
    """The crawl files and the benchmark file, as a user would download them."""
    crawl = workdir / "crawl"
    crawl.mkdir(exist_ok=True)
    (crawl / "pages.warc.wet.gz").write_bytes(wet_file(crawl_pages()))
    (crawl / "pages.warc.gz").write_bytes(warc_file())
    cut = wet_file({"http://cut.example/a": CUT_TEXT, "http://cut.example/b": "x " * 400})
    (crawl / "cut.warc.wet.gz").write_bytes(cut[:-40])
    quiz = [{"question": QUIZ_LINE, "answer": "Jupiter"}, {"question": "2+2?", "answer": "4"}]
    (workdir / "quiz.jsonl").write_text("".join(json.dumps(q) + "\n" for q in quiz))


def web_config(**extra) -> dict:
    documents = {"kind": "documents"}
    # A user's seeds replace the default config's: the demo extracts are named in full.
    demo = yaml.safe_load((ROOT / "config/config.yaml").read_text())["seeds"]["default"]
    return {
        "mode": "both",
        "seeds": {
            # read by three jobs side by side; the sample is drawn over the pieces
            "default": {**demo, "sample": {"n": 8, "seed": 0}, "pieces": 3},
            "wet": {**documents, "source": {"path": "crawl/pages.warc.wet.gz"}},
            "warc": {**documents, "source": {"path": "crawl/pages.warc.gz"}},
            "cut": {**documents, "source": {"path": "crawl/cut.warc.wet.gz"}},
        },
        "decontam": {
            "benchmarks": {"quiz": {"source": {"path": "quiz.jsonl"}, "text_fields": ["question"]}}
        },
        # The spam pages are for the Gopher, C4 and SlimPajama rules here: CC-NET
        # paragraph dedup and the quality classifier would take some of them first
        # (they have end-to-end tests of their own: test_web_cleaning_workflow.py,
        # and the default build for quality).
        "dedup": {"paragraphs": {"enabled": False}},
        "quality": {"enabled": False},
        **extra,
    }


def write_config(workdir: Path, cfg: dict) -> str:
    (workdir / "web.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return "web.yaml"


@pytest.fixture(scope="module")
def web_build(tmp_path_factory):
    workdir = copy_repo(tmp_path_factory.mktemp("web"))
    write_inputs(workdir)
    cfg = write_config(workdir, web_config())
    proc = smk(workdir, "--cores", "2", "--configfile", cfg)
    assert proc.returncode == 0, proc.stderr[-6000:]
    return workdir


def seed_ids_by_url(workdir: Path) -> dict[str, str]:
    seeds = [seed_records(workdir / "results", s) for s in ("wet", "warc")]
    frame = pd.concat(seeds, ignore_index=True)
    return dict(zip(frame["url"], frame["seed_id"], strict=True))


def test_crafted_pages_meet_their_filter():
    """The pages meant to pass do pass the filters, the others fail the named rule."""
    resolved = settings(with_defaults("filters"))
    for url, text in {**GOOD_EN, **GOOD_ZH}.items():
        assert filter_text(text, "zh" if url in GOOD_ZH else "en", resolved).verdict is None
    for text, reason in FILTERED.values():
        assert filter_text(text, "en", resolved).verdict[0] == reason


def test_web_pages_reach_the_corpus_with_provenance(web_build):
    final = final_docs(web_build)
    web = final[final["origin"] == "web"].set_index("url")
    expected = {*GOOD_EN, *GOOD_ZH, WARC_EN_URL}
    assert expected <= set(web.index)
    assert set(web.index) - expected <= {NEAR_DUP_URL, "http://garden.example/tomatoes"}
    assert web.loc[WARC_EN_URL, "text"].startswith("Lake ice forms")
    assert "All rights reserved" not in web.loc[WARC_EN_URL, "text"]  # boilerplate
    assert web["warc_date"].notna().all() and web["record_id"].str.startswith("<urn:").all()
    assert web.loc["http://tea.example/green", "lang"] == "zh"
    assert web["token_length"].gt(20).all() and web["bucket"].notna().all()
    generated = final[final["origin"] == "generated"]
    assert len(generated) > 0 and generated["prompt"].notna().all()
    assert generated["url"].isna().all()


def test_every_other_page_is_rejected_with_stage_and_reason(web_build):
    ids = seed_ids_by_url(web_build)
    rej = rejected(web_build).drop_duplicates("seed_id").set_index("seed_id")

    def fate(url):
        row = rej.loc[ids[url]]
        return row["stage"], row["reason"]

    for url, (_, reason) in FILTERED.items():
        assert fate(url) == ("filters", reason), url
    assert fate(FRENCH_URL) == ("langid", "lang_not_kept")
    # one of the two near-identical pages is dropped as a near-duplicate
    pair = [ids[NEAR_DUP_URL], ids["http://garden.example/tomatoes"]]
    dropped = rej[rej.index.isin(pair)]
    assert len(dropped) == 1 and dropped["reason"].iloc[0] == "near_duplicate"
    stage, reason = fate(CONTAMINATED_URL)
    assert (stage, reason) == ("decontam", "contaminated")
    detail = json.loads(rej.loc[ids[CONTAMINATED_URL], "detail"])
    assert detail["benchmark"] == "quiz" and len(detail["ngram"].split()) == 13
    assert detail["ngram"] in QUIZ_LINE.lower().replace(",", "")
    seed_rej = pd.concat(
        [pd.read_parquet(web_build / f"results/rejected/seed/{s}.parquet") for s in ("warc", "cut")]
    )
    assert {"invalid_utf8", "not_html", "truncated_record"} <= set(seed_rej["reason"])
    cut = seed_rej[seed_rej["reason"] == "truncated_record"]
    assert "byte offset" in cut["detail"].iloc[0]


def test_summary_records_origins_and_accounts_for_every_row(web_build):
    summary = json.loads((web_build / "results/stats/summary.json").read_text())
    assert summary["mode"] == "both" and summary["audit"]["ok"]
    # the demo seed, read in three pieces, gave its sample of 8 of its 48 rows
    pieces = sorted((web_build / "results/seed/default/files").iterdir())
    assert [p.name for p in pieces] == ["piece0000", "piece0001", "piece0002"]
    assert all(json.loads((p / "stats.json").read_text())["in"] > 0 for p in pieces)
    assert len(seed_records(web_build / "results", "default")) == 8
    seed_stats = json.loads((web_build / "results/stats/seed/default.json").read_text())
    assert seed_stats["in"] == 48 and seed_stats["rejected_by_reason"] == {"not_sampled": 40}
    assert summary["accounting"]["balanced"]
    assert summary["doc_stages"] == [
        "generate",
        "collect",
        "url_filter",
        "clean",
        "line_corrections",
        "langid",
        "filters",
        "perplexity",
        "dedup",
        "decontam",
        "mix",
    ]
    origins = summary["origins"]
    assert sorted(origins["by_stage"]) == sorted(summary["doc_stages"][1:])
    corpus = origins["corpus"]
    final = final_docs(web_build)
    assert corpus["web"]["documents"] == int((final["origin"] == "web").sum())
    assert corpus["generated"]["documents"] == int((final["origin"] == "generated").sum())
    assert sum(o["share_documents"] for o in corpus.values()) == pytest.approx(1, abs=1e-5)
    # the filters left the generated documents alone
    stages = summary["stages"]
    assert (
        stages["filters"]["not_filtered"] == origins["by_stage"]["langid"]["generated"]["documents"]
    )
    assert stages["decontam"]["contaminated_by_benchmark"] == {"quiz": 1}
    card = (web_build / "results/final/README.md").read_text()
    assert "pretty_name: corpusforge mixed corpus" in card
    assert "Documents and tokens by origin" in card
    assert "gopher_quality.word_count" in card and "quiz" in card


def test_a_target_share_reruns_only_the_mix_and_after(web_build):
    assert planned_jobs(smk(web_build, "-n", "--configfile", "web.yaml")) == {}
    cfg = web_config(mix={"web_share": 0.3, "unit": "documents"})
    write_config(web_build, cfg)
    jobs = planned_jobs(smk(web_build, "-n", "--configfile", "web.yaml"))
    assert set(jobs) == {
        "mix",
        "export_jsonl",
        "tokenize",  # the training data follow the corpus
        "train_mixture",
        "summarize",
        "plots",
        "dataset_card",
        "manifest",
        "all",
    }
    proc = smk(web_build, "--cores", "2", "--configfile", "web.yaml")
    assert proc.returncode == 0, proc.stderr[-4000:]
    summary = json.loads((web_build / "results/stats/summary.json").read_text())
    assert summary["audit"]["ok"] and summary["accounting"]["balanced"]
    assert summary["origins"]["target"]["web_share"] == 0.3
    for path in sorted((web_build / "results/stats/mix").glob("*.json")):
        shard = json.loads(path.read_text())
        if shard["unreachable"]:
            continue
        before = shard["before"]["web"]["share_documents"]
        after = shard["by_origin"].get("web", {}).get("share_documents", 0)
        assert after <= 0.3 if before > 0.3 else after >= 0.3
    assert summary["stages"]["mix"]["rejected_by_reason"].get("mix_downsampled", 0) > 0


def test_web_mode_plans_no_generation(tmp_path):
    workdir = copy_repo(tmp_path)
    write_inputs(workdir)
    cfg = web_config(mode="web")
    proc = smk(workdir, "-n", "--configfile", write_config(workdir, cfg))
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = planned_jobs(proc)
    assert "generate" not in jobs and "build_prompts" not in jobs and "mix" not in jobs
    assert jobs["collect"] == 2 and jobs["filters"] == 2 and jobs["decontam"] == 2
    assert "does not read seeds default" in proc.stderr


def test_mode_without_its_seeds_is_refused(tmp_path):
    output = refused(copy_repo(tmp_path), "--config", "mode=web")
    assert "mode web: no seed of kind documents" in output


def test_lint_is_clean_in_mode_both(tmp_path):
    """Every rule file of a mixed build (collect, filters, decontam, mix) is linted."""
    workdir = copy_repo(tmp_path)
    write_inputs(workdir)
    cfg = write_config(workdir, web_config(filters={"c4": {"bad_words": "bad.txt"}}))
    (workdir / "bad.txt").write_text("examplebadword\n")
    assert_lint_clean(workdir, "--configfile", cfg)


def test_remote_benchmark_is_downloaded_checked_and_indexed(tmp_path):
    import functools
    import hashlib
    import http.server
    import threading

    served = tmp_path / "served"
    served.mkdir()
    body = json.dumps({"question": QUIZ_LINE}) + "\n"
    (served / "quiz.jsonl").write_text(body)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        (tmp_path / "repo").mkdir()
        workdir = copy_repo(tmp_path / "repo")
        write_inputs(workdir)
        url = f"http://127.0.0.1:{server.server_address[1]}/quiz.jsonl?v=1"
        sha = hashlib.sha256(body.encode()).hexdigest()
        cfg = web_config(mode="web")
        cfg["decontam"]["benchmarks"] = {
            "remote": {"source": {"url": url, "sha256": sha}, "text_fields": ["question"]}
        }
        name = write_config(workdir, cfg)
        target = "results/decontam/index.json"
        proc = smk(workdir, target, "--cores", "1", "--configfile", name)
        assert proc.returncode == 0, proc.stderr[-4000:]
    finally:
        server.shutdown()
    assert (workdir / "results/decontam/benchmarks/remote/quiz.jsonl").read_text() == body
    stats = json.loads((workdir / "results/decontam/index.json").read_text())
    assert stats["benchmarks"]["remote"]["ngrams"] == len(QUIZ_LINE.split()) - 12
    # a user's benchmarks replace the demo's sample benchmark
    assert set(stats["benchmarks"]) == {"remote"}
