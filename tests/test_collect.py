"""Collect stage: seed documents join generated ones, labelled by origin."""

from __future__ import annotations

import pandas as pd
import pytest

from corpusforge.collect import COLUMNS, SCHEMA, collect_job, collect_shard
from corpusforge.io import read_json, read_parquet, write_parquet
from corpusforge.records import shard_of, stable_id
from corpusforge.tokenizer import token_counter


def words(texts):
    return [len(t.split()) for t in texts]


def seeds(n=12):
    rows = []
    for i in range(n):
        text = f"web page number {i} " + "word " * i
        rid = stable_id("crawl", text)
        rows.append(
            {
                "id": rid,
                "seed_id": rid,
                "source": "crawl",
                "row": i + 1,
                "source_id": f"<urn:uuid:{i}>",
                "kind": "documents",
                "text": text,
                "lang": "en",
                "topic": None,
                "url": f"http://site{i}.example/",
                "warc_date": "2024-03-01T00:00:00Z",
                "record_id": f"<urn:uuid:{i}>",
            }
        )
    return pd.DataFrame(rows)


def generated():
    return pd.DataFrame(
        [
            {"id": "g1", "seed_id": "s1", "prompt_id": "p1", "origin": "generated",
             "text": "a generated text", "completion_tokens": 3, "prompt_tokens": 10},
            {"id": "g2", "seed_id": "s2", "prompt_id": "p2", "origin": "generated",
             "text": "another one here", "completion_tokens": 4, "prompt_tokens": 11},
        ]
    )  # fmt: skip


def test_seed_documents_of_a_shard_with_provenance():
    frame = seeds()
    docs, stats = collect_shard(None, frame, 1, 3, words)
    expected = frame[frame["seed_id"].map(lambda s: shard_of(s, 3) == 1)]
    assert sorted(docs["id"]) == sorted(expected["id"]) and len(docs) > 0
    assert list(docs.columns) == COLUMNS
    assert docs["id"].tolist() == sorted(docs["id"])
    assert set(docs["origin"]) == {"web"} and set(docs["prompt_lang"]) == {"en"}
    first = docs.iloc[0]
    src = frame.set_index("id").loc[first["id"]]
    assert first["url"] == src["url"] and first["record_id"] == src["record_id"]
    assert first["completion_tokens"] == len(src["text"].split())
    assert pd.isna(first["prompt_id"]) and pd.isna(first["model"])
    assert stats["in"] == stats["kept"] == len(docs) and stats["rejected"] == 0
    assert stats["by_origin"]["web"]["documents"] == len(docs)


def test_generated_and_web_side_by_side_with_shares():
    frame = seeds()
    docs, stats = collect_shard(generated(), frame, 0, 1, words)
    assert len(docs) == 14 and stats["in"] == 14
    gen = docs[docs["origin"] == "generated"]
    assert gen["id"].tolist() == ["g1", "g2"] and gen["url"].isna().all()
    shares = stats["by_origin"]
    assert shares["generated"] == {
        "documents": 2, "tokens": 7, "share_documents": round(2 / 14, 6),
        "share_tokens": round(7 / (7 + sum(words(frame["text"]))), 6),
    }  # fmt: skip
    assert shares["web"]["share_documents"] == round(12 / 14, 6)


def test_output_has_the_pinned_schema_and_same_bytes(tmp_path):
    docs, _ = collect_shard(generated(), seeds(), 0, 2, words)
    out = []
    for name in ("a", "b"):
        write_parquet(docs, tmp_path / f"{name}.parquet", schema=SCHEMA)
        out.append((tmp_path / f"{name}.parquet").read_bytes())
    assert out[0] == out[1]
    back = read_parquet(tmp_path / "a.parquet")
    assert (
        back["completion_tokens"].dropna().astype(int).tolist()
        == docs["completion_tokens"].astype(int).tolist()
    )


def test_an_id_in_both_inputs_is_an_error():
    frame = seeds(2)
    gen = generated().assign(id=frame["id"].tolist())
    with pytest.raises(ValueError, match="seen twice"):
        collect_shard(gen, frame, 0, 1, words)


def test_token_counts_with_the_model_tokenizer(smollm2_dir):
    count = token_counter(str(smollm2_dir))
    texts = ["Hello world, this is a test.", "这是一个测试。", ""]
    counts = count(texts)
    assert counts[0] >= 6 and counts[1] >= 3 and counts[2] == 0
    assert count(texts * 300)[:3] == counts  # batched the same


def test_collect_job_writes_the_shard_and_no_rejects(tmp_path, smollm2_dir):
    write_parquet(generated(), tmp_path / "generated.parquet")
    write_parquet(seeds().sort_values("id"), tmp_path / "seeds.parquet")  # as seed_shard
    out = {name: str(tmp_path / "out" / name) for name in ("docs", "rejected", "stats")}
    stats = collect_job(
        str(tmp_path / "generated.parquet"),
        [str(tmp_path / "seeds.parquet")],
        "0000",
        str(smollm2_dir),
        out["docs"],
        out["rejected"],
        out["stats"],
    )
    docs = read_parquet(out["docs"])
    assert len(docs) == 14 and list(docs.columns) == COLUMNS
    assert read_parquet(out["rejected"]).empty
    assert read_json(out["stats"]) == stats and stats["shard"] == "0000" and stats["kept"] == 14


def test_a_streamed_collect_job_writes_the_documents_of_one_pass(tmp_path):
    """The shard's seed records (as seed_shard writes them: the shard's rows in id
    order) are read a batch at a time and merged with the generated documents by
    id: the same documents, stats and order as collect_shard over everything at
    once, for small and large batches."""
    from corpusforge.records import select_shard

    gen = pd.concat([generated()] * 1).assign(id=[stable_id("gen", i) for i in range(2)])
    write_parquet(gen, tmp_path / "generated.parquet")
    one, two = seeds(40), seeds(33).assign(source="other")
    two["id"] = two["seed_id"] = [stable_id("other", i) for i in range(33)]
    for name, records in (("one", one), ("two", two)):
        write_parquet(select_shard(records, 2, 3, "seed_id"), tmp_path / f"{name}.parquet")
    expected, expected_stats = collect_shard(gen, pd.concat([one, two]), 2, 3, words)
    for batch_rows in (4, 1000):
        out = {name: str(tmp_path / f"out{batch_rows}" / name) for name in ("d", "r", "s")}
        stats = collect_job(
            str(tmp_path / "generated.parquet"),
            [str(tmp_path / "one.parquet"), str(tmp_path / "two.parquet")],
            "0002", None, out["d"], out["r"], out["s"], batch_rows=batch_rows,
            count=words,
        )  # fmt: skip
        write_parquet(expected, tmp_path / "expected.parquet", schema=SCHEMA)
        pd.testing.assert_frame_equal(
            read_parquet(out["d"]), read_parquet(tmp_path / "expected.parquet")
        )
        assert stats == {**expected_stats, "shard": "0002"}
