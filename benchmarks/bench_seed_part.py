"""Peak memory of one ``ingest_seed_file`` job (corpusforge.seed_shards.part_job)
over a big jsonl file read as one piece, for this checkout's code and a baseline
commit's, and whether both wrote the same rows.

    nice -n 10 .venv/bin/python benchmarks/bench_seed_part.py --mb 200 --baseline 1ae8aee

Input: a jsonl file of ``--mb`` MB of documents of ~3 KB each (30 sentences drawn
from a pool of made-up sentences, seeded, each document numbered so that texts
differ), with a repeated text every 50 lines and a broken line every 997, so that
rejected rows are streamed too. It is written once under ``--work`` and reused.

Each side (the package imported from ``src/`` of this checkout, or of ``git
archive <baseline>``) runs ``part_job`` once in a fresh Python process (one piece,
``--shards`` shards, ``--batch-rows`` rows a batch), then ``keys_job`` and
``shard_job`` of shard 0000 in another (the reader of the part file), and
reports each process's peak RSS (``ru_maxrss``) and CPU seconds (user + system).
Then the outputs are compared: every shard's rows of the part as ``io.iter_shard``
reads them (in id order), its rejected rows and stats, and shard 0000's records,
rejected rows and stats. (1ae8aee: the commit before parts were streamed.)
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# One step of the seed in a fresh process: "part" (part_job), or "shard" (keys_job,
# then shard_job of shard 0000, which reads the part file's rows of the shard).
CHILD = """
import json, resource, sys
from types import SimpleNamespace
from corpusforge.seed_shards import keys_job, part_job, shard_job
step, path, out, shards, batch_rows = sys.argv[1:3] + [sys.argv[3]] + [int(v) for v in sys.argv[4:]]
cfg = {"pieces": 1}
def files(folder, **names):
    return SimpleNamespace(**{k: f"{out}/{folder}/{v}" for k, v in names.items()})
part = files("part", records="records.parquet", rejected="rejected.parquet", stats="stats.json")
if step == "part":
    part_job(path, "piece0000", "bench", cfg, part, listed=False, piece=(0, 1), shards=shards,
             batch_rows=batch_rows)
else:
    keys = files("keys", repeated="keys.parquet", sample="sample.json")
    keys_job([part.records], [part.stats], "bench", cfg, keys.repeated, keys.sample)
    shard = files("shard", records="records.parquet", rejected="rejected.parquet", stats="s.json")
    shard_job([part.records], [part.stats], keys.repeated, keys.sample, "bench", cfg, "0000",
              shards, shard, batch_rows=batch_rows)
use = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"peak_rss_mb": use.ru_maxrss / 1024, "cpu_s": use.ru_utime + use.ru_stime}))
"""


def make_seed(path: Path, megabytes: int) -> dict:
    """The bench's jsonl file (made once): its size, lines, repeats and broken lines."""
    if path.exists():
        return json.loads(path.with_suffix(".json").read_text())
    rng = random.Random(7)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
             for _ in range(3000)]  # fmt: skip
    pool = [
        " ".join(rng.choice(words) for _ in range(rng.randint(8, 24))).capitalize() + "."
        for _ in range(5000)
    ]
    size = lines = repeats = broken = 0
    texts: list[str] = []
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        while size < megabytes << 20:
            lines += 1
            if lines % 997 == 0:
                line = '{"text": "broken'
                broken += 1
            elif lines % 50 == 0:
                line = json.dumps({"text": texts[rng.randrange(len(texts))]})
                repeats += 1
            else:
                text = f"Document {lines}. " + " ".join(rng.choice(pool) for _ in range(30))
                if len(texts) < 1000:
                    texts.append(text)
                line = json.dumps({"text": text})
            out.write(line + "\n")
            size += len(line) + 1
    tmp.rename(path)
    info = {"bytes": size, "lines": lines, "repeats": repeats, "broken": broken}
    path.with_suffix(".json").write_text(json.dumps(info))
    return info


def baseline_src(work: Path, ref: str) -> Path:
    """``src/`` of commit ``ref`` of this repository (with ``config/``, which the
    package's data links to), unpacked under ``work``."""
    dest = work / f"baseline-{ref.replace('/', '_').replace('~', '-')}"
    if not dest.exists():
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", ref, "src", "config"],
            check=True,
            capture_output=True,
        ).stdout
        tmp = dest.with_suffix(".tmp")
        tmp.mkdir(parents=True)
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        tmp.rename(dest)
    return dest / "src"


def run_step(step: str, src: Path, seed: Path, out: Path, shards: int, batch_rows: int) -> dict:
    """Peak RSS and CPU seconds of one ``step`` (see CHILD) in a fresh process."""
    out.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, step, str(seed), str(out), str(shards), str(batch_rows)],
        check=True,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"},
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def same_outputs(a: Path, b: Path, shards: int) -> dict:
    """Whether the two sides wrote the same rows: each shard's records of the part in
    the order iter_shard reads them, the part's rejected rows and stats, and shard
    0000's seed records, rejected rows and stats (raises where they differ)."""
    import pandas as pd

    from corpusforge.io import iter_shard

    rows = 0
    for shard in range(shards):
        got = [pd.concat(list(iter_shard(d / "part/records.parquet", shard, shards, 2000)),
                         ignore_index=True) for d in (a, b)]  # fmt: skip
        pd.testing.assert_frame_equal(got[0], got[1])
        rows += len(got[0])
    for name in ("part/rejected.parquet", "shard/records.parquet", "shard/rejected.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(a / name), pd.read_parquet(b / name))
    for name in ("part/stats.json", "shard/s.json"):
        assert json.loads((a / name).read_text()) == json.loads((b / name).read_text()), name
    return {
        "part_records": rows,
        "part_rejected": len(pd.read_parquet(a / "part/rejected.parquet")),
        "shard_0000_records": len(pd.read_parquet(a / "shard/records.parquet")),
        "same_rows": True,
    }


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} cores)"
    return platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--batch-rows", type=int, default=2000)
    parser.add_argument("--baseline", default=None, help="a commit to compare with")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_seed_part"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    seed = args.work / f"seed-{args.mb}mb.jsonl"
    result = {
        "cpu": cpu_name(),
        "seed": make_seed(seed, args.mb),
        "shards": args.shards,
        "batch_rows": args.batch_rows,
    }
    sides = {"this": ROOT / "src"}
    if args.baseline:
        sides[args.baseline] = baseline_src(args.work, args.baseline)
    for name, src in sides.items():
        result[name] = {
            step: run_step(step, src, seed, args.work / f"out-{name}", args.shards, args.batch_rows)
            for step in ("part", "shard")
        }
        print(name, result[name], flush=True)
    if args.baseline:
        sys.path.insert(0, str(ROOT / "src"))
        outs = [args.work / f"out-{name}" for name in sides]
        result["compared"] = same_outputs(*outs, args.shards)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
