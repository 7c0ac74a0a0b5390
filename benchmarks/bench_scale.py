"""The default web build at growing sizes: wall time, job-seconds per rule and peak
memory per job, to show that a job's memory follows the batch, not the corpus.

    make bench-deps   # the text packages the documents are made from
    nice -n 10 .venv/bin/python benchmarks/bench_scale.py --docs 100000 1000000
    nice -n 10 .venv/bin/python benchmarks/bench_scale.py --docs 20000 --same-as-unbatched

Documents: ``--docs`` English web documents of ~800 words per size, built from prose
on this machine as benchmarks/bench_pipeline.py builds them (originals + 10%
near-duplicates + 5% exact copies), one jsonl seed of kind ``documents``. The prose
fills about 7,400 documents; the rest are made of new paragraphs of 2 to 6 sentences
drawn from it (``recombine``), so that paragraph dedup and MinHash find the injected
copies, not the same paragraphs again, and every later stage sees most of the corpus.

Build: the real workflow, ``snakemake --cores 2`` in a fresh copy of the repository,
``mode: web`` with every default web stage on (URL filter, clean, line corrections,
language ID, paragraph dedup, quality, filters, perplexity, dedup, decontamination),
``--shards`` shards and the default ``batch_rows``.

Measured per size: wall seconds and CPU seconds of the whole process tree; per rule,
the job-seconds (Snakemake's benchmark ``s`` summed over the rule's jobs) and the
largest peak RSS of one of its jobs (``max_rss``). ``--same-as-unbatched`` builds the
smallest size a second time with ``batch_rows`` larger than any shard (every job
holds its whole shard, as before streaming) and compares the two final corpora
document for document.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_pipeline import copy_repo, run_measured, web_seed, write_corpus  # noqa: E402

UNBATCHED = 1_000_000_000


def web_config(
    docs: Path, shards: int, batch_rows: int | None = None, pieces: int | str = "auto"
) -> dict:
    """The default web build over one seed of documents, read in ``pieces`` side by
    side (every other key: defaults)."""
    cfg = {**web_seed(docs), "shards": shards}
    cfg["seeds"]["bench"]["pieces"] = pieces
    if batch_rows:
        cfg["batch_rows"] = batch_rows
    return cfg


def build(work: Path, name: str, cfg: dict, cores: int) -> dict:
    wd = work / name
    copy_repo(ROOT, wd)
    (wd / "bench.yaml").write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "snakemake", "--cores", str(cores), "--configfile", "bench.yaml"]
    measured = run_measured(cmd, wd, work / f"{name}.log")
    return {**measured, "rules": per_rule(wd / "results/benchmarks"), "dir": wd}


def per_rule(folder: Path) -> dict[str, dict[str, float]]:
    """Job-seconds and the largest per-job peak RSS (MB) of every rule."""
    out: dict[str, dict[str, float]] = {}
    for path in folder.rglob("*.tsv"):
        rule = path.relative_to(folder).parts[0]
        table = pd.read_csv(path, sep="\t")
        entry = out.setdefault(rule, {"s": 0.0, "max_rss": 0.0, "jobs": 0})
        entry["s"] += float(table["s"].sum())
        rss = pd.to_numeric(table["max_rss"], errors="coerce").max()
        entry["max_rss"] = max(entry["max_rss"], 0.0 if pd.isna(rss) else float(rss))
        entry["jobs"] += 1
    return out


def corpus(wd: Path) -> dict[str, dict]:
    docs = {}
    for path in sorted((wd / "results/final").rglob("*.jsonl")):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                doc = json.loads(line)
                docs[doc["id"]] = doc
    return docs


def table(sizes: list[int], runs: list[dict]) -> str:
    rules = sorted(
        {r for run in runs for r in run["rules"]},
        key=lambda r: -runs[-1]["rules"].get(r, {}).get("s", 0),
    )
    head = "| rule | " + " | ".join(f"{n:,}: job-s | {n:,}: peak MB" for n in sizes) + " |"
    rows = [head, "|" + "---|" * (1 + 2 * len(sizes))]
    for rule in rules:
        cells = []
        for run in runs:
            e = run["rules"].get(rule)
            cells += [f"{e['s']:.1f}", f"{e['max_rss']:.0f}"] if e else ["", ""]
        rows.append(f"| {rule} | " + " | ".join(cells) + " |")
    walls = []
    for run in runs:
        walls += [
            f"wall {run['wall']:.0f} s, CPU {run['cpu']:.0f} s",
            f"tree {run['peak_rss_mb']:.0f}",
        ]
    rows.append("| whole build | " + " | ".join(walls) + " |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("/tmp/corpusforge-bench-scale"))
    parser.add_argument("--batch-rows", type=int, help="batch_rows (default: the schema's)")
    parser.add_argument(
        "--pieces",
        type=lambda v: v if v == "auto" else int(v),
        default="auto",
        help="jobs that read the seed file (default auto: one per 64 MiB)",
    )
    parser.add_argument("--same-as-unbatched", action="store_true")
    args = parser.parse_args()
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    names = [line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line]
    cpu = names[0] if names else platform.processor()
    print(
        f"CPU: {cpu}; cores: {args.cores}; shards: {args.shards}; "
        f"batch_rows: {args.batch_rows}; pieces: {args.pieces}"
    )
    runs = []
    for n in args.docs:
        work = args.work / f"n{n}"
        work.mkdir(parents=True, exist_ok=True)
        if not (work / "docs.jsonl").exists():
            write_corpus(n, work, recombine=True, trove=False)
        cfg = web_config(work / "docs.jsonl", args.shards, args.batch_rows, args.pieces)
        run = build(work, "streamed", cfg, args.cores)
        runs.append(run)
        print(f"{n:,} documents: wall {run['wall']:.0f} s, CPU {run['cpu']:.0f} s", flush=True)
    print(table(args.docs, runs))
    if args.same_as_unbatched:
        n, work = args.docs[0], args.work / f"n{args.docs[0]}"
        cfg = web_config(work / "docs.jsonl", args.shards, UNBATCHED, args.pieces)
        whole = build(work, "unbatched", cfg, args.cores)
        a, b = corpus(runs[0]["dir"]), corpus(whole["dir"])
        same = sum(1 for k in a if a[k] == b.get(k))
        print(
            f"{n:,} documents, streamed vs whole shards: {len(a):,} and {len(b):,} documents in the"
            f" corpus, {same:,} identical (id and every field); peak RSS of a job"
            f" {max(e['max_rss'] for e in runs[0]['rules'].values()):.0f} MB streamed,"
            f" {max(e['max_rss'] for e in whole['rules'].values()):.0f} MB whole"
        )


if __name__ == "__main__":
    main()
