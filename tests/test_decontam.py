"""Decontamination: planted benchmark passages are found (en and zh), unrelated texts are not."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pandas as pd
import pytest

from corpusforge.decontam import (
    Benchmark,
    DecontamError,
    DecontamStage,
    Index,
    build_index,
    ngram_hashes,
    run_index,
    settings,
    tokens,
)
from corpusforge.io import read_json, read_parquet, run_doc_stage, write_parquet
from corpusforge.schema import with_defaults

ROOT = Path(__file__).resolve().parents[1]
DOCS = json.loads((ROOT / "tests" / "data" / "filters_docs.json").read_text(encoding="utf-8"))

QUESTION = (
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many "
    "clips in May. How many clips did Natalia sell altogether in April and May?"
)
ZH_QUESTION = "小明有五个苹果，他给了小红两个，又从妈妈那里得到了三个，请问小明现在一共有几个苹果？"


def write_benchmarks(tmp: Path) -> dict[str, str]:
    gsm = tmp / "gsm.jsonl"
    gsm.write_text(
        "\n".join(
            json.dumps({"question": q, "answer": a}, ensure_ascii=False)
            for q, a in [(QUESTION, "72"), ("Too short to index.", "1")]
        )
        + "\n",
        encoding="utf-8",
    )
    cmath = tmp / "cmath.parquet"
    write_parquet(pd.DataFrame({"text": [ZH_QUESTION], "choices": [["六个", "七个"]]}), cmath)
    return {"gsm": str(gsm), "cmath": str(cmath)}


CFG = with_defaults(
    "decontam",
    {
        "benchmarks": {
            "gsm": {"source": {"path": "gsm.jsonl"}, "text_fields": ["question", "answer"]},
            "cmath": {"source": {"path": "cmath.parquet"}},
        }
    },
)
N = CFG["n"]  # the schema's default, 13


@pytest.fixture
def index(tmp_path) -> Index:
    files = write_benchmarks(tmp_path)
    benches = [
        Benchmark("gsm", files["gsm"], ("question", "answer")),
        Benchmark("cmath", files["cmath"], ("text",)),
    ]
    frame, stats = build_index(benches, N)
    assert stats["benchmarks"]["gsm"] == {
        "texts": 4,
        "too_short": 3,
        "ngrams": 19,
        "skipped_values": {"not_text": 0, "null": 0},
    }
    assert stats["benchmarks"]["cmath"]["ngrams"] == len(tokens(ZH_QUESTION)) - 12
    return Index.from_frame(frame, N)


def test_tokens_normalise_case_width_punctuation():
    assert tokens("Hello,  WORLD!\n\tIt's") == ["hello", "world", "it", "s"]
    assert tokens("小明有ＡＢＣ，「好」") == ["小", "明", "有", "abc", "好"]
    assert len(ngram_hashes(tokens("a b c"), 13)) == 0
    h = ngram_hashes(tokens("one two three four"), 2)
    assert len(h) == 3 and h.dtype.name == "uint64" and len(set(h.tolist())) == 3


def test_planted_passage_found_with_other_whitespace_and_case(index):
    doc = DOCS["en"] + "\n" + QUESTION.upper().replace(" ", "\n  ") + "\nThe end."
    match = index.first_match(doc)
    assert match == ("gsm", "natalia sold clips to 48 of her friends in april and then she")
    # a part of 13 words is enough; 12 is not
    words = QUESTION.split()
    assert index.first_match("Intro. " + " ".join(words[5:18]) + " outro") is not None
    assert index.first_match("Intro. " + " ".join(words[5:17]) + " outro") is None


def test_zh_passage_found_by_characters(index):
    doc = DOCS["zh"] + "练习题：" + ZH_QUESTION.replace("，", " , ")
    bench, gram = index.first_match(doc)
    assert bench == "cmath" and gram == "小明有五个苹果他给了小红两个"[:13]
    assert index.first_match(DOCS["zh"]) is None
    assert index.first_match(ZH_QUESTION[:12]) is None


def test_unrelated_texts_pass(index):
    assert index.first_match(DOCS["en"]) is None
    assert index.first_match("Natalia sold books in June and bought clips in July.") is None


def test_stage_every_id_once(tmp_path):
    files = write_benchmarks(tmp_path)
    index_file, index_stats = tmp_path / "index.parquet", tmp_path / "index.json"
    run_index(files, CFG, str(index_file), str(index_stats))
    assert read_json(index_stats)["unique_ngrams"] == len(read_parquet(index_file))
    docs = pd.DataFrame(
        {
            "id": ["d", "a", "c", "b"],
            "seed_id": ["s1", "s2", "s3", "s4"],
            "source": "t",
            "row": [1, 2, 3, 4],
            "text": [DOCS["en"], DOCS["en"] + " " + QUESTION, DOCS["zh"], ZH_QUESTION],
            "lang": ["en", "en", "zh", "zh"],
        }
    )
    src = tmp_path / "in.parquet"
    write_parquet(docs, src)
    outs = []
    for run in ("1", "2"):
        paths = [tmp_path / run / f for f in ("docs.parquet", "rej.parquet", "stats.json")]
        stage = DecontamStage(CFG, {"index": index_file})
        stats = run_doc_stage(stage, src, *paths, shard="0003")
        outs.append([p.read_bytes() for p in paths])
    assert outs[0] == outs[1]
    kept, rejects = read_parquet(paths[0]), read_parquet(paths[1])
    assert kept["id"].tolist() == ["c", "d"]
    assert rejects["id"].tolist() == ["a", "b"]
    assert set(rejects["reason"]) == {"contaminated"}
    assert [json.loads(d)["benchmark"] for d in rejects["detail"]] == ["gsm", "cmath"]
    assert stats["contaminated_by_benchmark"] == {"cmath": 1, "gsm": 1}
    assert stats["in"] == 4 and stats["kept"] == 2 and stats["shard"] == "0003"


def test_config_errors(tmp_path):
    # the schema refuses a bad n or source; a benchmark's text fields default to [text]
    with pytest.raises(jsonschema.ValidationError, match="0 is less than the minimum of 1"):
        with_defaults("decontam", {"n": 0})
    with pytest.raises(jsonschema.ValidationError, match="is valid under each of"):
        with_defaults(
            "decontam", {"benchmarks": {"x": {"source": {"path": "a", "url": "https://b/c"}}}}
        )
    assert settings(CFG)["benchmarks"]["cmath"]["text_fields"] == ["text"]
    files = write_benchmarks(tmp_path)
    with pytest.raises(DecontamError, match="no field"):
        build_index([Benchmark("gsm", files["gsm"], ("problem",))], N)


def test_values_that_are_no_text_are_counted_not_dropped(tmp_path, caplog):
    """MMLU-style rows: an integer answer, a missing explanation, a list of choices."""
    path = tmp_path / "mmlu.jsonl"
    rows = [
        {"question": QUESTION, "answer": 2, "choices": ["seventy two", 72], "why": None},
        {"question": ZH_QUESTION, "answer": 1, "choices": ["七十二"], "why": "because"},
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    fields = ("question", "answer", "choices", "why")
    with caplog.at_level("WARNING", logger="corpusforge.decontam"):
        _, stats = build_index([Benchmark("mmlu", str(path), fields)], N)
    counts = stats["benchmarks"]["mmlu"]
    assert counts["texts"] == 5  # 2 questions, 2 choices, 1 explanation
    assert counts["skipped_values"] == {"not_text": 3, "null": 1}
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "mmlu.jsonl" in warned and "'answer'" in warned and "'why'" in warned


def test_cjk_range_punctuation_is_a_separator():
    # U+30FB (katakana middle dot) lies in the kana block but is punctuation
    assert tokens("トム・ハンクス") == ["ト", "ム", "ハ", "ン", "ク", "ス"]
    assert tokens("长江，黄河。Yangtze") == ["长", "江", "黄", "河", "yangtze"]
