"""Quality classifier benchmark: ours against datatrove's FastTextClassifierFilter, one run.

    nice -n 10 .venv/bin/python benchmarks/bench_quality.py [--copies 2] [--skip-datatrove]

Same documents, same fastText model file, same decision (keep when P(hq) >= 0.5),
timed in one run, only the scoring and the decision (no reading, no writing):
- ours: ``corpusforge.quality.QualityStage`` on a DataFrame (the stage's step:
  prepare each line, batched ``multilinePredict``, scores, labels, rejected rows, stats);
- datatrove 0.10.1: ``FastTextClassifierFilter(model, keep_labels=[("hq", 0.5)],
  newline_replacement=" ")``, ``filter(doc)`` on each Document, in its own venv
  (benchmarks/requirements-datatrove.txt; ``tools/install_bench.sh``).

The model is an English classifier trained here from resources/quality with
``lowercase: false`` (datatrove feeds the raw text to fastText, newlines replaced;
ours then differs only in collapsing runs of whitespace). Chinese is left out: our
classifiers split Han characters into tokens before fastText, datatrove does not, so
the two would not do the same work.

Documents (English): every document of resources/lm/en.txt.xz (reference prose) and
as many web pages and half as many garbled texts made by resources/quality/assemble.py's
generators, repeated ``--copies`` times.

Printed: docs/s per CPU-second for each, the ratio, and the agreement: share of equal
keep/reject decisions and the largest score difference.

One run (2026-12-01), Intel(R) Xeon(R) Processor, 2 cores shared with other jobs
(load ~3), --copies 2: 7,390 English documents (5.7 M characters), 4,124 kept:
ours 34,843 docs per CPU-second, datatrove 33,285 (ratio 1.05x); 100% of the
keep/reject decisions equal, largest score difference below 0.00005 (ours are
rounded to 4 decimals). About a third of ours' time is building the rejected rows
(corpusforge.records.reject_records; 44% of these documents are rejected). The
datatrove venv also needs ``fasteners`` and ``fasttext-numpy2-wheel`` (the
distribution datatrove 0.10.1 checks for; fastText 0.9.2's code).
"""

from __future__ import annotations

import argparse
import json
import lzma
import random
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "resources" / "quality"))

import assemble  # noqa: E402
from bench_dedup import in_bench_venv, write_docs  # noqa: E402

from corpusforge.quality import (  # noqa: E402
    QualityStage,
    load_scorer,
    settings,
    train_from_references,
)
from corpusforge.schema import with_defaults  # noqa: E402

THRESHOLD = 0.5


def make_docs(copies: int) -> pd.DataFrame:
    rng = random.Random(7)
    text = lzma.decompress((ROOT / "resources/lm/en.txt.xz").read_bytes()).decode("utf-8")
    prose = ["\n".join(b.split("\n")) for b in text.strip().split("\n\n") if b.strip()]
    web = ["\n".join(assemble.web_page("en", rng)) for _ in range(len(prose))]
    garbled = [
        "\n".join(assemble.garble("en", b.split("\n")[:3], rng)) for b in prose[: len(prose) // 2]
    ]
    texts = (prose + web + garbled) * copies
    return pd.DataFrame(
        {"id": [f"{i:016x}" for i in range(len(texts))], "lang": "en", "text": texts}
    )


def train_model(folder: Path) -> tuple[dict, str]:
    # the schema's defaults (training settings and all), trained from the shipped
    # English references; like datatrove's filter: whole documents, not lowercased
    references = {
        group: [{"source": {"path": str(ROOT / f"resources/quality/en.{group}.txt")}}]
        for group in ("positive", "negative")
    }
    fasttext = {"lowercase": False, "models": {"en": {"split_cjk": False, **references}}}
    section = {"min_score": THRESHOLD, "max_chars": None, "fasttext": fasttext}
    cfg = settings(with_defaults("quality", section))
    refs = {
        g: [(str(ROOT / f"resources/quality/en.{g}.txt"), "text", "text")]
        for g in ("positive", "negative")
    }
    path = folder / "en.bin"
    train_from_references("en", refs["positive"], refs["negative"], path, cfg)
    return cfg, str(path)


def run_ours(docs: pd.DataFrame, cfg: dict, model: str) -> dict:
    scorer = load_scorer(cfg, {"en": model})
    step = QualityStage(cfg, {"models": {"en": model}})
    cpu, wall = time.process_time(), time.perf_counter()
    kept, _, _ = step(docs)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    # every document's score (rejected ones too), outside the timed part
    scores, _, _ = scorer.score_texts(docs["text"].tolist(), docs["lang"].tolist())
    return {
        "cpu": cpu,
        "wall": wall,
        "kept": set(kept["id"]),
        "scores": dict(zip(docs["id"], scores.tolist(), strict=True)),
    }


DATATROVE_SCRIPT = r"""
import json, sys, time
from datatrove.data import Document
from datatrove.pipeline.filters import FastTextClassifierFilter
src, model = sys.argv[1], sys.argv[2]
docs = [Document(text=r["text"], id=r["id"]) for r in map(json.loads, open(src, encoding="utf-8"))]
flt = FastTextClassifierFilter(model, keep_labels=[("hq", float(sys.argv[3]))],
                               newline_replacement=" ")
flt.filter(Document(text="warm up", id="0"))  # loads the model
cpu, wall = time.process_time(), time.perf_counter()
kept = [d.id for d in docs if flt.filter(d)]
cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
scores = {d.id: d.metadata.get("hq", d.metadata.get("__label__hq")) for d in docs}
print("DATATROVE", json.dumps({"cpu": cpu, "wall": wall, "kept": kept, "scores": scores}))
"""


def run_datatrove(docs: pd.DataFrame, model: str) -> dict | str:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "docs.jsonl"
        write_docs(src, docs["id"], docs["text"])
        out, error = in_bench_venv(DATATROVE_SCRIPT, str(src), model, str(THRESHOLD))
    if out is None:
        return error
    result = json.loads(out)
    result["kept"] = set(result["kept"])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--copies", type=int, default=2)
    ap.add_argument("--skip-datatrove", action="store_true")
    args = ap.parse_args()
    docs = make_docs(args.copies)
    with tempfile.TemporaryDirectory() as tmp:
        cfg, model = train_model(Path(tmp))
        ours = run_ours(docs, cfg, model)
        n = len(docs)
        print(f"{n} English documents, {docs['text'].str.len().sum() / 1e6:.1f} M characters")
        print(f"ours       {n / ours['cpu']:10,.0f} docs/CPU-s  {n / ours['wall']:10,.0f} docs/s")
        if args.skip_datatrove:
            return
        trove = run_datatrove(docs, model)
    if isinstance(trove, str):
        print(trove)
        return
    print(f"datatrove  {n / trove['cpu']:10,.0f} docs/CPU-s  {n / trove['wall']:10,.0f} docs/s")
    print(f"RATIO ours/datatrove per CPU-second: {trove['cpu'] / ours['cpu']:.2f}x")
    same = sum((i in ours["kept"]) == (i in trove["kept"]) for i in docs["id"])
    diffs = [
        abs(ours["scores"][i] - trove["scores"][i])
        for i in docs["id"]
        if trove["scores"].get(i) is not None
    ]
    print(
        f"agreement: {same / n:.4%} of keep/reject decisions equal ({n - same} differ); "
        f"kept ours {len(ours['kept'])}, datatrove {len(trove['kept'])}; "
        f"largest score difference {max(diffs):.4f} over {len(diffs)} scores"
    )


if __name__ == "__main__":
    main()
