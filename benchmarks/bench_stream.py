"""Memory of a streamed job: a shard read and written a batch at a time, with Arrow's
pre-buffering of the Parquet reader on (its default) and off (what corpusforge.io
reads with), in one run on the same file.

    nice -n 10 .venv/bin/python benchmarks/bench_stream.py results/docs/collect/0000.parquet

Each side runs in a fresh process: the file's rows as DataFrames of ``--batch-rows``
(``io.iter_parquet_frames``' loop, with the one reader option changed), each
written through ``io.ParquetSink`` as a stage's job does; printed: peak RSS
(ru_maxrss), CPU seconds, and whether both outputs hold the same rows.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHILD = r"""
import json, resource, sys, time
import pyarrow as pa, pyarrow.parquet as pq
sys.path.insert(0, sys.argv[4])
from corpusforge.io import ParquetSink
path, out, pre_buffer, _, batch_rows = sys.argv[1:6]
t = time.process_time()
handle = pq.ParquetFile(path, pre_buffer=pre_buffer == "on")
with ParquetSink(out) as sink:
    for batch in handle.iter_batches(batch_size=int(batch_rows)):
        sink.add(pa.Table.from_batches([batch]).to_pandas())
print(json.dumps({"cpu": time.process_time() - t,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("parquet", type=Path)
    ap.add_argument("--batch-rows", type=int, default=2000)
    args = ap.parse_args()
    import pandas as pd
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(args.parquet).metadata
    print(f"{args.parquet}: {meta.num_rows:,} rows in {meta.num_row_groups} row groups")
    with tempfile.TemporaryDirectory() as tmp:
        outs = {}
        for pre_buffer in ("on", "off"):
            out = Path(tmp) / f"{pre_buffer}.parquet"
            cmd = [sys.executable, "-c", CHILD, str(args.parquet), str(out), pre_buffer]
            cmd += [str(ROOT / "src"), str(args.batch_rows)]
            w = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
            m = json.loads(proc.stdout.splitlines()[-1])
            print(
                f"pre-buffering {pre_buffer}: peak RSS {m['peak_mb']:.0f} MB, "
                f"{m['cpu']:.1f} CPU-s, {time.perf_counter() - w:.1f} s wall"
            )
            outs[pre_buffer] = out
        same = pd.read_parquet(outs["on"]).equals(pd.read_parquet(outs["off"]))
        print(f"same rows written: {same}")


if __name__ == "__main__":
    main()
