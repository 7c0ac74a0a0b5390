"""Heuristic filters: every rule on documents that must pass it and documents that must fail it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pandas as pd
import pytest

from corpusforge.filters import (
    FiltersError,
    FiltersStage,
    Settings,
    c4_clean_lines,
    filter_text,
    settings,
    words_of,
)
from corpusforge.io import read_parquet, run_doc_stage, write_parquet
from corpusforge.schema import with_defaults

ROOT = Path(__file__).resolve().parents[1]
DOCS = json.loads((ROOT / "tests" / "data" / "filters_docs.json").read_text(encoding="utf-8"))
EN, ZH = DOCS["en"], DOCS["zh"]
EN_LINES, ZH_LINES = EN.split("\n"), ZH.split("\n")


def resolved(cfg: dict | None = None) -> Settings:
    """The filters' settings of a config section, with the schema's defaults."""
    return settings(with_defaults("filters", cfg))


def stage(cfg: dict | None = None) -> FiltersStage:
    """The filters stage of a config section, with the schema's defaults."""
    return FiltersStage(with_defaults("filters", cfg))


def only(rule_set: str, **over) -> Settings:
    return resolved({"rule_sets": [rule_set], **over})


def verdict(text: str, lang: str | None, settings: Settings) -> str | None:
    out = filter_text(text, lang, settings)
    return out.verdict[0] if out.verdict else None


@pytest.mark.parametrize("lang", ["en", "zh", None])
def test_good_documents_pass_every_rule(lang):
    text = ZH if lang in ("zh", None) else EN
    out = filter_text(text, lang, resolved(None))
    assert out.verdict is None
    assert out.text == text  # every line ends in punctuation: nothing removed


def test_cjk_words_are_characters():
    assert words_of("我们在2024年去了 Paris，很好。", cjk=True) == [
        *"我们在",
        "2024",
        "年",
        *"去了",
        "Paris",
        *"很好",
    ]
    assert words_of("a b  c", cjk=False) == ["a", "b", "c"]


QUALITY_FAILS = [
    ("word_count", "en", "The cat sat with the dog and that is all."),
    ("word_count", "zh", "这是一只猫，它和狗在一起。"),
    ("mean_word_length", "en", " ".join(["to", "be", "of", "an", "it", "is"] * 10)),
    ("mean_word_length", "en", " ".join(["extraordinarily", "the", "incomprehensible"] * 20)),
    ("symbol_word_ratio", "en", EN + " #tag" * 20),
    ("symbol_word_ratio", "en", EN + " wait..." * 20),
    ("bullet_lines", "en", "\n".join("- " + line for line in EN_LINES)),
    ("bullet_lines", "zh", "\n".join("• " + line for line in ZH_LINES)),
    (
        "ellipsis_lines",
        "en",
        "\n".join(line[:-1] + "..." if i < 3 else line for i, line in enumerate(EN_LINES)),
    ),
    ("alpha_words", "en", EN + " 1990" * 40),
    ("alpha_words", "zh", ZH + " 1990" * 60),
    ("stop_words", "en", " ".join(["apples", "grow", "quickly", "near", "quiet", "hills"] * 10)),
    ("stop_words", "zh", "山水花鸟风月天地日星云雨春夏秋冬" * 4),
]


@pytest.mark.parametrize(("rule", "lang", "text"), QUALITY_FAILS)
def test_gopher_quality_rule_fails(rule, lang, text):
    assert verdict(text, lang, only("gopher_quality")) == f"gopher_quality.{rule}"


def test_gopher_quality_bounds_and_detail():
    out = filter_text(EN, "en", only("gopher_quality", gopher_quality={"max_words": 100}))
    assert out.verdict == ("gopher_quality.word_count", "words 123 > 100")
    out = filter_text("The cat sat with the dog.", "en", only("gopher_quality"))
    assert out.verdict == ("gopher_quality.word_count", "words 6 < 50")


def test_zh_skips_mean_word_length_unless_configured():
    # Each Han character is a word of length 1: the English bound would reject it.
    assert verdict(ZH, "zh", only("gopher_quality")) is None
    strict = only("gopher_quality", skip={"zh": []})
    assert verdict(ZH, "zh", strict) == "gopher_quality.mean_word_length"
    # a whole rule set can be skipped for a language
    assert verdict("短", "zh", only("gopher_quality", skip={"zh": ["gopher_quality"]})) is None


def test_gopher_repetition_rules():
    rep = only("gopher_repetition")
    dup_lines = "\n".join(EN_LINES + EN_LINES[:3] * 2)
    assert verdict(dup_lines, "en", rep) == "gopher_repetition.dup_line_fraction"
    # paragraphs: with the line rules relaxed, the paragraph rules apply
    relaxed = only(
        "gopher_repetition",
        gopher_repetition={"max_dup_line_fraction": 1, "max_dup_line_char_fraction": 1},
    )
    paras = "\n\n".join([EN, EN_LINES[0] + "\n" + EN_LINES[1]] * 2)
    assert verdict(paras, "en", relaxed) == "gopher_repetition.dup_paragraph_fraction"
    assert verdict(EN + " old mill" * 25, "en", rep) == "gopher_repetition.top_2gram_char_fraction"
    assert verdict(EN, "en", rep) is None
    inline = EN + " " + EN_LINES[2]  # one sentence repeated inside a line
    # only the repeat counts: ~0.14 of the characters, over the 8-gram bound (0.12)
    # but under the 5-gram one (0.15)
    assert verdict(inline, "en", rep) == "gopher_repetition.dup_8gram_char_fraction"
    only_10 = only(
        "gopher_repetition",
        gopher_repetition={
            "max_dup_ngram_char_fraction": {**dict.fromkeys(range(5, 10), 1.0), 10: 0.1}
        },
    )
    out = filter_text(inline, "en", only_10)
    assert out.verdict[0] == "gopher_repetition.dup_10gram_char_fraction"
    assert (
        out.verdict[1].startswith("duplicate 10-gram char fraction 0.")
        and "> 0.1" in out.verdict[1]
    )


def test_gopher_repetition_zh():
    rep = only("gopher_repetition")
    assert verdict(ZH, "zh", rep) is None
    assert verdict(ZH + "磨坊" * 30, "zh", rep) == "gopher_repetition.top_2gram_char_fraction"
    assert verdict(ZH + "\n" + ZH, "zh", rep) == "gopher_repetition.dup_line_fraction"
    assert verdict(ZH + ZH_LINES[1], "zh", rep) == "gopher_repetition.dup_8gram_char_fraction"


def test_c4_line_filter_changes_text():
    noisy = "\n".join(
        [
            "Home | About | Contact",
            EN_LINES[0],
            "Please enable JavaScript to view the comments.",
            EN_LINES[1] + "[1]",
            "Read our privacy policy for details.",
            "Yes.",
            *EN_LINES[2:],
        ]
    )
    out = filter_text(noisy, "en", only("c4"))
    assert out.verdict is None
    assert out.text == EN  # the noise lines are gone, the citation marker too
    assert out.counts == {
        "no_terminal_punctuation": 1,
        "javascript": 1,
        "policy": 1,
        "too_few_words": 1,
    }


def test_c4_document_rules():
    c4 = only("c4")
    assert verdict("\n".join(EN_LINES[:4]), "en", c4) == "c4.min_sentences"
    assert verdict("\n".join(EN_LINES[:5]), "en", c4) is None
    assert verdict(EN + "\nLorem ipsum dolor sit amet.", "en", c4) == "c4.lorem_ipsum"
    assert verdict(EN + "\nvar x = { a: 1 };", "en", c4) == "c4.curly_bracket"
    assert verdict("Home\nAbout us\nContact", "en", c4) == "c4.empty_after_line_filter"
    # Chinese: lines end in 。, sentences are counted at 。！？
    assert verdict(ZH, "zh", c4) is None
    assert verdict("\n".join(ZH_LINES[:4]), "zh", c4) == "c4.min_sentences"
    cleaned, removed = c4_clean_lines(ZH + "\n首页 关于我们 联系方式", True, c4.c4)
    assert cleaned == ZH and removed == {"no_terminal_punctuation": 1}


def test_c4_bad_words(tmp_path):
    words = tmp_path / "bad.txt"
    words.write_text("# one word or phrase a line\nflour\n石磨\n", encoding="utf-8")
    c4 = only("c4", c4={"bad_words": str(words)})
    out = filter_text(EN, "en", c4)
    assert out.verdict == ("c4.bad_words", "contains listed word 'flour'")
    assert verdict(ZH, "zh", c4) == "c4.bad_words"
    assert verdict(EN.replace("flour", "meal"), "en", c4) is None
    # whole words only for ASCII words: "flourish" is not "flour"
    assert verdict(EN.replace("flour", "flourish"), "en", c4) is None
    with pytest.raises(FiltersError, match="cannot read"):
        only("c4", c4={"bad_words": str(tmp_path / "missing.txt")})


def test_slimpajama():
    slim = only("slimpajama")
    assert verdict(EN, "en", slim) is None
    assert verdict(ZH, "zh", slim) is None
    out = filter_text("\n".join(EN_LINES[:2]), "en", slim)
    assert out.verdict[0] == "slimpajama.min_chars" and out.verdict[1].endswith("< 200")
    # punctuation and spaces do not count: 150 letters + 100 punctuation marks fail
    assert verdict("a" * 150 + "。" * 100, "zh", slim) == "slimpajama.min_chars"


def test_settings_errors():
    # the schema refuses unknown rule sets and settings
    with pytest.raises(jsonschema.ValidationError, match="'gopher' is not one of"):
        resolved({"rule_sets": ["gopher"]})
    with pytest.raises(jsonschema.ValidationError, match="'min_sentence' was unexpected"):
        resolved({"c4": {"min_sentence": 3}})
    with pytest.raises(jsonschema.ValidationError, match="'rulesets' was unexpected"):
        resolved({"rulesets": []})


def test_partial_settings_keep_the_other_defaults():
    defaults = resolved()
    assert defaults.skip == {
        "ja": {"gopher_quality.mean_word_length", "gopher_quality.stop_words"},
        "zh": {"gopher_quality.mean_word_length"},
    }
    assert set(defaults.quality["stop_words"]) == {"en", "zh"}
    assert defaults.repetition["max_top_ngram_char_fraction"] == {2: 0.2, 3: 0.18, 4: 0.16}
    assert list(defaults.repetition["max_dup_ngram_char_fraction"]) == [5, 6, 7, 8, 9, 10]
    # a setting given replaces its default; the others of its section keep theirs
    some = resolved({"gopher_quality": {"min_words": 3}, "c4": {"min_sentences": 1}})
    assert some.quality == {**defaults.quality, "min_words": 3}
    assert some.c4 == {**defaults.c4, "min_sentences": 1}
    # skip and stop_words: a language given replaces its list, the others keep theirs
    lists = resolved(
        {"skip": {"zh": [], "en": ["c4"]}, "gopher_quality": {"stop_words": {"en": ["a"]}}}
    )
    assert lists.skip == {**defaults.skip, "zh": frozenset(), "en": {"c4"}}
    assert lists.quality["stop_words"] == {"en": ["a"], "zh": defaults.quality["stop_words"]["zh"]}
    # an n-gram map given replaces the default map: only the n it lists are checked
    rep = resolved({"gopher_repetition": {"max_top_ngram_char_fraction": {2: 0.3}}}).repetition
    assert rep["max_top_ngram_char_fraction"] == {2: 0.3}
    assert rep["max_dup_ngram_char_fraction"] == defaults.repetition["max_dup_ngram_char_fraction"]


def shard_frame() -> pd.DataFrame:
    texts = {
        "a": (EN, "en"),
        "b": (ZH, "zh"),
        "c": ("Too short.", "en"),
        "d": ("\n".join(EN_LINES + EN_LINES[:3] * 2), "en"),
        "e": ("Home\n" + EN + "\nClick here", "en"),
        "f": ("", "en"),
        "g": (ZH, None),
        "h": (EN + "\nLorem ipsum dolor sit amet.", "en"),
    }
    rows = [
        {
            "id": f"{k}{k}",
            "seed_id": "s" + k,
            "source": "test",
            "row": i,
            "text": t,
            "lang": lang,
            "origin": "web",
        }
        for i, (k, (t, lang)) in enumerate(sorted(texts.items()), start=1)
    ]
    return pd.DataFrame(rows).sample(frac=1, random_state=3)


def test_the_stage_judges_every_id_once_with_stats():
    docs = shard_frame()
    kept, rejects, stats = stage()(docs)
    assert sorted(kept["id"].tolist() + rejects["id"].tolist()) == sorted(docs["id"])
    assert kept["id"].tolist() == ["aa", "bb", "ee", "gg"]
    assert dict(zip(rejects["id"], rejects["reason"], strict=True)) == {
        "cc": "gopher_quality.word_count",
        "dd": "gopher_repetition.dup_line_fraction",
        "ff": "empty_text",
        "hh": "c4.lorem_ipsum",
    }
    assert set(rejects["stage"]) == {"filters"}
    assert kept.set_index("id").loc["ee", "text"] == EN
    assert kept.set_index("id").loc["ee", "filter_lines_removed"] == 2
    assert stats["text_changed"] == 1 and stats["lines_removed"] == 2
    assert stats["rejected_by_reason"]["c4.lorem_ipsum"] == 1
    assert stats["in"] == 8 and stats["kept"] == 4 and stats["rejected"] == 4
    assert stats["kept_by_lang"] == {"en": 2, "unknown": 1, "zh": 1}


def test_apply_to_selects_documents_by_origin():
    docs = shard_frame()
    generated = docs["id"].isin(["cc", "dd"])
    docs.loc[generated, "origin"] = "generated"
    kept, rejects, stats = stage()(docs)
    # cc and dd would fail (word count, repeated lines) but are generated: untouched
    assert {"cc", "dd"} <= set(kept["id"]) and not {"cc", "dd"} & set(rejects["id"])
    assert set(rejects["id"]) == {"ff", "hh"}
    assert stats["not_filtered"] == 2 and stats["apply_to"] == ["web"]
    assert kept.set_index("id").loc["dd", "filter_lines_removed"] == 0
    # without the column, documents count as generated; apply_to can name both
    both = stage({"apply_to": ["generated", "web"]})
    kept, rejects, _ = both(docs.drop(columns="origin"))
    assert set(rejects["id"]) == {"cc", "dd", "ff", "hh"}
    _, rejects, stats = stage()(docs.drop(columns="origin"))
    assert rejects.empty and stats["not_filtered"] == 8


def test_run_shard_is_deterministic(tmp_path):
    src = tmp_path / "in.parquet"
    write_parquet(shard_frame(), src)
    outputs = []
    for run in ("one", "two"):
        paths = [tmp_path / run / name for name in ("docs.parquet", "rej.parquet", "s.json")]
        step = stage({"c4": {"min_sentences": 5}})
        stats = run_doc_stage(step, src, *paths, shard="0000")
        outputs.append([p.read_bytes() for p in paths])
    assert outputs[0] == outputs[1]
    assert stats["shard"] == "0000" and stats["stage"] == "filters"
    assert len(read_parquet(paths[0])) + len(read_parquet(paths[1])) == 8


def test_example_bad_words_file_format():
    from corpusforge.filters import load_word_list

    words = load_word_list(ROOT / "resources" / "filters" / "bad_words.example.txt")
    assert words == ("example bad phrase", "examplebadword", "示例词")


def test_duplicate_ngram_fraction_counts_repeats_only():
    from corpusforge.filters import dup_ngram_char_fraction

    words = ["alpha", "beta", "gamma", "delta", "omega"] * 2
    total = sum(len(w) for w in words)
    # the second copy is the duplicate; the first occurrence is not counted
    assert dup_ngram_char_fraction(words, 5, total) == 0.5
    assert dup_ngram_char_fraction(words * 2, 5, total * 2) == 0.75
    assert dup_ngram_char_fraction(words[:5], 5, total // 2) == 0.0


REP = "gopher_repetition"
RELAX_LINES = {"max_dup_line_fraction": 1, "max_dup_line_char_fraction": 1}


@pytest.mark.parametrize(
    ("rule", "bounds", "lang", "text"),
    [
        (
            "dup_line_char_fraction",
            {"max_dup_line_fraction": 1, "max_dup_line_char_fraction": 0.05},
            "en",
            "\n".join([*EN_LINES, EN_LINES[0]]),
        ),
        (
            "dup_line_char_fraction",
            {"max_dup_line_fraction": 1, "max_dup_line_char_fraction": 0.05},
            "zh",
            "\n".join([*ZH_LINES, ZH_LINES[0]]),
        ),
        (
            "dup_paragraph_char_fraction",
            {
                **RELAX_LINES,
                "max_dup_paragraph_fraction": 1,
                "max_dup_paragraph_char_fraction": 0.05,
            },
            "en",
            "\n\n".join([*EN_LINES, EN_LINES[1]]),
        ),
        (
            "top_3gram_char_fraction",
            {"max_top_ngram_char_fraction": {2: 1, 3: 0.05}},
            "en",
            EN + " by the river" * 8,
        ),
        (
            "top_4gram_char_fraction",
            {"max_top_ngram_char_fraction": {2: 1, 3: 1, 4: 0.05}},
            "zh",
            ZH + "古老磨坊" * 6,
        ),
        (
            "dup_5gram_char_fraction",
            {"max_dup_ngram_char_fraction": {5: 0.05}},
            "en",
            EN + " " + EN_LINES[2],
        ),
        (
            "dup_5gram_char_fraction",
            {"max_dup_ngram_char_fraction": {5: 0.05}},
            "zh",
            ZH + ZH_LINES[1],
        ),
    ],
)
def test_each_repetition_rule_fires_at_its_bound(rule, bounds, lang, text):
    # (the good documents pass every rule: test_good_documents_pass_every_rule)
    assert verdict(text, lang, only(REP, gopher_repetition=bounds)) == f"{REP}.{rule}"


@pytest.mark.parametrize(("rule", "lang", "text"), QUALITY_FAILS)
def test_a_skipped_rule_is_not_applied(rule, lang, text):
    name = f"gopher_quality.{rule}"
    assert verdict(text, lang, only("gopher_quality", skip={lang: [name]})) != name


def test_skip_names_must_be_rules():
    with pytest.raises(FiltersError, match=r"filters\.skip\.zh: unknown rule.*mean_word_lenght"):
        resolved({"skip": {"zh": ["gopher_quality.mean_word_lenght"]}})
    with pytest.raises(FiltersError, match=r"filters\.skip\.en: unknown rule.*'c4\.\*'"):
        resolved({"skip": {"en": ["c4.*"]}})
    # n-gram rules are named after the configured n
    bounds = {"max_dup_ngram_char_fraction": {12: 0.05}}
    name = f"{REP}.dup_12gram_char_fraction"
    settings = resolved({"gopher_repetition": bounds, "skip": {"en": [name]}})
    assert name in settings.skip["en"]
    with pytest.raises(FiltersError, match="dup_12gram"):
        resolved({"skip": {"en": [name]}})
    # whole rule sets and the default per-language skips are names too
    assert resolved({"skip": {"en": ["c4", "slimpajama.min_chars"]}}).skip["en"]


def test_fast_measures_give_the_reference_outputs():
    """fast=True, what the workflow runs, and the reference (fast=False)
    agree on every document: texts with repeated lines, paragraphs and n-grams of
    every length, bullets, ellipses, code, CJK, no lang column and a lang column."""
    import random

    from corpusforge.filters import (
        NGrams,
        dup_ngram_char_fraction,
        top_ngram_char_fraction,
    )

    rng = random.Random(5)
    odd = ["• item one", "- item two", "Wait for it...", "x = {1: 2}", "#tag #tag2 #tag3"]
    odd += ["lorem ipsum dolor sit amet", "Ok.", "", "ａｂｃ　１２３！"]
    pool = [*EN_LINES, *ZH_LINES, *odd]
    texts = []
    for _ in range(250):
        lines = rng.choices(pool, k=rng.randint(1, 25))
        if rng.random() < 0.4:  # repeats: whole lines and runs of words
            lines += rng.choices(lines, k=rng.randint(1, 8))
            words = " ".join(lines).split()
            start = rng.randrange(len(words) or 1)
            lines.append(" ".join(words[start : start + rng.randint(2, 14)] * 3))
        texts.append(rng.choice(["\n", "\n\n"]).join(lines))
    for text in texts:
        words = text.split()
        total = sum(map(len, words))
        grams = NGrams(words)
        for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 40):
            assert grams.dup_fraction(n) == dup_ngram_char_fraction(words, n, total), (text, n)
            assert grams.top_fraction(n) == top_ngram_char_fraction(words, n, total), (text, n)
    langs = [rng.choice(["en", "zh", None]) for _ in texts]
    for cfg, with_lang in (({}, False), ({}, True), ({"skip": {"en": ["c4"]}}, True)):
        frame = pd.DataFrame({"id": range(len(texts)), "origin": "web", "text": texts})
        if with_lang:
            frame["lang"] = langs
        full = with_defaults("filters", cfg)
        ref = FiltersStage(full, fast=False)(frame)
        new = FiltersStage(full, fast=True)(frame)
        assert ref[0].equals(new[0]) and ref[1].equals(new[1]) and ref[2] == new[2]
        assert ref[1]["reason"].nunique() >= 3  # the texts fail several rules
