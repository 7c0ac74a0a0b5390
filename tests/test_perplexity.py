"""Tests for the perplexity stage with real SentencePiece and KenLM models.

KenLM's lmplz/build_binary must have been built by tools/build_kenlm.sh (or be in
$CORPUSFORGE_KENLM_BIN): the tests that train models fail, not skip, without them.
The default models are trained once per session from resources/lm (cached under the
temporary folder between sessions, keyed by the reference text, the settings and
this stage's code).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import unicodedata
from pathlib import Path

import jsonschema
import kenlm
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import sentencepiece

from corpusforge import perplexity as pp
from corpusforge.io import read_json, sha256_file, write_json, write_parquet
from corpusforge.perplexity import scoring
from corpusforge.perplexity.normalize import _PUNCT
from corpusforge.records import REJECT_COLUMNS, REJECT_SCHEMA, stable_id
from corpusforge.schema import with_defaults

REPO = Path(__file__).resolve().parents[1]
RESOURCES = REPO / "resources" / "lm"

FLUENT = {
    "en": [
        "Plants make their own food through a process called photosynthesis. They take in "
        "sunlight, water from the soil and carbon dioxide from the air, and turn them into "
        "sugar and oxygen.",
        "The oxygen is released into the air, which is one reason why forests are so "
        "important for the health of our planet. Without plants, animals would have very "
        "little to breathe and nothing to eat.",
        "When you plan a small garden, think first about how much light each corner gets "
        "during the day. Most vegetables need at least six hours of direct sunlight to grow "
        "well, while some herbs are happy in partial shade.",
        "Good soil is just as important as light. Before planting, mix some compost into the "
        "ground so that the roots can find the nutrients they need, and water the young "
        "plants regularly during their first weeks.",
    ],
    "zh": [
        "植物通过光合作用为自己制造食物。它们吸收阳光、土壤中的水分和空气中的二氧化碳，"
        "然后把这些物质转化为糖和氧气。",
        "释放到空气中的氧气对我们的星球非常重要，这也是森林需要得到保护的原因之一。"
        "如果没有植物，动物就几乎没有可以呼吸的空气，也没有可以吃的食物。",
        "在规划一个小花园的时候，首先要考虑每个角落在一天中能得到多少光照。"
        "大多数蔬菜每天需要至少六个小时的直射阳光才能长得好，而一些香草在半阴的地方也能生长。",
        "肥沃的土壤和光照一样重要。种植之前，可以在土里混入一些堆肥，让根系得到需要的养分，"
        "并且在最初几周里定期给幼苗浇水。",
    ],
}


def shuffled(text: str, lang: str, rng: random.Random) -> str:
    """The same words (en) or characters (zh) in a random order, line by line."""
    lines = []
    for line in text.split("\n"):
        units = line.split() if lang == "en" else list(line)
        rng.shuffle(units)
        lines.append((" " if lang == "en" else "").join(units))
    return "\n".join(lines)


def random_chars(length: int, lang: str, rng: random.Random) -> str:
    if lang == "en":
        alphabet = "abcdefghijklmnopqrstuvwxyz     "
        return "".join(rng.choice(alphabet) for _ in range(length))
    return "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(length))


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def kenlm_bins() -> Path:
    try:
        return pp.kenlm_bin_dir()
    except pp.KenLMNotFoundError as exc:
        pytest.fail(str(exc), pytrace=False)


def _cache_key(*parts: object) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else json.dumps(part).encode())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
def default_models(kenlm_bins) -> dict[str, pp.LanguageModel]:
    """en and zh models trained with the default settings on the default reference."""
    cfg = pp.settings(with_defaults("perplexity"))
    # the code the models depend on
    package = Path(pp.__file__).parent
    code = b"".join(
        (package / f"{name}.py").read_bytes()
        for name in ("normalize", "reference", "scoring", "training")
    )
    models = {}
    for lang in ("en", "zh"):
        reference = REPO / cfg["models"][lang]["reference"]["path"]
        settings = pp.training_settings(cfg["training"], cfg["models"][lang])
        key = _cache_key(reference.read_bytes(), settings, code, pp.KENLM_VERSION)
        folder = Path(tempfile.gettempdir()) / "corpusforge-test-lm" / f"{lang}-{key}"
        sp_file, lm_file, meta_file = (folder / f"{lang}.{x}" for x in ("sp.model", "bin", "json"))
        if not meta_file.exists():  # written last, atomically: the models are complete
            meta = pp.train_language_model(
                lang, reference, sp_file, lm_file, settings, bin_dir=kenlm_bins
            )
            write_json(meta, meta_file)
        models[lang] = pp.LanguageModel.load(lang, sp_file, lm_file)
        models[lang].meta = read_json(meta_file)
    return models


@pytest.fixture(scope="session")
def tiny_model(kenlm_bins, tmp_path_factory) -> tuple[pp.LanguageModel, dict, Path]:
    """A small en model trained in this session (exercises the training path every run)."""
    folder = tmp_path_factory.mktemp("tiny")
    docs = pp.read_reference(RESOURCES / "en.txt.xz")[:400]
    reference = folder / "ref.jsonl.gz"
    import gzip

    with gzip.open(reference, "wt", encoding="utf-8") as out:
        for doc in docs:
            out.write(json.dumps({"body": "\n".join(doc)}) + "\n")
    meta = pp.train_language_model(
        "en",
        reference,
        folder / "en.sp.model",
        folder / "en.arpa.bin",
        {
            **with_defaults("perplexity")["training"],
            **{"sp_vocab_size": 1000, "order": 3, "binary": "trie", "heldout_fraction": 0.2},
        },
        text_field="body",
        bin_dir=kenlm_bins,
    )
    return pp.LanguageModel.load("en", folder / "en.sp.model", folder / "en.arpa.bin"), meta, folder


# --------------------------------------------------------------------------- KenLM binaries


def test_kenlm_lookup_env_cache_and_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv(pp.KENLM_BIN_ENV, raising=False)
    monkeypatch.delenv("CORPUSFORGE_KENLM_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert pp.kenlm_cache_dir() == tmp_path / "xdg" / "corpusforge" / "kenlm-0.3.0" / "bin"
    with pytest.raises(pp.KenLMNotFoundError, match=r"tools/build_kenlm\.sh"):
        pp.kenlm_bin_dir()

    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv(pp.KENLM_BIN_ENV, str(folder))
    with pytest.raises(pp.KenLMNotFoundError, match="CORPUSFORGE_KENLM_BIN") as info:
        pp.kenlm_bin_dir()
    assert "lmplz, build_binary" in str(info.value)
    for tool in ("lmplz", "build_binary"):
        (folder / tool).write_text("#!/bin/sh\n")
        (folder / tool).chmod(0o755)
    assert pp.kenlm_bin_dir() == folder


def test_build_script_is_idempotent_with_cached_binaries(kenlm_bins, tmp_path):
    """A second run of tools/build_kenlm.sh finds working binaries and exits at once."""
    cache = tmp_path / "cache"
    version_dir = cache / "corpusforge" / "kenlm-0.3.0"
    shutil.copytree(kenlm_bins, version_dir / "bin")
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "PATH": "/usr/bin:/bin"}
    env.pop("CORPUSFORGE_KENLM_CACHE", None)
    proc = subprocess.run(
        ["bash", str(REPO / "tools" / "build_kenlm.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(version_dir / "bin")
    assert "cached binaries work" in proc.stderr


# --------------------------------------------------------------------------- normalization

_DIGIT = re.compile(r"\d")


def slow_normalize(line: str) -> str:
    """CC-NET's steps one after the other, per character with unicodedata."""
    line = line.strip().lower()
    line = "".join(c for c in unicodedata.normalize("NFD", line) if unicodedata.category(c) != "Mn")
    line = _DIGIT.sub("0", line)
    line = "".join(_PUNCT.get(c, c) for c in line)
    line = "".join(" " if c in "\t\u3000" else c for c in line)
    line = "".join(c for c in line if not unicodedata.category(c).startswith("C"))
    return line.strip()


def test_normalize_examples():
    assert pp.normalize_line("  Héllo Wörld, Ça VA?  ") == "hello world, ca va?"
    assert pp.normalize_line("In 2024 we sold 1,250 units.") == "in 0000 we sold 0,000 units."
    assert pp.normalize_line("“Quoted” — dash… ‘single’") == "\"quoted\" - dash... 'single'"
    assert pp.normalize_line("我们在“北京”，２０２４年。") == '我们在"北京",0000年.'
    assert pp.normalize_line("ＦＵＬＬ　ｗｉｄｔｈ！") == "full width!"
    assert pp.normalize_line("zero\u200bwidth\x00 tab\there") == "zerowidth tab here"
    assert pp.normalized_lines("One\r\nTwo\u2028three\n\n \t \nfour\x0cfive") == [
        "one",
        "two",
        "three",
        "four",
        "five",
    ]


def test_fast_normalize_matches_per_character_reference():
    rng = random.Random(7)
    pools = [
        "abcXYZ 0129 .,;:!?'\"-",
        "éèêëÀÁÂÃÄÅçñøßœæÿĲ",
        "٠١٢٣४५६੭০১",  # digits of other scripts
        "我们的中文字符，。、！？；：“”‘’《》「」【】（）…—",
        "ＡＢＣａｂｃ０１２！？（）　",
        "\u0301\u0308\u0327\u200b\u200d\ufeff\x07\x1b\ue000",
        "ΑΒΓαβγΣσςΩ АБВабв ĞŞİığş",
        "한국어ひらがなカタカナ",
        "\t",
    ]
    for _ in range(400):
        text = "".join(rng.choice(rng.choice(pools)) for _ in range(rng.randint(0, 60)))
        assert pp.normalize_line(text) == slow_normalize(text), repr(text)


# --------------------------------------------------------------------------- reference text


def test_read_reference_formats(tmp_path):
    text = tmp_path / "ref.txt"
    text.write_text("para one\npara two\n\n\n  \ndoc two\n", encoding="utf-8")
    assert pp.read_reference(text) == [["para one", "para two"], ["doc two"]]

    import gzip

    jsonl = tmp_path / "ref.jsonl.gz"
    with gzip.open(jsonl, "wt", encoding="utf-8") as out:
        out.write(json.dumps({"text": "a\n\nb"}) + "\n\n" + json.dumps({"text": ""}) + "\n")
    assert pp.read_reference(jsonl) == [["a", "b"]]

    parquet = tmp_path / "ref.parquet"
    write_parquet(pd.DataFrame({"content": ["x\ny", None, "z"]}), parquet)
    assert pp.read_reference(parquet, text_field="content") == [["x", "y"], ["z"]]
    assert pp.read_reference(jsonl, "text")[0][0].startswith('{"text"')  # declared wins
    with pytest.raises(ValueError, match="unknown reference format"):
        pp.read_reference(text, "csv")


def test_heldout_split_is_stable_and_proportional():
    docs = [[f"document number {i}"] for i in range(2000)]
    train, heldout = pp.split_heldout(docs, 0.1, seed=3)
    assert len(train) + len(heldout) == 2000
    assert 150 < len(heldout) < 250
    assert pp.split_heldout(list(reversed(docs)), 0.1, seed=3)[1] == list(reversed(heldout))


# --------------------------------------------------------------------------- formula


def test_uniform_unigram_model_gives_vocabulary_size(tiny_model, tmp_path):
    """Every piece and </s> at probability 1/N: the document perplexity must be N."""
    model, _, _ = tiny_model
    pieces = [model.sp.id_to_piece(i) for i in range(model.sp.get_piece_size())]
    words = sorted({p for p in pieces if p not in ("<unk>", "<s>", "</s>")})
    n = len(words) + 2  # + </s> + <unk>
    logp = -math.log10(n)
    arpa = tmp_path / "uniform.arpa"
    rows = [f"{logp:.7f}\t{w}" for w in [*words, "</s>", "<unk>"]] + ["-99\t<s>"]
    # KenLM needs a bigram section: one whose context (</s>) is never scored.
    arpa.write_text(
        f"\\data\\\nngram 1={len(rows)}\nngram 2=1\n\n\\1-grams:\n"
        + "\n".join(rows)
        + f"\n\n\\2-grams:\n{logp:.7f}\t</s> <unk>\n\n\\end\\\n",
        encoding="utf-8",
    )
    uniform = pp.LanguageModel(lang="en", sp=model.sp, lm=kenlm.Model(str(arpa)))
    text = "\n".join(FLUENT["en"])
    assert uniform.perplexity(text) == pytest.approx(n, rel=1e-4)


def test_formula_matches_direct_kenlm_computation(tiny_model):
    model, _, folder = tiny_model
    sp = sentencepiece.SentencePieceProcessor(model_file=str(folder / "en.sp.model"))
    lm = kenlm.Model(str(folder / "en.arpa.bin"))
    text = "\n".join(FLUENT["en"]) + "\n\n  \n" + "Numbers like 42 and Café!"
    log_sum, count = 0.0, 0
    for raw in text.split("\n"):
        line = pp.normalize_line(raw)
        if not line:
            continue
        pieces = sp.encode(line, out_type=str)
        # full_scores gives each token's log10 probability, </s> included.
        log_sum += sum(prob for prob, _, _ in lm.full_scores(" ".join(pieces)))
        count += len(pieces) + 1
    expected = 10 ** (-log_sum / count)
    # KenLM sums in float32 inside score(); full_scores is summed here in float64.
    assert model.perplexity(text) == pytest.approx(expected, rel=1e-5)
    batch = model.score_texts([text, "", "   \n\t", FLUENT["en"][0]])
    assert batch[0] == pytest.approx(expected, rel=1e-5)
    assert math.isnan(batch[1]) and math.isnan(batch[2])
    assert batch[3] == pytest.approx(model.perplexity(FLUENT["en"][0]), rel=1e-12)


def test_training_is_reproducible(tiny_model, tmp_path):
    """Training again on the same reference gives byte-identical model files."""
    _, meta, folder = tiny_model
    again = pp.train_language_model(
        "en",
        folder / "ref.jsonl.gz",
        tmp_path / "en.sp.model",
        tmp_path / "en.arpa.bin",
        meta["settings"],
        text_field="body",
    )
    assert (again["sp_sha256"], again["lm_sha256"]) == (meta["sp_sha256"], meta["lm_sha256"])
    assert again["reference_perplexities"] == meta["reference_perplexities"]


def test_tiny_training_outputs(tiny_model):
    model, meta, folder = tiny_model
    assert meta["kind"] == "trained"
    assert meta["reference"]["documents"] == 400
    assert 40 < meta["reference"]["heldout_documents"] < 130
    assert meta["reference"]["train_pieces"] > 10_000
    assert meta["sp_vocab_size"] <= 1000
    assert meta["settings"]["order"] == 3
    assert len(meta["reference_perplexities"]) == meta["reference"]["heldout_documents"]
    assert meta["lm_sha256"] == sha256_file(folder / "en.arpa.bin")
    assert model.lm.order == 3
    # lmplz wrote real backoff weights (the broken kenlm-ex build wrote only zeros).
    assert model.lm.score("▁the", bos=True, eos=False) != model.lm.score("▁the", False, False)


# --------------------------------------------------------------------------- quality


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_fluent_text_beats_shuffled_and_random(default_models, lang):
    model = default_models[lang]
    rng = random.Random(11)
    fluent = "\n".join(FLUENT[lang])
    length = len(fluent) // len(FLUENT[lang])
    mixed = [shuffled(fluent, lang, rng) for _ in range(5)]
    noise = ["\n".join(random_chars(length, lang, rng) for _ in FLUENT[lang]) for _ in range(5)]
    pp_fluent = model.perplexity(fluent)
    pp_shuffled = float(np.median(model.score_texts(mixed)))
    pp_random = float(np.median(model.score_texts(noise)))
    print(f"{lang}: fluent {pp_fluent:.1f}, shuffled {pp_shuffled:.1f}, random {pp_random:.1f}")
    assert pp_fluent * 2 < pp_shuffled
    assert pp_fluent * 4 < pp_random
    # Every paragraph on its own, too.
    for para in FLUENT[lang]:
        assert model.perplexity(para) < model.perplexity(shuffled(para, lang, rng))


def test_default_models_reference_perplexities(default_models):
    for lang, model in default_models.items():
        values = model.meta["reference_perplexities"]
        assert len(values) >= 100, lang
        assert values == sorted(values)
        fluent = model.perplexity("\n".join(FLUENT[lang]))
        # Unseen fluent prose lands within the held-out reference documents' range.
        assert values[0] < fluent < values[-1] * 3, (lang, fluent, values[0], values[-1])


# --------------------------------------------------------------------------- stage


def make_docs(texts, langs, prompt_langs=None, with_lang=True, **extra) -> pd.DataFrame:
    n = len(texts)
    frame = pd.DataFrame(
        {
            "id": [stable_id("doc", i, t) for i, t in enumerate(texts)],
            "seed_id": [stable_id("seed", i) for i in range(n)],
            "prompt_id": [stable_id("prompt", i) for i in range(n)],
            "source": "default",
            "prompt_lang": prompt_langs or langs,
            "text": texts,
        }
    )
    if with_lang:
        frame["lang"] = langs
    for column, values in extra.items():
        frame[column] = values
    return frame.sort_values("id").reset_index(drop=True)


def test_scores_do_not_depend_on_how_many_documents_are_scored_at_once(default_models, monkeypatch):
    en = default_models["en"]
    texts = [FLUENT["en"][0], "", "\u200b \n\x00", *FLUENT["en"][1:4], "", FLUENT["en"][0]]
    whole = en.score_texts(texts)
    monkeypatch.setattr(scoring, "SCORE_DOCS", 2)
    np.testing.assert_array_equal(en.score_texts(texts), whole)
    assert np.isnan(whole[[1, 2, 6]]).all() and not np.isnan(whole[[0, 3, 7]]).any()


def test_score_frame_languages_and_fallbacks(default_models):
    en, zh = FLUENT["en"][0], FLUENT["zh"][0]
    docs = make_docs(
        [en, zh, zh, en, "Ein deutscher Satz.", "\u200b \n\x00", en],
        ["en", "zh-Hant", None, "EN", "de", "en", ""],
        ["en", "zh", "zh", "en", "de", "en", "en"],
    )
    scored = pp.score_frame(docs, default_models)
    by_text = scored.set_index("id")
    for rid, row in by_text.iterrows():
        original = docs.set_index("id").loc[rid]
        if original["text"].startswith("Ein") or original["text"].startswith("\u200b"):
            assert math.isnan(row["perplexity"])
        else:
            lang = "zh" if original["text"] == zh else "en"
            expected = round(default_models[lang].perplexity(original["text"]), 1)
            assert row["perplexity"] == expected
    assert list(scored.columns) == [*docs.columns, "perplexity"]

    no_lang = make_docs([en, zh], ["en", "zh"], with_lang=False)
    scored = pp.score_frame(no_lang, default_models)
    assert scored["lang"].tolist() == no_lang["prompt_lang"].tolist()
    assert scored["perplexity"].notna().all()


def test_gather_cutoffs_sources_and_fallbacks():
    corpus = {"en": list(range(1, 101)), "zh": [5.0, 6.0]}
    references = {"en": [10.0, 20.0, 30.0], "zh": [100.0, 200.0, 300.0, 400.0], "de": None}
    configured = {"en": [1.0, 2.0], "zh": None, "de": [300.0, 500.0]}
    got = pp.gather_cutoffs(corpus, references, configured, "corpus", [30, 60], 20)
    langs = got["languages"]
    assert [langs["en"]["head_max"], langs["en"]["tail_min"]] == [
        round(float(np.percentile(range(1, 101), 30)), 1),
        round(float(np.percentile(range(1, 101), 60)), 1),
    ]
    assert langs["en"]["source"] == "corpus"
    assert langs["zh"]["source"] == "reference" and langs["zh"]["fallback_from"] == "corpus"
    assert [langs["zh"]["head_max"], langs["zh"]["tail_min"]] == [190.0, 280.0]
    assert langs["de"]["source"] == "config" and langs["de"]["head_max"] == 300.0

    got = pp.gather_cutoffs({}, references, configured, "config", [30, 60], 20)
    assert got["languages"]["en"]["head_max"] == 1.0
    assert got["languages"]["zh"]["source"] == "reference"

    got = pp.gather_cutoffs({"xx": [1.0]}, {"xx": None}, {"xx": None}, "reference", [30, 60], 5)
    assert got["languages"]["xx"]["source"] == "corpus"  # a small sample beats nothing
    got = pp.gather_cutoffs({}, {"xx": None}, {"xx": None}, "reference", [30, 60], 5)
    assert got["languages"]["xx"]["head_max"] is None
    with pytest.raises(ValueError, match="percentiles"):
        pp.gather_cutoffs(corpus, references, configured, "corpus", [60, 30], 20)


def reference_corpus(n_per_lang: int) -> pd.DataFrame:
    """Held-out reference documents (unseen by the default models), a third of them
    degraded, in both languages."""
    rng = random.Random(5)
    texts, langs = [], []
    defaults = pp.settings(with_defaults("perplexity"))
    for lang in ("en", "zh"):
        settings = pp.training_settings(defaults["training"], defaults["models"][lang])
        docs, _ = pp.unique_documents(pp.read_reference(RESOURCES / f"{lang}.txt.xz"))
        _, heldout = pp.split_heldout(docs, settings["heldout_fraction"], settings["seed"])
        for i, doc in enumerate(rng.sample(heldout, n_per_lang)):
            text = "\n".join(doc[:6])
            if i % 3 == 1:
                text = shuffled(text, lang, rng)
            texts.append(text)
            langs.append(lang)
    frame = make_docs(texts, langs)
    degraded = {t for i, t in enumerate(texts) if i % n_per_lang % 3 == 1}
    frame["degraded"] = frame["text"].isin(degraded)
    return frame


def assign_buckets(docs, cutoffs, models, unscored="keep", drop_tail=False):
    """Rule perplexity_bucket's stage over a scored frame: (kept, rejected rows, stats)."""
    settings = {"models": list(models), "unscored": unscored, "drop_tail": drop_tail}
    return pp.PerplexityBucketStage(settings, {"cutoffs": cutoffs})(docs)


def test_bucket_shares_match_corpus_cutoffs(default_models):
    scored = pp.score_frame(reference_corpus(140), default_models)
    half = len(scored) // 2
    shards = [scored.iloc[:half], scored.iloc[half:]]
    corpus = pp.corpus_perplexities(shards, default_models)
    cutoffs = pp.gather_cutoffs(corpus, {}, {}, "corpus", [30, 60], 20)
    kept = pd.concat(
        [assign_buckets(s, cutoffs, default_models)[0] for s in shards], ignore_index=True
    )
    assert len(kept) == len(scored)
    for lang in ("en", "zh"):
        rows = kept[kept["lang"] == lang]
        entry = cutoffs["languages"][lang]
        values = rows["perplexity"].to_numpy()
        assert entry["head_max"] == round(float(np.percentile(values, 30)), 1)
        shares = rows["bucket"].value_counts(normalize=True)
        assert shares["head"] == pytest.approx(0.30, abs=0.02), (lang, shares)
        assert shares["middle"] == pytest.approx(0.30, abs=0.02), (lang, shares)
        assert shares["tail"] == pytest.approx(0.40, abs=0.02), (lang, shares)
        head = rows.loc[rows["bucket"] == "head", "perplexity"]
        tail = rows.loc[rows["bucket"] == "tail", "perplexity"]
        assert head.max() < entry["head_max"] <= entry["tail_min"] < tail.min()
        # Degraded (shuffled) documents are mostly in the tail.
        degraded = rows[rows["degraded"]]
        assert len(degraded) == len(range(1, 140, 3))
        assert (degraded["bucket"] == "tail").mean() > 0.8, lang
        assert (rows.loc[~rows["degraded"], "bucket"] == "tail").mean() < 0.3, lang


def test_buckets_account_for_every_document():
    texts = ["a", "b", "c", "d", "e", "f", "g"]
    docs = make_docs(
        texts,
        ["en", "en", "en", "zh", "fr", "en", None],
        ["en", "en", "en", "zh", "fr", "en", "xx"],
        perplexity=[10.0, 50.0, 90.0, 300.0, np.nan, np.nan, np.nan],
    )
    cutoffs = {"languages": {"en": {"head_max": 20.0, "tail_min": 60.0}, "zh": {}}}
    kept, rejects, stats = assign_buckets(docs, cutoffs, ["en", "zh"])
    by_id = dict(zip(kept["id"], kept["bucket"], strict=True))
    assert {by_id[i] for i in docs["id"][docs["perplexity"] == 10.0]} == {"head"}
    assert {by_id[i] for i in docs["id"][docs["perplexity"] == 50.0]} == {"middle"}
    assert {by_id[i] for i in docs["id"][docs["perplexity"] == 90.0]} == {"tail"}
    assert {by_id[i] for i in docs["id"][docs["perplexity"] == 300.0]} == {"unscored"}
    assert set(kept["id"]) | set(rejects["id"]) == set(docs["id"])
    assert not set(kept["id"]) & set(rejects["id"])
    assert rejects["reason"].tolist() == ["empty_text"]  # the en doc with no text
    assert list(rejects.columns) == REJECT_COLUMNS
    assert stats["in"] == 7 and stats["kept"] == 6 and stats["rejected"] == 1
    assert stats["buckets"]["en"] == {"head": 1, "middle": 1, "tail": 1}
    assert kept["id"].is_monotonic_increasing
    assert list(kept.columns) == [*docs.columns, "bucket"]

    kept, rejects, stats = assign_buckets(docs, cutoffs, ["en", "zh"], "drop", True)
    assert stats["rejected_by_reason"] == {"empty_text": 1, "no_lm": 2, "tail_bucket": 1}
    assert set(kept["bucket"]) == {"head", "middle", "unscored"}
    assert set(kept["id"]) | set(rejects["id"]) == set(docs["id"])
    tail = rejects[rejects["reason"] == "tail_bucket"]
    assert "tail cutoff 60.0" in tail["detail"].iloc[0]
    pa.Table.from_pandas(rejects, schema=REJECT_SCHEMA, preserve_index=False)

    with pytest.raises(ValueError, match="unscored"):
        assign_buckets(docs, cutoffs, ["en"], "maybe")


def test_stage_outputs_are_deterministic(default_models, tmp_path):
    docs = reference_corpus(20)
    outputs = []
    for run in range(2):
        scored = pp.score_frame(docs, default_models)
        cutoffs = pp.gather_cutoffs(
            pp.corpus_perplexities([scored], default_models), {}, {}, "corpus", [30, 60], 5
        )
        kept, rejects, _ = assign_buckets(scored, cutoffs, default_models)
        write_parquet(kept, tmp_path / f"kept{run}.parquet")
        write_parquet(rejects, tmp_path / f"rej{run}.parquet", schema=REJECT_SCHEMA)
        outputs.append(
            ((tmp_path / f"kept{run}.parquet").read_bytes(), (tmp_path / f"rej{run}.parquet"))
        )
    assert outputs[0][0] == outputs[1][0]
    assert outputs[0][1].read_bytes() == outputs[1][1].read_bytes()


def test_settings_defaults_and_errors():
    cfg = pp.settings(with_defaults("perplexity"))
    assert sorted(cfg["models"]) == ["en", "zh"]
    assert cfg["cutoffs"] == {"source": "corpus", "percentiles": [30, 60], "min_docs": 20,
                              "values": {}}  # fmt: skip
    assert cfg["unscored"] == "keep" and cfg["drop_tail"] is False
    for path in (RESOURCES / "en.txt.xz", RESOURCES / "zh.txt.xz"):
        assert path.exists()
    assert sum(p.stat().st_size for p in RESOURCES.iterdir()) < 5_000_000
    with pytest.raises(ValueError, match="reference"):
        pp.settings({**cfg, "models": {"de": {}}})
    # the schema refuses what a single field gets wrong
    with pytest.raises(jsonschema.ValidationError, match="'sp' is a required property"):
        with_defaults("perplexity", {"models": {"de": {"pretrained": {"lm": {"path": "x"}}}}})
    with pytest.raises(jsonschema.ValidationError, match="'vocab' was unexpected"):
        with_defaults("perplexity", {"training": {"vocab": 3}})
    with pytest.raises(jsonschema.ValidationError, match="'EN' does not match"):
        with_defaults("perplexity", {"models": {"EN": {"reference": {"path": "x"}}}})
    # a model's own training settings override the stage's, which keep their defaults
    given = with_defaults("perplexity", {"training": {"order": 4}})
    settings = pp.training_settings(given["training"], {"training": {"sp_vocab_size": 100}})
    assert settings == {**cfg["training"], "order": 4, "sp_vocab_size": 100}
    # a model's training gets no defaults of its own: the stage's are not overridden
    assert given["models"]["zh"]["training"] == {
        "sp_vocab_size": 4000,
        "sp_character_coverage": 0.995,
    }
    zh = pp.training_settings(given["training"], given["models"]["zh"])
    assert zh["order"] == 4 and zh["sp_vocab_size"] == 4000


# --------------------------------------------------------------------------- workflow

SNAKEFILE = """
include: "{repo}/rules/common.smk"

from corpusforge.schema import with_defaults

config["perplexity"] = with_defaults("perplexity", {pp_config})
DOC_STAGES[:] = ["generate", "perplexity"]  # this stage alone, reading generated docs


include: "{repo}/rules/perplexity.smk"
"""


def test_rules_run_end_to_end_with_snakemake(kenlm_bins, tiny_model, tmp_path):
    """The stage's rules in a real Snakemake run: download, train, describe a ready-made
    model, score, gather, bucket; every document accounted for."""
    results = tmp_path / "results"
    docs = reference_corpus(30)
    english = docs[docs["lang"] == "en"].head(12)
    docs = pd.concat(
        [docs, english.assign(id=english["id"].map(lambda i: stable_id("xx", i)), lang="xx")],
        ignore_index=True,
    )
    from corpusforge.records import shard_of

    for shard in range(2):
        part = docs[docs["id"].map(lambda i, s=shard: shard_of(i, 2) == s)]
        write_parquet(
            part.reset_index(drop=True), results / "docs" / "generate" / f"000{shard}.parquet"
        )
    ref = tmp_path / "en-ref.txt"
    ref.write_text(
        "\n\n".join("\n".join(d) for d in pp.read_reference(RESOURCES / "en.txt.xz")[:300]),
        encoding="utf-8",
    )
    _, _, tiny = tiny_model  # stands in for a ready-made model such as CC-NET's
    pretrained = {
        "sp": {
            "url": (tiny / "en.sp.model").as_uri(),
            "sha256": sha256_file(tiny / "en.sp.model"),
        },
        "lm": {"path": str(tiny / "en.arpa.bin")},
    }
    pp_config = {
        "models": {
            "en": {"reference": {"url": ref.as_uri()}},
            "xx": {"pretrained": pretrained, "reference": {"path": str(ref)}},
        },
        "training": {"sp_vocab_size": 800, "order": 3},
        "cutoffs": {"source": "corpus", "min_docs": 5},
    }
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text(SNAKEFILE.format(repo=REPO, pp_config=repr(pp_config)))
    targets = [str(results / "docs" / "perplexity" / f"000{s}.parquet") for s in range(2)]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        *targets,
        "--snakefile",
        str(snakefile),
        "--directory",
        str(REPO),
        "--config",
        f"results={results}",
        "--cores",
        "1",
        "--quiet",
        "rules",
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=170, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    from corpusforge.io import read_parquet

    cutoffs = read_json(results / "stats" / "perplexity_cutoffs.json")
    assert cutoffs["languages"]["en"]["source"] == "corpus"
    assert cutoffs["languages"]["en"]["model"]["kind"] == "trained"
    kept = pd.concat([read_parquet(t) for t in targets], ignore_index=True)
    rejects = pd.concat(
        [read_parquet(results / "rejected" / "perplexity" / f"000{s}.parquet") for s in range(2)]
    )
    assert set(kept["id"]) | set(rejects["id"]) == set(docs["id"])
    assert set(kept.loc[kept["lang"] == "zh", "bucket"]) == {"unscored"}
    assert set(kept.loc[kept["lang"] == "en", "bucket"]) == {"head", "middle", "tail"}
    assert set(kept.loc[kept["lang"] == "xx", "bucket"]) == {"head", "middle", "tail"}
    xx = read_json(results / "lm" / "xx" / "xx.json")
    assert xx["kind"] == "pretrained" and xx["reference"]["documents"] == 300
    assert (results / "lm" / "downloads" / "xx" / "sp" / "en.sp.model").exists()
    assert cutoffs["languages"]["xx"]["model"]["sp_sha256"] == pretrained["sp"]["sha256"]
    stats = read_json(results / "stats" / "perplexity" / "0000.json")
    assert stats["stage"] == "perplexity" and stats["shard"] == "0000"
    meta = read_json(results / "lm" / "en" / "en.json")
    assert meta["settings"]["order"] == 3
    assert (results / "lm" / "downloads" / "en" / "reference" / "en-ref.txt").exists()


def test_empty_shard_and_shard_without_models(default_models, tmp_path):
    empty = make_docs([], [])
    scored = pp.score_frame(empty, default_models)
    kept, rejects, stats = assign_buckets(scored, {"languages": {}}, default_models)
    assert len(kept) == 0 and len(rejects) == 0 and stats["in"] == 0
    assert {"perplexity", "bucket", "lang"} <= set(kept.columns)
    write_parquet(kept, tmp_path / "kept.parquet")
    write_parquet(rejects, tmp_path / "rejected.parquet", schema=REJECT_SCHEMA)

    german = make_docs(["Ein kurzer Text.", "Noch einer."], ["de", "de"])
    scored = pp.score_frame(german, default_models)
    kept, rejects, stats = assign_buckets(scored, {"languages": {}}, default_models)
    assert kept["bucket"].tolist() == ["unscored", "unscored"]
    assert kept["perplexity"].isna().all() and stats["buckets"] == {"de": {"unscored": 2}}


def test_workflow_layout_paths():
    cfg = {
        "models": {
            "en": {"reference": {"path": "resources/lm/en.txt.xz"}},
            "de": {
                "pretrained": {
                    "sp": {"url": "https://example.org/lm/de.sp.model?x=1", "sha256": "0" * 64},
                    "lm": {"path": "/models/de.arpa.bin"},
                },
                "reference": {
                    "hf": {"repo_id": "a/b", "filename": "data/de.parquet", "revision": "main"}
                },
                "cutoffs": [370, 590],
            },
        },
        "cutoffs": {"source": "reference"},
    }
    layout = pp.WorkflowLayout(with_defaults("perplexity", cfg), lambda path: f"R/{path}")
    assert layout.trained == ["en"] and layout.pretrained == ["de"]
    assert layout.files("en") == {
        "sp": "R/lm/en/en.sp.model",
        "lm": "R/lm/en/en.arpa.bin",
        "meta": "R/lm/en/en.json",
    }
    assert layout.files("de")["sp"] == "R/lm/downloads/de/sp/de.sp.model"
    assert layout.files("de")["lm"] == "/models/de.arpa.bin"
    assert layout.describe_inputs("de")["reference"] == "R/lm/downloads/de/reference/de.parquet"
    assert layout.source_file("en", "reference") == "resources/lm/en.txt.xz"
    assert layout.cutoff_inputs(["0000"]) == {"meta": ["R/lm/de/de.json", "R/lm/en/en.json"]}
    assert re.fullmatch(layout.pattern(layout.trained), "en")
    assert not re.fullmatch(layout.pattern(layout.pretrained), "en")
    assert not re.fullmatch(layout.pattern([]), "")
    assert layout.training("en")["order"] == 5
    # a rule's output: the same path, its wildcards left open
    assert layout.path("sp") == "R/lm/{lang}/{lang}.sp.model"
    assert layout.path("download", lang="de") == "R/lm/downloads/de/{kind}/{filename}"


def test_build_wide_paths_are_written_in_their_layout_only():
    """rules/perplexity.smk and rules/quality.smk take every path from their layout's
    PATHS: none is written again in a rules file."""
    from corpusforge.quality.layout import QualityLayout

    rules = Path(__file__).resolve().parents[1] / "rules"
    for layout, smk in ((pp.WorkflowLayout, "perplexity.smk"), (QualityLayout, "quality.smk")):
        text = (rules / smk).read_text(encoding="utf-8")
        # the code, not the docstrings and comments that describe the files
        text = re.sub(r'""".*?"""|#[^\n]*', "", text, flags=re.S)
        assert not re.search(r"\bout\(", text), smk  # no path of its own under results/
        for template in layout.PATHS.values():
            assert template not in text, (smk, template)
            assert template.rsplit("/", 1)[0] + "/" not in text, (smk, template)
