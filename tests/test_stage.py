"""The document-stage protocol (corpusforge.stage): the base owns apply_to, rejected
rows, stats and job I/O; a new stage is one module, one rules file and one line of
STAGES, and a build runs it with its rejections in the audit."""

from __future__ import annotations

import json
import re
import textwrap
from types import SimpleNamespace
from typing import ClassVar

import pandas as pd
import pytest
from web_pages import GOOD_EN, GOOD_ZH, wet_file
from workflow_util import build_with, copy_repo, final_docs, rejected

from corpusforge.io import read_json, read_parquet, run_doc_stage, write_parquet
from corpusforge.records import stable_id
from corpusforge.stage import DocStage, Verdict, load, run_job

# The module, rules file and stage line a newcomer writes (docs/adding-a-stage.md).
MODULE = '''
"""Minimum length: reject documents shorter than min_chars characters."""

from typing import ClassVar

import pandas as pd

from corpusforge.stage import DocStage, Verdict


class MinLength(DocStage):
    name = "min_length"
    exempt: ClassVar[dict] = {"chars": None}

    def judge(self, docs: pd.DataFrame) -> Verdict:
        chars = docs["text"].str.len()
        short = chars < self.cfg["min_chars"]
        return Verdict(
            keep=~short,
            reason="too_few_chars",
            detail="under " + str(self.cfg["min_chars"]) + " characters: " + chars.astype(str),
            columns={"chars": chars},
            counters={"short": int(short.sum())},
        )
'''
RULES = '''
rule min_length:
    """Reject documents under 200 characters (too_few_chars)."""
    input:
        docs=upstream("min_length"),
    output:
        docs=docs_of("min_length"),
        rejected=rejected("min_length"),
        stats=stage_stats("min_length"),
    log:
        log_path("min_length"),
    benchmark:
        bench_path("min_length")
    conda:
        "../envs/core.yaml"
    params:
        stage="corpusforge.min_length:MinLength",
        settings={"min_chars": 200},
        batch_rows=config["batch_rows"],
    script:
        "../scripts/doc_stage.py"
'''
STAGE_LINE = '    ("min_length", True),  # too short to keep\n'


class Shouting(DocStage):
    """A toy stage: rejects documents in capitals, marks the others' length."""

    name = "shouting"
    exempt: ClassVar[dict] = {"letters": -1}

    def judge(self, docs):
        loud = docs["text"].str.isupper()
        text = docs["text"].str.strip()
        return Verdict(
            keep=~loud,
            reason=pd.Series("shouting", index=docs.index).where(docs["n"] % 2 == 0, "loud"),
            detail="all capitals",
            columns={"letters": text.str.len(), "text": text},
            counters={"loud": int(loud.sum())},
        )


def docs(n: int = 12) -> pd.DataFrame:
    rows = [
        {
            "id": stable_id("toy", i),
            "seed_id": stable_id("toy", i),
            "text": (f" SHOUT NUMBER {i} " if i % 3 == 0 else f" quiet text {i} "),
            "origin": "web" if i % 4 else "generated",
            "n": i,
        }
        for i in range(n)
    ]
    return pd.DataFrame(rows).sort_values("id", ignore_index=True)


def test_the_base_owns_apply_to_rejections_columns_and_stats():
    frame = docs()
    kept, rejects, stats = Shouting({"apply_to": ["web"]})(frame)
    web = frame["origin"] == "web"
    loud_web = frame[web & frame["text"].str.strip().str.isupper()]
    assert sorted(rejects["id"]) == sorted(loud_web["id"])
    assert set(rejects["stage"]) == {"shouting"} and set(rejects["detail"]) == {"all capitals"}
    by_id = loud_web.set_index("id")["n"]
    assert all(
        r.reason == ("shouting" if by_id[r.id] % 2 == 0 else "loud") for r in rejects.itertuples()
    )
    assert len(kept) + len(rejects) == len(frame) and kept["id"].is_monotonic_increasing
    generated = kept[kept["origin"] == "generated"]
    assert (generated["letters"] == -1).all()  # not applied: the exempt value, text as it was
    assert generated["text"].str.startswith(" ").all()
    web_kept = kept[kept["origin"] == "web"]
    assert (web_kept["letters"] == web_kept["text"].str.len()).all()
    assert stats["not_applied"] == int((~web).sum()) and stats["loud"] == len(loud_web)
    assert stats["apply_to"] == ["web"]
    assert stats["rejected_by_reason"] == rejects["reason"].value_counts().sort_index().to_dict()
    # a rejected row holds the text as the stage left it (clean's masked text)
    assert not rejects["text"].str.startswith(" ").any()
    # without apply_to every document is judged
    _, rejects, stats = Shouting({})(frame)
    assert len(rejects) == 4 and "not_applied" not in stats and "apply_to" not in stats


class Tally(Shouting):
    """Shouting with its own name for untouched documents, a setting in its stats and
    a count over every kept document."""

    not_applied_key = "not_shouted"

    def described(self):
        return {"settings": {"limit": 3}}

    def kept_counters(self, kept):
        return {"kept_by_origin": kept["origin"].value_counts().sort_index().to_dict()}


def test_stats_name_untouched_documents_and_count_every_kept_one():
    frame = docs()
    kept, _, stats = Tally({"apply_to": ["web"]})(frame)
    assert stats["not_shouted"] == int((frame["origin"] != "web").sum())
    assert "not_applied" not in stats and stats["settings"] == {"limit": 3}
    assert stats["kept_by_origin"] == kept["origin"].value_counts().sort_index().to_dict()
    # a batch of other origins only: judge still runs (on no documents), so every
    # batch's stats have the stage's counters
    generated = frame[frame["origin"] == "generated"]
    kept, rejects, stats = Tally({"apply_to": ["web"]})(generated)
    assert len(kept) == len(generated) and rejects.empty
    assert stats["loud"] == 0 and (kept["letters"] == -1).all()


def test_a_stage_streams_through_the_shared_job_io(tmp_path):
    write_parquet(docs(40), tmp_path / "in.parquet")
    out = {k: tmp_path / f"{k}.out" for k in ("docs", "rej", "stats")}
    whole = {k: tmp_path / f"{k}.whole" for k in ("docs", "rej", "stats")}
    stage = Shouting({"apply_to": ["web"]})
    run_doc_stage(stage, tmp_path / "in.parquet", *whole.values())
    run_doc_stage(stage, tmp_path / "in.parquet", *out.values(), batch_rows=7)
    pd.testing.assert_frame_equal(read_parquet(out["docs"]), read_parquet(whole["docs"]))
    pd.testing.assert_frame_equal(read_parquet(out["rej"]), read_parquet(whole["rej"]))
    assert read_json(out["stats"]) == read_json(whole["stats"])


def test_params_stage_must_name_a_stage_class():
    assert load("corpusforge.stage:DocStage") is DocStage
    with pytest.raises(TypeError, match=r"params\.stage 'corpusforge\.io:read_json'"):
        load("corpusforge.io:read_json")


class Held(Shouting):
    """Shouting that holds something from prepare() to close() (a GPU slot) and
    sets anew the ``letters`` column a document came with."""

    renewed = ("letters",)
    closed: ClassVar[list[str]] = []

    def prepare(self):
        self.held = self.files["lock"]

    def close(self):
        Held.closed.append(self.held)


class _Named(SimpleNamespace):
    def items(self):
        return vars(self).items()


def test_the_job_closes_the_stage_and_renewed_columns_come_last(tmp_path):
    frame = docs(10).assign(letters=0)
    frame = frame[["id", "letters", *[c for c in frame.columns if c not in ("id", "letters")]]]
    write_parquet(frame, tmp_path / "in.parquet")
    smk = SimpleNamespace(
        input=_Named(docs=str(tmp_path / "in.parquet"), lock="slot-1"),
        output=SimpleNamespace(
            **{k: str(tmp_path / f"{k}.out") for k in ("docs", "rejected", "stats")}
        ),
        params=SimpleNamespace(stage="test_stage:Held", settings={}, batch_rows=3),
        log=[],
        wildcards=SimpleNamespace(shard="0000"),
    )
    Held.closed.clear()
    stats = run_job(smk)
    assert Held.closed == ["slot-1"] and stats["in"] == 10
    kept = read_parquet(smk.output.docs)
    assert list(kept.columns)[-1] == "letters" and (kept["letters"] > 0).all()
    # the stage is closed when the job fails after building it, too
    smk.input = _Named(docs=str(tmp_path / "missing.parquet"), lock="slot-2")
    with pytest.raises(FileNotFoundError):
        run_job(smk)
    assert Held.closed == ["slot-1", "slot-2"]


@pytest.mark.workflow
def test_a_new_stage_is_one_module_one_rules_file_and_one_line(tmp_path):
    workdir = copy_repo(tmp_path)
    (workdir / "src/corpusforge/min_length.py").write_text(textwrap.dedent(MODULE).lstrip())
    (workdir / "rules/min_length.smk").write_text(textwrap.dedent(RULES).lstrip())
    common = workdir / "rules/common.smk"
    text = common.read_text()
    anchor = re.search(r'^    \("collect", COLLECTS\),.*\n', text, re.M)
    common.write_text(text[: anchor.end()] + STAGE_LINE + text[anchor.end() :])

    short = {
        "http://short.example/a": "Buy now. Best prices. Click here.",
        "http://short.example/b": "A very short page about nothing at all.",
    }
    source = {"path": "crawl/pages.warc.wet.gz"}
    cfg = {"mode": "web", "seeds": {"crawl": {"kind": "documents", "source": source}}}
    build_with(workdir, cfg, wet_file({**GOOD_EN, **GOOD_ZH, **short}))

    results = workdir / "results"
    dropped = rejected(workdir, "min_length")
    assert sorted(dropped["reason"]) == ["too_few_chars"] * 2
    assert all(re.match(r"under 200 characters: \d+$", d) for d in dropped["detail"])
    collected = pd.concat(read_parquet(p) for p in (results / "docs/collect").glob("*"))
    seen = pd.concat(read_parquet(p) for p in (results / "docs/min_length").glob("*"))
    assert len(seen) == len(collected) - 2 and (seen["chars"] >= 200).all()
    # the next stage reads min_length's documents
    url_log = "\n".join(p.read_text() for p in (results / "logs/url_filter").glob("*.log"))
    assert "kept" in url_log
    summary = json.loads((results / "stats/summary.json").read_text())
    assert summary["audit"]["ok"] and summary["accounting"]["balanced"]
    stage = summary["stages"]["min_length"]
    assert stage["rejected_by_reason"] == {"too_few_chars": 2} and stage["short"] == 2
    final = final_docs(workdir)
    urls = set(final["url"])
    assert not urls & set(short) and urls  # the short pages are not in the corpus
