"""Seed stage: formats, column mapping, bad rows, sampling."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from corpusforge.records import REJECT_COLUMNS
from corpusforge.seed import SeedError, SeedSpec, guess_lang, ingest_file

ROOT = Path(__file__).resolve().parents[1]
ROWS = [
    {"doc": "First extract about tides and the moon.", "key": "a1", "language": "en"},
    {"doc": "潮汐是由月球引力引起的海水周期性涨落。", "key": "a2", "language": "zh"},
    {"doc": "A third row about sourdough starters.", "key": "a3", "language": "en"},
]
MAPPED = SeedSpec(name="web", columns={"text": "doc", "id": "key", "lang": "language"})


def write_jsonl(path: Path, rows: list[dict], opener=open) -> Path:
    with opener(path, "wt", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def write_zst(path: Path, rows: list[dict]) -> Path:
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    path.write_bytes(zstandard.ZstdCompressor().compress(data))
    return path


def write_csv(path: Path, rows: list[dict], delimiter=",", opener=open) -> Path:
    with opener(path, "wt", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.mark.parametrize(
    "name, writer",
    [
        ("seed.jsonl", write_jsonl),
        ("seed.jsonl.gz", lambda p, r: write_jsonl(p, r, opener=gzip.open)),
        ("seed.jsonl.zst", write_zst),
        ("seed.csv", write_csv),
        ("seed.csv.gz", lambda p, r: write_csv(p, r, opener=gzip.open)),
        ("seed.tsv", lambda p, r: write_csv(p, r, delimiter="\t")),
        ("seed.parquet", lambda p, r: pq.write_table(pa.Table.from_pylist(r), p) or p),
    ],
)
def test_every_format_gives_the_same_records(tmp_path, name, writer):
    path = tmp_path / name
    writer(path, ROWS)
    records, rejects, stats = ingest_file(path, MAPPED)
    assert rejects.empty
    assert stats["in"] == 3 and stats["kept"] == 3 and stats["rejected"] == 0
    by_source_id = records.set_index("source_id")
    assert by_source_id.loc["a2", "text"] == ROWS[1]["doc"]
    assert by_source_id.loc["a2", "lang"] == "zh"
    assert by_source_id.loc["a1", "row"] == 1
    assert set(records["source"]) == {"web"}
    assert (records["id"] == records["seed_id"]).all()
    # the id depends on the source and the text only, not on the file format
    reference, _, _ = ingest_file(write_jsonl(tmp_path / "ref.jsonl", ROWS), MAPPED)
    assert sorted(records["id"]) == sorted(reference["id"])


def test_bad_jsonl_rows_are_rejected_with_reasons(tmp_path):
    path = tmp_path / "bad.jsonl"
    lines = [
        json.dumps({"text": "a good row"}).encode(),
        json.dumps({"other": "no text field"}).encode(),
        json.dumps({"text": None}).encode(),
        json.dumps({"text": "   \n "}).encode(),
        b'{"text": "broken \xff\xfe bytes"}',
        b"{not json",
        b"[1, 2]",
        json.dumps({"text": 42}).encode(),
        json.dumps({"text": "a good row"}).encode(),  # exact duplicate of row 1
        b"",  # a blank line is not a row
        json.dumps({"text": "another good row"}).encode(),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    records, rejects, stats = ingest_file(path, SeedSpec(name="bad"))
    assert list(records["text"].sort_values()) == ["a good row", "another good row"]
    reasons = dict(zip(rejects["row"], rejects["reason"], strict=True))
    assert reasons == {
        2: "missing_text",
        3: "missing_text",
        4: "empty_text",
        5: "invalid_utf8",
        6: "invalid_json",
        7: "invalid_json",
        8: "invalid_text",
        9: "duplicate_text",
    }
    assert list(rejects.columns) == REJECT_COLUMNS
    assert set(rejects["stage"]) == {"seed"}
    assert rejects["source"].str.contains("bad.jsonl").all()
    assert "\ufffd" in rejects.set_index("row").loc[5, "text"]  # undecodable bytes kept, replaced
    assert stats["in"] == 10 == stats["kept"] + stats["rejected"]
    assert stats["rejected_by_reason"]["missing_text"] == 2
    assert stats["blank_lines"] == 1  # not a row, but counted


def test_bad_csv_rows(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(
        b"text,lang\n"
        b"fine row,en\n"
        b"caf\xe9 in latin-1,fr\n"
        b",en\n"
        b"too,many,fields\n"
        b'"quoted, with comma",en\n'
    )
    records, rejects, stats = ingest_file(path, SeedSpec(name="c", columns={"text": "text"}))
    assert sorted(records["text"]) == ["fine row", "quoted, with comma"]
    assert dict(zip(rejects["row"], rejects["reason"], strict=True)) == {
        2: "invalid_utf8",
        3: "empty_text",
        4: "invalid_csv",
    }
    assert stats["in"] == 5


def test_blank_lines_are_counted(tmp_path):
    jsonl = tmp_path / "blank.jsonl"
    jsonl.write_text('{"text": "one"}\n\n   \n{"text": "two"}\n\n')
    csv_path = tmp_path / "blank.csv"
    csv_path.write_text("text\none\n\ntwo\n\n")
    parquet = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist([{"text": "one"}]), parquet)
    counts = {}
    for path in (jsonl, csv_path, parquet):
        records, rejects, stats = ingest_file(path, SeedSpec(name="b"))
        assert rejects.empty and stats["in"] == len(records)
        counts[path.suffix] = (stats["in"], stats["blank_lines"])
    assert counts == {".jsonl": (2, 3), ".csv": (2, 2), ".parquet": (1, 0)}


def test_a_repeated_user_id_keeps_the_first_row(tmp_path):
    """Policy: the first kept row with an id keeps it; later rows with that id are
    rejected as duplicate_source_id, so source_id names one row of the build."""
    rows = [
        {"doc": "An empty first try.", "key": "k1"},
        {"doc": "", "key": "k2"},  # rejected as empty: its id stays free
        {"doc": "Kept with k2.", "key": "k2"},
        {"doc": "Another text with k1.", "key": "k1"},
        {"doc": "An empty first try.", "key": "k3"},  # same text as row 1
        {"doc": "No id: the row number.", "key": None},
        {"doc": "No id either.", "key": None},
    ]
    spec = SeedSpec(name="ids", columns={"text": "doc", "id": "key"})
    records, rejects, stats = ingest_file(write_jsonl(tmp_path / "ids.jsonl", rows), spec)
    assert dict(zip(records["source_id"], records["row"], strict=True)) == {
        "k1": 1,
        "k2": 3,
        "6": 6,
        "7": 7,
    }
    reasons = dict(zip(rejects["row"], rejects["reason"], strict=True))
    assert reasons == {2: "empty_text", 4: "duplicate_source_id", 5: "duplicate_text"}
    assert rejects.set_index("row").loc[4, "detail"] == "same 'key' as row 1"
    assert stats["rejected_by_reason"]["duplicate_source_id"] == 1
    assert stats["in"] == 7 == stats["kept"] + stats["rejected"]


def test_undecodable_binary_parquet_column(tmp_path):
    path = tmp_path / "bin.parquet"
    table = pa.table({"text": pa.array([b"ok bytes", b"\xff\xfe\xfa"], type=pa.binary())})
    pq.write_table(table, path)
    records, rejects, _ = ingest_file(path, SeedSpec(name="b"))
    assert list(records["text"]) == ["ok bytes"]
    assert list(rejects["reason"]) == ["invalid_utf8"]
    assert "column 'text'" in rejects["detail"].iloc[0]


def test_missing_text_column_is_a_config_error_naming_file_and_key(tmp_path):
    path = write_jsonl(tmp_path / "x.jsonl", ROWS)
    with pytest.raises(SeedError) as err:
        ingest_file(path, SeedSpec(name="web", columns={"text": "body"}))
    message = str(err.value)
    assert "x.jsonl" in message and "seeds.web.columns.text" in message and "'body'" in message


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(SeedError, match="does not exist"):
        ingest_file(tmp_path / "nope.jsonl", SeedSpec(name="n"))
    odd = tmp_path / "seed.data"
    odd.write_text("x")
    with pytest.raises(SeedError, match=r"set `format`"):
        ingest_file(odd, SeedSpec(name="n"))
    # an explicit format makes the same file readable
    write_jsonl(odd, [{"text": "declared jsonl"}])
    records, _, _ = ingest_file(odd, SeedSpec(name="n", format="jsonl"))
    assert list(records["text"]) == ["declared jsonl"]


def test_corrupt_compressed_file_names_the_file(tmp_path):
    path = tmp_path / "broken.jsonl.gz"
    path.write_bytes(b"this is not gzip data")
    with pytest.raises(SeedError, match=r"broken\.jsonl\.gz"):
        ingest_file(path, SeedSpec(name="g"))


def test_sampling_is_seeded_and_independent_of_row_order(tmp_path):
    rows = [{"text": f"row number {i} with some words"} for i in range(50)]
    spec = SeedSpec(name="s", sample={"n": 10, "seed": 7})
    a, rej_a, stats = ingest_file(write_jsonl(tmp_path / "a.jsonl", rows), spec)
    b, _, _ = ingest_file(write_jsonl(tmp_path / "b.jsonl", rows[::-1]), spec)
    assert len(a) == 10 and sorted(a["text"]) == sorted(b["text"])
    assert (rej_a["reason"] == "not_sampled").sum() == 40
    assert stats["in"] == 50 and stats["kept"] + stats["rejected"] == 50
    other, _, _ = ingest_file(tmp_path / "a.jsonl", SeedSpec(name="s", sample={"n": 10, "seed": 8}))
    assert sorted(other["text"]) != sorted(a["text"])
    # sampled-out rows keep their ids so the audit can find them
    assert rej_a["id"].notna().all() and set(rej_a["id"]).isdisjoint(a["id"])


def test_lang_fallbacks(tmp_path):
    rows = [{"text": "plain English words here"}, {"text": "这是一段中文文本，用于测试。"}]
    path = write_jsonl(tmp_path / "l.jsonl", rows)
    auto, _, _ = ingest_file(path, SeedSpec(name="l"))
    assert dict(zip(auto["text"], auto["lang"], strict=True)) == {
        rows[0]["text"]: "en",
        rows[1]["text"]: "zh",
    }
    fixed, _, _ = ingest_file(path, SeedSpec(name="l", lang="de"))
    assert set(fixed["lang"]) == {"de"}
    assert guess_lang("漢字與English混合的句子，主要是中文內容") == "zh"


def test_ready_prompt_seed_maps_cosmopedia_columns(tmp_path):
    rows = [
        {
            "prompt": "Write a textbook unit about tides.",
            "format": "textbook",
            "audience": "college_students",
            "seed_data": "web_samples_v1",
        }
    ]
    spec = SeedSpec(
        name="cosmo",
        kind="prompts",
        columns={
            "text": "prompt",
            "format": "format",
            "audience": "audience",
            "seed_data": "seed_data",
        },
    )
    records, _, _ = ingest_file(write_jsonl(tmp_path / "p.jsonl", rows), spec)
    rec = records.iloc[0]
    assert rec["kind"] == "prompts" and rec["format"] == "textbook"
    assert rec["audience"] == "college_students" and rec["seed_data"] == "web_samples_v1"


def test_default_seed_ships_48_rows_in_en_and_zh():
    spec = SeedSpec.from_config(
        "default",
        {"columns": {"text": "text", "id": "id", "lang": "lang", "topic": "topic", "url": "url"}},
    )
    records, rejects, _ = ingest_file(ROOT / "resources/seed/extracts.jsonl", spec)
    assert rejects.empty and len(records) == 48
    counts = records["lang"].value_counts()
    assert counts["en"] >= 20 and counts["zh"] >= 15
    assert records["topic"].notna().all() and records["topic"].nunique() == 48
    assert isinstance(records, pd.DataFrame)


# ---------------------------------------------------------------- seeds of many files


def write_paths(path: Path, lines: list[str], gz: bool) -> Path:
    text = "".join(line + "\n" for line in lines)
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    return path


CC_LINES = [
    "# CC-MAIN-2024-10",
    "crawl-data/CC-MAIN-2024-10/segments/1/wet/CC-MAIN-1-00000.warc.wet.gz",
    "",
    "crawl-data/CC-MAIN-2024-10/segments/1/wet/CC-MAIN-1-00001.warc.wet.gz",
    "https://mirror.example/other/CC-MAIN-1-00002.warc.wet.gz",
    "crawl-data/CC-MAIN-2024-10/segments/2/wet/CC-MAIN-2-00000.warc.wet.gz",
]


@pytest.mark.parametrize("gz", [True, False])
def test_a_paths_file_like_common_crawls(tmp_path, gz):
    from corpusforge.seed_files import file_list, read_paths_file

    entries, counts = read_paths_file(write_paths(tmp_path / "wet.paths.gz", CC_LINES, gz))
    assert counts == {"lines": 6, "entries": 4, "blank": 1, "comments": 1}
    source = {"base_url": "https://data.commoncrawl.org/", "limit_files": 3}
    files = file_list(source, entries)
    assert files == [
        {
            "name": "CC-MAIN-1-00000.warc.wet.gz",
            "url": "https://data.commoncrawl.org/" + CC_LINES[1],
        },
        {
            "name": "CC-MAIN-1-00001.warc.wet.gz",
            "url": "https://data.commoncrawl.org/" + CC_LINES[3],
        },
        {"name": "CC-MAIN-1-00002.warc.wet.gz", "url": CC_LINES[4]},  # a URL stays itself
    ]
    # without base_url, relative entries are local paths
    assert file_list({}, entries[:1]) == [{"name": entries[0].split("/")[-1], "path": entries[0]}]


def test_listed_files_sha256_by_name_or_checksum_file(tmp_path):
    from corpusforge.seed_files import file_list

    sums = tmp_path / "SHA256SUMS"
    sums.write_text(f"{'a' * 64}  CC-MAIN-1-00000.warc.wet.gz\n")
    source = {"base_url": "https://x.example/", "checksums": str(sums)}
    source["sha256s"] = {"CC-MAIN-1-00001.warc.wet.gz": "B" * 64}
    files = file_list(source, [CC_LINES[1], CC_LINES[3], CC_LINES[5]])
    assert [f.get("sha256") for f in files] == ["a" * 64, "b" * 64, None]


def test_a_glob_is_sorted_and_names_stay_distinct(tmp_path):
    from corpusforge.seed_files import file_list, globbed

    for sub in ("b", "a"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "pages.warc.wet.gz").write_bytes(b"")
    (tmp_path / "a" / "more.warc.wet.gz").write_bytes(b"")
    found = globbed(str(tmp_path / "**" / "*.warc.wet.gz"), "seeds.x.source")
    assert found == sorted(found) and len(found) == 3
    names = [f["name"] for f in file_list({}, found)]
    assert names[0] == "more.warc.wet.gz"  # a/more < a/pages < b/pages
    assert names[1].endswith("a__pages.warc.wet.gz") and names[2].endswith("b__pages.warc.wet.gz")
    with pytest.raises(SeedError, match=r"seeds\.x\.source\.glob: no file matches"):
        globbed(str(tmp_path / "*.nothing"), "seeds.x.source")


def test_the_audit_fails_a_file_whose_records_do_not_cover_it():
    from corpusforge.stats.audit import audit_seed_counts

    stats = {"source": "cc", "in": 3, "kept": 2, "rejected": 1}
    good = {"in": 3, "kept": 2, "rejected": 1, "bytes_read": 900, "file_bytes": 900}
    assert audit_seed_counts([{**stats, "files": {"a.wet.gz": good}}]).ok
    lost = {**good, "bytes_read": 700}
    result = audit_seed_counts([{**stats, "files": {"a.wet.gz": lost}}])
    assert result.problems == [
        "seed cc, file a.wet.gz: its records cover 700 of its 900 bytes (records were "
        "skipped unread)"
    ]
    short = {**good, "in": 2, "kept": 1}
    problems = audit_seed_counts([{**stats, "files": {"a.wet.gz": short}}]).problems
    assert "seed cc: its files add up to in=2, not 3" in problems


def test_the_readers_defaults_are_the_schemas():
    """No default lives twice: SeedSpec's field defaults (used when code builds one
    directly) and those OpenAIEngine's arguments equal the schema's."""
    import dataclasses
    import inspect

    from corpusforge.engines import OpenAIEngine
    from corpusforge.schema import definition_defaults, with_defaults

    fields = {f.name: f for f in dataclasses.fields(SeedSpec)}
    for key, value in definition_defaults("seed").items():
        field = fields[key]
        own = field.default_factory() if callable(field.default_factory) else field.default
        assert own == value, key
    assert SeedSpec.from_config("x", {}).columns == {"text": "text"}
    openai = with_defaults("generation", {"sampling": {}})["openai"]
    arguments = inspect.signature(OpenAIEngine).parameters
    assert openai and {k: arguments[k].default for k in openai} == openai


def test_the_language_guess_is_the_per_character_count():
    """guess_lang's shortcuts (ASCII, no Chinese character) give what counting every
    letter gives: Chinese when more than 30% of the letters are Chinese characters."""
    import random

    from corpusforge.cjk import is_han
    from corpusforge.seed import guess_lang

    def by_character(text: str) -> str:
        letters = [ch for ch in text if ch.isalpha()]
        han = sum(1 for ch in letters if is_han(ch))
        return "zh" if letters and han / len(letters) > 0.3 else "en"

    rng = random.Random(5)
    alphabet = "abcXYZ 12,.\n" + "中文字㐀䶿鿿" + "éßΩж" + "かカ한" + "\U00020000！　"
    texts = ["", "   ", "plain ascii", "中文", "中 a b c", "中文 abc", "ab中"]
    texts += ["".join(rng.choices(alphabet, k=rng.randint(1, 40))) for _ in range(3000)]
    assert [guess_lang(t) for t in texts] == [by_character(t) for t in texts]
    assert {guess_lang(t) for t in texts} == {"en", "zh"}
