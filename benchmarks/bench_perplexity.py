"""Benchmark the perplexity stage against two loops run on the same documents here.

  stage     corpusforge.perplexity.score_frame + PerplexityBucketStage on a DataFrame shard
  bare      the minimal loop over the same models: fast normalization, sp.encode of the
            document's lines, lm.score per line, the CC-NET formula (goal: stage >= 90%)
  ccnet     the cc_net-style loop: per-character unicodedata normalization of each line,
            sp.encode per line, lm.score per line

Documents: ~30 lines (paragraphs) each, cut from the default reference text in
resources/lm (en and zh), so no download is needed. Models: the default en/zh models,
trained once and cached under ~/.cache/corpusforge/bench-lm (needs lmplz from
tools/build_kenlm.sh). Each variant runs --rounds times, interleaved; the best round
counts. docs/s are given per wall second and per CPU second of this process (the CPU
figure is steadier on a shared machine); ratios use CPU seconds.

    python benchmarks/bench_perplexity.py [--docs 1500] [--lines 30] [--rounds 3]
                                          [--lang en|zh|both]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

from corpusforge import perplexity as pp
from corpusforge.perplexity.normalize import _PUNCT
from corpusforge.records import stable_id
from corpusforge.schema import with_defaults

REPO = Path(__file__).resolve().parents[1]


def build_docs(n_docs: int, lines: int) -> pd.DataFrame:
    """``n_docs`` documents of ``lines`` paragraphs, half en half zh, cut from the
    reference text with a sliding window."""
    rows = []
    for lang in ("en", "zh"):
        paras = [p for d in pp.read_reference(REPO / f"resources/lm/{lang}.txt.xz") for p in d]
        step = max(1, (len(paras) - lines) // (n_docs // 2))
        for k in range(n_docs // 2):
            start = (k * step) % (len(paras) - lines)
            text = "\n".join(paras[start : start + lines])
            rows.append({"id": stable_id("bench", lang, k), "lang": lang, "text": text})
    frame = pd.DataFrame(rows)
    frame["seed_id"] = frame["id"]
    frame["prompt_lang"] = frame["lang"]
    return frame.sort_values("id").reset_index(drop=True)


def default_models() -> dict[str, pp.LanguageModel]:
    cfg = pp.settings(with_defaults("perplexity"))
    cache = Path.home() / ".cache" / "corpusforge" / "bench-lm"
    models = {}
    for lang in ("en", "zh"):
        reference = REPO / cfg["models"][lang]["reference"]["path"]
        settings = pp.training_settings(cfg["training"], cfg["models"][lang])
        key = hashlib.sha256(
            reference.read_bytes() + json.dumps(settings, sort_keys=True).encode()
        ).hexdigest()[:16]
        sp_file, lm_file = cache / f"{lang}-{key}.sp.model", cache / f"{lang}-{key}.arpa.bin"
        if not lm_file.exists():
            print(f"training the default {lang} model (once) ...", file=sys.stderr)
            pp.train_language_model(lang, reference, sp_file, lm_file, settings)
        models[lang] = pp.LanguageModel.load(lang, sp_file, lm_file)
    return models


# --------------------------------------------------------------------------- variants


def run_stage(frame: pd.DataFrame, models) -> np.ndarray:
    scored = pp.score_frame(frame, models)
    corpus = pp.corpus_perplexities([scored], models)
    cutoffs = pp.gather_cutoffs(corpus, {}, {}, "corpus", [30, 60], 20)
    stage = pp.PerplexityBucketStage({"models": list(models)}, {"cutoffs": cutoffs})
    kept, _, _ = stage(scored)
    return kept.set_index("id").loc[frame["id"], "perplexity"].to_numpy()


def run_bare(frame: pd.DataFrame, models) -> np.ndarray:
    out = []
    for text, lang in zip(frame["text"], frame["lang"], strict=True):
        model = models[lang]
        lines = pp.normalized_lines(text)
        log_sum, count = 0.0, 0
        for pieces in model.sp.encode(lines, out_type=str):
            log_sum += model.lm.score(" ".join(pieces))
            count += len(pieces) + 1
        out.append(10 ** (-log_sum / count) if count else float("nan"))
    return np.round(np.asarray(out), 1)


_DIGITS = re.compile(r"\d")


def ccnet_normalize(line: str) -> str:
    """cc_net's normalization steps with per-character unicodedata calls."""
    line = line.strip()
    if not line:
        return line
    line = line.lower()
    line = "".join(c for c in unicodedata.normalize("NFD", line) if unicodedata.category(c) != "Mn")
    line = _DIGITS.sub("0", line)
    line = "".join(_PUNCT.get(c, c) for c in line)
    return "".join(c for c in line if not unicodedata.category(c).startswith("C"))


def run_ccnet(frame: pd.DataFrame, models) -> np.ndarray:
    out = []
    for text, lang in zip(frame["text"], frame["lang"], strict=True):
        model = models[lang]
        log_sum, count = 0.0, 0
        for raw in text.split("\n"):
            line = ccnet_normalize(raw)
            if not line:
                continue
            pieces = model.sp.encode(line, out_type=str)
            log_sum += model.lm.score(" ".join(pieces))
            count += len(pieces) + 1
        out.append(10 ** (-log_sum / count) if count else float("nan"))
    return np.round(np.asarray(out), 1)


def run_normalize_only(frame: pd.DataFrame, models) -> None:
    for text in frame["text"]:
        pp.normalized_lines(text)


VARIANTS = {
    "stage": run_stage,
    "bare": run_bare,
    "ccnet": run_ccnet,
    "normalize_only": run_normalize_only,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=1500)
    parser.add_argument("--lines", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lang", choices=["en", "zh", "both"], default="both")
    args = parser.parse_args()

    frame = build_docs(args.docs if args.lang == "both" else 2 * args.docs, args.lines)
    if args.lang != "both":
        frame = frame[frame["lang"] == args.lang].reset_index(drop=True)
    models = default_models()
    chars = int(frame["text"].str.len().mean())
    print(
        f"{len(frame)} documents (en {sum(frame.lang == 'en')}, zh {sum(frame.lang == 'zh')}), "
        f"{args.lines} lines, {chars} characters on average; rounds: {args.rounds}"
    )
    reference = run_bare(frame, models)
    for name in ("stage", "ccnet"):
        got = VARIANTS[name](frame, models)
        diff = np.nanmax(np.abs(got - reference) / reference)
        print(f"  {name} vs bare: max relative perplexity difference {diff:.2e}")

    best: dict[str, tuple[float, float]] = {}
    for _ in range(args.rounds):
        for name, fn in VARIANTS.items():
            wall, cpu = time.perf_counter(), time.process_time()
            fn(frame, models)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            old = best.get(name, (float("inf"), float("inf")))
            best[name] = (min(old[0], wall), min(old[1], cpu))

    print(f"\n{'variant':<16}{'docs/s wall':>14}{'docs/s CPU':>14}")
    for name, (wall, cpu) in best.items():
        print(f"{name:<16}{len(frame) / wall:>14,.0f}{len(frame) / cpu:>14,.0f}")
    stage_cpu = best["stage"][1]
    print(
        f"\nstage / bare  = {best['bare'][1] / stage_cpu:.2f} (goal >= 0.90)"
        f"\nstage / ccnet = {best['ccnet'][1] / stage_cpu:.2f}"
        f"\n(per wall second: {best['bare'][0] / best['stage'][0]:.2f} and "
        f"{best['ccnet'][0] / best['stage'][0]:.2f})"
    )


if __name__ == "__main__":
    main()
