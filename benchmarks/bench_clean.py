"""Clean stage benchmark: ours against datatrove's FTFY and PII formatters and
data-juicer's equivalent mappers, same documents, one run.

    nice -n 10 .venv/bin/python benchmarks/bench_clean.py [--docs 2000] [--seed 0]
        [--mix defects|web] [--paragraphs MIN MAX] [--only-stages]

First, on the same documents, each stage with its pre-checks (``fast``, what the
workflow runs) against its reference (``fast=False``, every measure in full, the code
before the pre-checks): clean, then line_corrections and filters on the documents
clean kept; docs per CPU-second each way, the ratio, and how many outputs are
byte-identical (clean: text, clean record, pii counts, reason, detail; the others:
text and their columns or reason and detail), with the CPU model. Runs on
2026-12-08 (2 cores of an "Intel(R) Xeon(R) Processor", commit a8df8b4), reference
-> pre-checks, every output and the stats identical:
- ``--docs 2000 --mix web --paragraphs 12 30`` (7.64 M characters): clean 305 ->
  1,430 (4.69x), line_corrections 1,072 -> 4,533 (4.23x), filters 332 -> 754
  (2.27x); with ``--seed 1`` clean 4.40x, line_corrections 5.73x, filters 2.31x;
  an hour earlier, with a build running beside, clean 5.22x and 5.23x. The ratios
  move by about 10% from run to run.
- ``--docs 2000`` (defect mix, 1.52 M characters): clean 1,170 -> 2,860 (2.44x),
  line_corrections 3,612 -> 16,477 (4.56x), filters 1,618 -> 2,243 (1.39x). Most
  of clean's time there is ftfy repairing real mojibake.
``--only-stages`` stops there; without it the comparison with the other tools
follows (the numbers below are from before the pre-checks).

One run (2026-12-01), 2,000 documents (1.52 M characters), on 2 shared cores of an "Intel(R)
Xeon(R) Processor" (lscpu), docs per CPU-second, ours/theirs:
- repair: ours 4,664, datatrove 4,994 (0.93x; the same ftfy call, all 2,000
  outputs identical), data-juicer 2,715 (1.72x; ftfy with its default config plus
  NFC, so 1,425 outputs differ: it turns Chinese full-width punctuation into ASCII
  and uncurls quotes, which we and datatrove keep).
- pii (emails + IPs): ours 34,332, datatrove 18,175 (1.89x), data-juicer 10,890
  (3.15x). 301 outputs differ from datatrove's: 293 contact pages, where we mask
  IPv6 addresses (datatrove has no IPv6 pattern); 8 pages of prose, where an email
  touching Chinese characters (发送给12345@bugs.debian.org) is ours only (datatrove's
  \b counts Han characters as word characters), and "inet:10002@127.0.0.1" is an
  email to datatrove but no address with a domain to us (and 127.0.0.1 is not
  public). data-juicer differs on 314: it masks private IPv4 (192.168.x, 10.x) and
  only fully written IPv6.
- t2s: ours 74,117, data-juicer 117,479 (0.63x): both call OpenCC and agree on all
  2,000 outputs; ours also counts the characters changed (a Python pass over each
  changed text), which data-juicer does not.
- stage (every step, default config): 1,275 docs per CPU-second; it rejected
  exactly the 87 GBK-as-latin-1 pages (garbled_text, mojibake) and masked 348
  emails, 614 IPs, 586 phones, 293 ID numbers and 293 cards (two phones, one ID and
  one card per contact page, plus addresses in the prose).

Corpus: built here from the reference prose shipped in resources/lm/ (en.txt.xz,
zh.txt.xz), documents of 2-6 paragraphs (``--paragraphs``) of these kinds (weights in
KINDS; ``--mix web``: WEB_KINDS, mostly plain pages): plain
English and Chinese; English with accents and curly quotes whose UTF-8 was read
as Windows-1252, and Chinese whose UTF-8 was read as latin-1 (mojibake ftfy
undoes); Chinese in traditional characters (OpenCC s2t of the prose); pages with
contact details (emails, public and private IPv4, IPv6, Chinese mobile and E.164
phones, resident ID numbers with their check character, Luhn-valid card numbers);
pages with cookie / old-browser / copyright / QR-code site lines; Chinese read
with the wrong codec (GBK as latin-1: garbled, nothing can repair it).

Compared, single process each, CPU seconds of the loop over the texts only (not
reading, not building the corpus, not imports):
- ``repair``: ours ``clean.text.Repair`` with ftfy configured as datatrove's
  ``FTFYFormatter`` defaults (no normalization, ligatures kept, whitespace step off)
  vs ``FTFYFormatter().format`` vs data-juicer's ``fix_unicode_mapper`` (ftfy's
  default config plus NFC: it also turns full-width Chinese punctuation into ASCII).
- ``pii``: ours ``clean.pii.find_and_mask`` restricted to emails and IPs (all
  that the others find) vs datatrove's ``PIIFormatter`` (emails, public IPv4) vs
  data-juicer's ``clean_email_mapper`` + ``clean_ip_mapper`` (replacements set to
  our placeholders; datatrove's example addresses are mapped back to them before
  outputs are compared).
- ``t2s``: ours ``clean.chinese.Converter("t2s")`` vs data-juicer's
  ``chinese_convert_mapper`` (mode t2s; both OpenCC) on every document.
- ``stage``: our whole stage (``clean.CleanStage``, default config: every step,
  all five PII kinds) on a DataFrame; no other tool does all of it.

Baselines run in their own venvs (never in .venv), which ``tools/install_bench.sh``
makes: ~/.cache/corpusforge/bench-venv (datatrove, benchmarks/requirements-datatrove.txt)
and ~/.cache/corpusforge/dj-venv (data-juicer, benchmarks/requirements-datajuicer.txt;
data-juicer installs ray and others with uv on the first import of its ops).
Printed: docs per CPU-second for each, the ratios ours/theirs, and how many
outputs differ, with the first difference of a few of them.
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
sys.path.insert(0, str(ROOT / "tests"))

import bench_dedup  # noqa: E402
from bench_dedup import CACHE, in_bench_venv, write_docs  # noqa: E402
from clean_pages import EN_SITE_LINES, SITE_LINES  # noqa: E402
from test_clean import clean_config, outcomes  # noqa: E402

from corpusforge.clean import CleanStage  # noqa: E402
from corpusforge.clean.chinese import Converter  # noqa: E402
from corpusforge.clean.pii import find_and_mask, luhn_valid  # noqa: E402
from corpusforge.clean.text import Repair  # noqa: E402
from corpusforge.filters import FiltersStage  # noqa: E402
from corpusforge.line_corrections import LineCorrectionsStage  # noqa: E402
from corpusforge.schema import with_defaults  # noqa: E402

DJ_VENV = CACHE / "dj-venv"
KINDS = {
    "en": 20,
    "zh": 20,
    "en_mojibake": 8,
    "zh_mojibake": 6,
    "zh_traditional": 12,
    "contacts": 14,
    "site_lines": 12,
    "garbled": 4,
}
# --mix web: mostly plain pages, each defect now and then (our assumption of a crawl
# after text extraction, not a measured rate).
WEB_KINDS = {
    "en": 42,
    "zh": 32,
    "en_mojibake": 1,
    "zh_mojibake": 1,
    "zh_traditional": 8,
    "contacts": 6,
    "site_lines": 9,
    "garbled": 1,
}
MIXES = {"defects": KINDS, "web": WEB_KINDS}
ACCENTS = ["café", "naïve", "résumé", "Zoë’s", "“quoted”", "— an aside —", "coöperate"]
DT_EMAILS = ("email@example.com", "firstname.lastname@example.org")
DT_IPS = ("22.214.171.124", "126.96.36.199", "188.8.131.52", "184.108.40.206")
DT_IPS += ("220.127.116.11", "18.104.22.168")

# ---------------------------------------------------------------- corpus


def paragraphs(lang: str) -> list[str]:
    with lzma.open(ROOT / f"resources/lm/{lang}.txt.xz", "rt", encoding="utf-8") as handle:
        return [line.strip() for line in handle if len(line.strip()) > 40]


def id_number(rng: random.Random) -> str:
    body = f"{rng.randint(110000, 659000)}{rng.randint(1950, 2005)}"
    body += f"{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def card(rng: random.Random) -> str:
    digits = str(rng.choice((4, 5, 6))) + "".join(str(rng.randint(0, 9)) for _ in range(14))
    check = next(str(d) for d in range(10) if luhn_valid(digits + str(d)))
    full = digits + check
    return " ".join(full[i : i + 4] for i in range(0, 16, 4))


def contact_lines(rng: random.Random, zh: bool) -> list[str]:
    user = rng.choice(["li.na", "wang_wei", "j.smith", "sales", "m.garcia"]) + str(
        rng.randint(1, 99)
    )
    email = f"{user}@{rng.choice(['example.com', 'mail.example.cn', 'shop.example.org'])}"
    ip4 = f"{rng.randint(11, 99)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    ip6 = f"2400:{rng.randint(0x1000, 0xFFFF):x}::{rng.randint(1, 0xFFF):x}"
    mobile = f"1{rng.choice('3456789')}{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}"
    e164 = f"+44 20 {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}"
    if zh:
        return [
            f"联系电话：{mobile}，国际热线 {e164}，邮箱：{email}。",
            f"服务器 {ip4}（内网 192.168.{rng.randint(0, 255)}.1），IPv6 {ip6}。",
            f"身份证号 {id_number(rng)}，付款卡号 {card(rng)}。",
        ]
    return [
        f"Call {e164} or write to {email} for details.",
        f"The mirror at {ip4} (and {ip6}) is public; 10.0.{rng.randint(0, 255)}.1 is not.",
        f"Card {card(rng)} was charged; ID {id_number(rng)} on file, mobile {mobile}.",
    ]


def make_corpus(
    n: int, seed: int, mix: dict[str, int] = KINDS, length: tuple[int, int] = (2, 6)
) -> pd.DataFrame:
    rng = random.Random(seed)
    pools = {lang: paragraphs(lang) for lang in ("en", "zh")}
    s2t = Converter("s2t")
    kinds = rng.choices(list(mix), weights=list(mix.values()), k=n)
    texts = []
    for kind in kinds:
        zh = kind.startswith("zh") or kind == "garbled"
        zh = zh or (kind in ("contacts", "site_lines") and rng.random() < 0.5)
        paras = rng.sample(pools["zh" if zh else "en"], rng.randint(*length))
        if kind == "en_mojibake":
            paras = [p.replace(" ", f" {rng.choice(ACCENTS)} ", 1) for p in paras]
        if kind == "contacts":
            paras += contact_lines(rng, zh)
        if kind == "site_lines":
            lines = SITE_LINES if zh else EN_SITE_LINES
            paras = [lines[0], *paras, *lines[1:]]
        text = "\n".join(paras)
        if kind == "en_mojibake":
            text = text.encode("utf-8").decode("cp1252", errors="ignore")
        elif kind == "zh_mojibake":
            text = text.encode("utf-8").decode("latin-1")
        elif kind == "zh_traditional":
            text = s2t(text)[0]
        elif kind == "garbled":
            text = text.encode("gbk", errors="ignore").decode("latin-1")
        texts.append(text)
    ids = [f"{i:016x}" for i in range(n)]
    return pd.DataFrame({"id": ids, "seed_id": ids, "origin": "web", "kind": kinds, "text": texts})


# ---------------------------------------------------------------- runs


def timed(fn, texts: list[str]) -> tuple[list[str], float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    out = [fn(t) for t in texts]
    return out, time.process_time() - cpu, time.perf_counter() - wall


def ours(texts: list[str], frame: pd.DataFrame) -> dict:
    repair = Repair.from_config(
        {**clean_config()["unicode"], "normalization": None, "fix_latin_ligatures": False}
    )
    repair = Repair(repair.fixer, whitespace=False)
    runs = {
        "repair": timed(lambda t: repair(t)[0], texts),
        "pii": timed(lambda t: find_and_mask(t, ("email", "ip"))[0], texts),
        "t2s": timed(lambda t: t2s(t)[0], texts) if (t2s := Converter("t2s")) else None,
    }
    stage = CleanStage(clean_config())
    cpu, wall = time.process_time(), time.perf_counter()
    kept, rejects, _ = stage(frame[["id", "seed_id", "origin", "text"]])
    runs["stage"] = (None, time.process_time() - cpu, time.perf_counter() - wall)
    print(f"  stage kept {len(kept)}, rejected {dict(rejects['reason'].value_counts())}")
    return runs


BASELINE = r"""
import json, sys, time
src, dst, tool = sys.argv[1], sys.argv[2], sys.argv[3]
texts = [json.loads(line)["text"] for line in open(src, encoding="utf-8")]
if tool == "datatrove":
    from datatrove.pipeline.formatters import FTFYFormatter, PIIFormatter
    steps = {"repair": FTFYFormatter().format, "pii": PIIFormatter().format}
else:
    from data_juicer.ops.mapper.chinese_convert_mapper import ChineseConvertMapper
    from data_juicer.ops.mapper.clean_email_mapper import CleanEmailMapper
    from data_juicer.ops.mapper.clean_ip_mapper import CleanIpMapper
    from data_juicer.ops.mapper.fix_unicode_mapper import FixUnicodeMapper
    def batched(*ops):
        def run(text):
            sample = {"text": [text]}
            for op in ops:
                sample = op.process_batched(sample)
            return sample["text"][0]
        return run
    steps = {
        "repair": batched(FixUnicodeMapper()),
        "pii": batched(CleanEmailMapper(repl="<EMAIL>"), CleanIpMapper(repl="<IP>")),
        "t2s": batched(ChineseConvertMapper(mode="t2s")),
    }
result = {}
for name, fn in steps.items():
    fn(texts[0])  # warm up (lazy imports, OpenCC dictionaries)
    cpu, wall = time.process_time(), time.perf_counter()
    out = [fn(t) for t in texts]
    result[name] = [out, time.process_time() - cpu, time.perf_counter() - wall]
json.dump(result, open(dst, "w", encoding="utf-8"), ensure_ascii=False)
print("DATATROVE done")
"""


def baseline(tool: str, texts: list[str]) -> dict | str:
    """Run BASELINE in the tool's venv (bench_dedup.in_bench_venv, pointed at it)."""
    saved = bench_dedup.BENCH_VENV
    if tool == "data-juicer":
        bench_dedup.BENCH_VENV = DJ_VENV
    try:
        with tempfile.TemporaryDirectory() as tmp:
            src, dst = Path(tmp) / "docs.jsonl", Path(tmp) / "out.json"
            write_docs(src, range(len(texts)), texts)
            out, error = in_bench_venv(BASELINE, str(src), str(dst), tool)
            return error if out is None else json.loads(dst.read_text(encoding="utf-8"))
    finally:
        bench_dedup.BENCH_VENV = saved


# ---------------------------------------------------------------- report


def normalised(text: str) -> str:
    """datatrove's replacement addresses as our placeholders."""
    for email in DT_EMAILS:
        text = text.replace(email, "<EMAIL>")
    for ip in DT_IPS:
        text = text.replace(ip, "<IP>")
    return text


def first_difference(a: str, b: str, width: int = 40) -> str:
    i = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    lo = max(0, i - 10)
    return f"ours {a[lo : i + width]!r} | theirs {b[lo : i + width]!r}"


def compare(step: str, ours_out: list[str], theirs: list[str], kinds: list[str]) -> None:
    differ = [i for i, (a, b) in enumerate(zip(ours_out, theirs, strict=True)) if a != b]
    by_kind = pd.Series([kinds[i] for i in differ], dtype=object).value_counts().to_dict()
    print(f"    {len(differ)} of {len(ours_out)} outputs differ, by kind {by_kind}")
    for i in differ[:3]:
        print(f"      {kinds[i]}: {first_difference(ours_out[i], theirs[i])}")


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def row_outcomes(kept: pd.DataFrame, rejects: pd.DataFrame, columns: list[str]) -> dict:
    """Every document's result by id: the kept row's ``columns`` or (reason, detail)."""
    found = {row["id"]: ("kept", *(repr(row[c]) for c in columns)) for _, row in kept.iterrows()}
    for _, row in rejects.iterrows():
        found[row["id"]] = ("rejected", row["reason"], row["detail"])
    return found


def compare_paths(name: str, docs: pd.DataFrame, run, results) -> pd.DataFrame:
    """Run ``run(docs, fast)`` both ways: docs per CPU-second, identical outputs."""
    runs = {}
    for fast in (False, True):
        cpu, wall = time.process_time(), time.perf_counter()
        out = run(docs, fast)
        runs[fast] = (out, time.process_time() - cpu, time.perf_counter() - wall)
    (ref, ref_cpu, ref_wall), (new, new_cpu, new_wall) = runs[False], runs[True]
    ref_docs, new_docs = results(*ref[:2]), results(*new[:2])
    same = sum(ref_docs[i] == new_docs.get(i) for i in ref_docs)
    print(
        f"  {name:17} reference {len(docs) / ref_cpu:7,.0f} docs/CPU-s, pre-checks "
        f"{len(docs) / new_cpu:7,.0f} docs/CPU-s: {ref_cpu / new_cpu:.2f}x; {same} of "
        f"{len(ref_docs)} outputs identical, stats identical: {ref[2] == new[2]} "
        f"(wall {ref_wall:.1f} s vs {new_wall:.1f} s)"
    )
    for i in [i for i in ref_docs if ref_docs[i] != new_docs.get(i)][:3]:
        print(f"    differs: {i} {ref_docs[i]!r:.200} vs {new_docs.get(i)!r:.200}")
    return new[0]


def fast_vs_reference(frame: pd.DataFrame) -> None:
    """Each stage with its pre-checks (``fast=True``, what the workflow
    runs) against the reference (``fast=False``: every measure in full, the code
    before the pre-checks), on the same documents, in the workflow's order: clean,
    then line corrections and the heuristic filters on the documents clean kept.
    Printed: docs per CPU-second each way and how many outputs are identical (clean:
    text, clean record, pii counts, reason, detail; the others: text and their
    columns, or reason and detail)."""
    print(f"\nstages, pre-checks vs reference ({cpu_model()}, {len(frame)} documents):")
    cfg = clean_config()
    kept = compare_paths(
        "clean",
        frame[["id", "seed_id", "origin", "text"]],
        lambda docs, fast: CleanStage(cfg, fast=fast)(docs),
        outcomes,
    )
    lc_cfg = with_defaults("line_corrections", {})
    compare_paths(
        "line_corrections",
        kept[["id", "seed_id", "origin", "text"]],
        lambda docs, fast: LineCorrectionsStage(lc_cfg, fast=fast)(docs),
        lambda k, r: row_outcomes(k, r, ["text", "corrected_lines", "corrected_chars"]),
    )
    f_cfg = with_defaults("filters", {})
    compare_paths(
        "filters",
        kept[["id", "seed_id", "origin", "text"]],
        lambda docs, fast: FiltersStage(f_cfg, fast=fast)(docs),
        lambda k, r: row_outcomes(k, r, ["text", "filter_lines_removed"]),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mix", choices=sorted(MIXES), default="defects")
    parser.add_argument(
        "--paragraphs", type=int, nargs=2, default=(2, 6), metavar=("MIN", "MAX"),
        help="paragraphs per document (12 30: about 900 English words)",
    )  # fmt: skip
    parser.add_argument(
        "--only-stages",
        action="store_true",
        help="only the stages with pre-checks vs the reference (no other tools)",
    )
    args = parser.parse_args()
    frame = make_corpus(args.docs, args.seed, MIXES[args.mix], tuple(args.paragraphs))
    texts, kinds = frame["text"].tolist(), frame["kind"].tolist()
    chars = sum(map(len, texts))
    print(
        f"{len(texts)} documents, {chars / 1e6:.2f} M characters, "
        f"{args.paragraphs[0]}-{args.paragraphs[1]} paragraphs, kinds {MIXES[args.mix]}"
    )
    fast_vs_reference(frame)
    if args.only_stages:
        return
    mine = ours(texts, frame)
    others = {tool: baseline(tool, texts) for tool in ("datatrove", "data-juicer")}
    print(f"\n{'step':8} {'tool':12} {'docs/CPU-s':>11} {'docs/s wall':>12} {'ours/theirs':>12}")
    for step in ("repair", "pii", "t2s", "stage"):
        if mine.get(step) is None:
            continue
        out, cpu, wall = mine[step]
        rate = len(texts) / cpu
        print(f"{step:8} {'ours':12} {rate:11,.0f} {len(texts) / wall:12,.0f}")
        for tool, result in others.items():
            if isinstance(result, str):
                print(f"{step:8} {tool:12} unavailable: {result[:200]}")
                continue
            if step not in result:
                continue
            theirs, t_cpu, t_wall = result[step]
            t_rate = len(texts) / t_cpu
            print(
                f"{step:8} {tool:12} {t_rate:11,.0f} {len(texts) / t_wall:12,.0f} "
                f"{rate / t_rate:11.2f}x"
            )
            compare(step, out, [normalised(t) for t in theirs], kinds)


if __name__ == "__main__":
    main()
