"""Clean stage: each step on crafted real-looking pages, then the stage over a shard."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import pytest
from clean_pages import (
    BAD_CARD,
    BAD_ID_NUMBER,
    CAFE,
    CAFE_MOJIBAKE,
    CONTACT_PAGE,
    CONTACTS,
    EN_SITE_LINES,
    GBK_AS_LATIN1,
    NAMES_ONLY,
    PII_VALUES,
    PINYIN_MIX,
    SIMPLIFIED_NEWS,
    SPAM_EN,
    SPAM_ZH,
    TRADITIONAL_NEWS,
    TRADITIONAL_PAGE,
)

from corpusforge.clean import CleanError, CleanStage, settings
from corpusforge.clean.chinese import (
    Pinyin,
    changed_chars,
    pinyin_token,
    script_of,
    syllable_count,
)
from corpusforge.clean.pii import card_valid, find_and_mask, id_number_valid
from corpusforge.clean.text import Boilerplate, garbled_measures, normalize_whitespace
from corpusforge.io import read_json, read_parquet, run_doc_stage, write_parquet
from corpusforge.records import REJECT_COLUMNS
from corpusforge.schema import with_defaults
from corpusforge.stats import merge_stats

ROOT = Path(__file__).resolve().parents[1]
EN_PAGE = (
    "The printing press changed the way that knowledge moved through Europe.\n"
    "Before it arrived, books were copied by hand, and a single Bible could take a scribe "
    "more than a year."
)


def clean_config(**sections) -> dict:
    """The ``clean`` section with the given settings, the schema's defaults filled in."""
    return with_defaults("clean", sections)


def cleaner(**sections):
    return settings(clean_config(**sections))


def outcomes(kept: pd.DataFrame, rejects: pd.DataFrame) -> dict[str, tuple]:
    """Every document's result of a clean stage run by id: what was kept (text,
    clean record, pii counts) or why it was rejected (reason, detail, text)."""
    found = {
        row.id: ("kept", row.text, json.dumps(row.clean), json.dumps(row.pii))
        for row in kept.itertuples()
    }
    for row in rejects.itertuples():
        found[row.id] = ("rejected", row.reason, row.detail, row.text)
    return found


def docs(*texts: str, origin: str = "web") -> pd.DataFrame:
    ids = [f"{i:016x}" for i in range(len(texts))]
    return pd.DataFrame(
        {"id": ids, "seed_id": ids, "origin": origin, "source": "crawl", "text": list(texts)}
    )


def run(frame: pd.DataFrame, **sections):
    return CleanStage(clean_config(**sections))(frame)


# ---------------------------------------------------------------- Unicode repair


def test_utf8_read_as_cp1252_is_repaired():
    out = cleaner().clean_text(CAFE_MOJIBAKE)
    assert out.verdict is None
    assert out.text == CAFE
    assert out.record["unicode_fixed"] is True


def test_gbk_page_read_as_latin1_is_rejected_as_garbled():
    out = cleaner().clean_text(GBK_AS_LATIN1)
    assert out.verdict is not None
    reason, detail = out.verdict
    assert reason == "garbled_text" and out.garbled == "mojibake"
    assert detail.startswith("mojibake ") and "> 0.01" in detail
    # the same page, read right, is kept
    assert cleaner().clean_text(GBK_AS_LATIN1.encode("latin-1").decode("gbk")).verdict is None


def test_html_entities_controls_and_whitespace():
    text = "Fish &amp; chips\x1b[31m today\u200b,\t\tfresh  and  hot.\r\n\n\n\nOpen   daily.  "
    out = cleaner().clean_text(text)
    assert out.text == "Fish & chips today, fresh and hot.\n\nOpen daily."
    assert out.record["unicode_fixed"] and out.record["whitespace_fixed"]
    # Chinese full-width punctuation is kept (fix_character_width is off by default)
    assert cleaner().clean_text("你好，世界！（测试）").text == "你好，世界！（测试）"
    kept = cleaner(unicode={"ftfy": False, "whitespace": False}).clean_text(text)
    assert kept.text == text and not kept.record["unicode_fixed"]


def test_whitespace_keeps_one_empty_line():
    assert normalize_whitespace(" a \n\n\n\n b\u3000c \n") == "a\n\nb c"


@pytest.mark.parametrize(
    "measure, text",
    [
        ("replacement_chars", "The price was \ufffd\ufffd\ufffd euros for the whole set of books."),
        (
            "private_use_chars",
            "春日平原荠菜花，新耕雨后落群鸦。多情白\ue1e5春无奈\ue1e6，晚日青帘酒易赊。",
        ),
        ("script_mixes", "Прив中文ет мир, Ωмега тест данных Ξλ 混合Ж文字."),
    ],
)
def test_each_garbled_measure_rejects_past_its_bound(measure, text):
    out = cleaner(unicode={"ftfy": False}).clean_text(text)
    assert out.verdict is not None and out.verdict[0] == "garbled_text"
    value = garbled_measures(text)[measure]
    assert out.garbled == measure and out.verdict[1].startswith(f"{measure} {value:.4g} > 0.01")
    # with a bound above the measured value, that measure lets it pass
    looser = cleaner(unicode={"ftfy": False}, garbled={f"max_{measure}": 1.0}).clean_text(text)
    assert looser.garbled != measure


def test_clean_prose_measures_nothing_garbled():
    for text in (CAFE, EN_PAGE, SIMPLIFIED_NEWS, TRADITIONAL_NEWS, CONTACT_PAGE):
        assert all(v == 0 for v in garbled_measures(text).values()), text[:30]


# ---------------------------------------------------------------- Chinese


def test_traditional_news_page_is_converted_to_simplified():
    out = cleaner(boilerplate={"enabled": False}).clean_text(TRADITIONAL_NEWS)
    assert out.verdict is None and out.text == SIMPLIFIED_NEWS
    changed = sum(a != b for a, b in zip(TRADITIONAL_NEWS, SIMPLIFIED_NEWS, strict=True))
    assert out.record["chars_converted"] == changed > 20
    kept = cleaner(chinese={"convert": "off"}, boilerplate={"enabled": False})
    assert kept.clean_text(TRADITIONAL_NEWS).text == TRADITIONAL_NEWS
    # YAML reads a bare `off` as false: the same
    assert cleaner(chinese={"convert": False}).converter is None
    back = cleaner(chinese={"convert": "s2twp"}).clean_text(SIMPLIFIED_NEWS)
    assert "颱風" in back.text and back.record["chars_converted"] > 20


def test_changed_chars_counts_code_points():
    # same length: code point by code point, astral characters and lone surrogates too
    assert changed_chars("國際會議", "国际会议") == 4
    assert changed_chars("a𠀋b\ud800c", "a𠀋x\ud801c") == 2
    assert changed_chars("台風 ok", "台風 ok") == 0
    # different lengths: the differing stretches
    assert changed_chars("abcdef", "abXYdef") == 2


def test_japanese_and_english_pages_are_not_converted():
    japanese = "東京都は國際會議の準備を進めています。記者會見は明日の午後に開かれます。"
    assert not script_of(japanese).chinese
    assert cleaner().clean_text(japanese).text == japanese
    assert cleaner().clean_text(EN_PAGE + " 國").record["chars_converted"] == 0


def test_pinyin_mixed_page_is_rejected_or_flagged():
    out = cleaner().clean_text(PINYIN_MIX)
    assert out.verdict is not None and out.verdict[0] == "pinyin_mixed"
    assert out.verdict[1].startswith("pinyin share ") and "> 0.1" in out.verdict[1]
    flagged = cleaner(pinyin={"mode": "flag"}).clean_text(PINYIN_MIX)
    assert flagged.verdict is None and flagged.record["pinyin_flagged"] is True
    # 15 + 16 toneless syllables in runs, 8 in the tone-marked run
    assert flagged.record["pinyin_syllables"] == 15 + 16 + 8
    assert cleaner(pinyin={"mode": "off"}).clean_text(PINYIN_MIX).verdict is None


def test_romanised_names_are_no_pinyin_mix():
    out = cleaner().clean_text(NAMES_ONLY)
    assert out.verdict is None and out.record["pinyin_syllables"] == 0
    assert Pinyin("reject", 0.1, 2).syllables(NAMES_ONLY) == 4  # runs of two count at min_run 2


def test_pinyin_tokens():
    assert syllable_count("zhongguo") == 2 and syllable_count("xian") == 1
    assert syllable_count("computer") == 0
    assert pinyin_token("Běijīng") == (2, True)
    assert pinyin_token("lǜ") == (1, True)
    assert pinyin_token("Étienne") == (0, False)  # one accent over four syllables: French
    assert pinyin_token("GAN") == (0, False)


# ---------------------------------------------------------------- PII


def test_contact_page_is_masked_and_counted():
    out = cleaner().clean_text(CONTACT_PAGE)
    assert out.verdict is None
    assert dict(out.pii) == {kind: len(values) for kind, values in CONTACTS.items()}
    for value in PII_VALUES:
        assert value not in out.text
    assert out.text.count("<PHONE>") == 3 and out.text.count("<EMAIL>") == 2
    assert out.text.count("<ID_NUMBER>") == 1 and out.text.count("<CARD>") == 1
    assert out.text.count("<IP>") == 2
    # invalid check characters, a failing Luhn sum and a private address are left
    for value in (BAD_ID_NUMBER, BAD_CARD, "192.168.1.20"):
        assert value in out.text


def test_pii_checks():
    assert id_number_valid("11010519491231002X") and not id_number_valid("110105194912310021")
    assert card_valid("4111-1111-1111-1111") and not card_valid("4111-1111-1111-1112")
    assert not card_valid("1111111111111117")  # Luhn-valid, but no card starts with 1
    masked, found = find_and_mask("Meet at 12:30:45, v1.2.3.4, ratio 3.14159265358979.")
    assert not found and "12:30:45" in masked
    masked, found = find_and_mask(CONTACT_PAGE, kinds=("email",))
    assert dict(found) == {"email": 2} and CONTACTS["phone"][0] in masked


def test_pii_never_leaves_in_stats_rejects_or_logs(tmp_path, caplog):
    frame = docs(CONTACT_PAGE, EN_PAGE)
    caplog.set_level(logging.DEBUG)
    for mode in ("mask", "drop"):
        kept, rejects, stats = run(frame, pii={"mode": mode})
        written = json.dumps(stats, ensure_ascii=False) + rejects.to_json(force_ascii=False)
        written += kept.drop(columns="text").to_json(force_ascii=False) + caplog.text
        for value in PII_VALUES:
            assert value not in written, (mode, value)
        assert stats["pii_by_type"] == {
            "email": 2,
            "ip": 2,
            "phone": 3,
            "id_number": 1,
            "card": 1,
        }
        assert stats["pii_documents"] == 1
    # drop: the page is rejected with counts only, its stored text masked
    assert list(rejects["reason"]) == ["pii"]
    assert rejects["detail"].iloc[0] == (
        "personal data found (email 2, ip 2, phone 3, id_number 1, card 1)"
    )
    assert "<EMAIL>" in rejects["text"].iloc[0]
    assert list(kept["text"]) == [EN_PAGE]


def test_pii_column_counts_per_document():
    kept, _, stats = run(docs(CONTACT_PAGE, EN_PAGE))
    by_text = dict(zip(kept["text"].str[:4], kept["pii"], strict=True))
    assert by_text["联系我们"[:4]] == {"email": 2, "ip": 2, "phone": 3, "id_number": 1, "card": 1}
    assert by_text[EN_PAGE[:4]] == dict.fromkeys(("email", "ip", "phone", "id_number", "card"), 0)
    assert sum(p["phone"] for p in kept["pii"]) == stats["pii_by_type"]["phone"]
    _, _, off = run(docs(CONTACT_PAGE), pii={"mode": "off"})
    assert off["pii_by_type"]["email"] == 0 and off["pii_mode"] == "off"


# ---------------------------------------------------------------- flagged words, site lines


def test_spam_pages_are_rejected_for_flagged_words():
    for text, lang in ((SPAM_EN, "en"), (SPAM_ZH, "zh")):
        out = cleaner().clean_text(text)
        assert out.verdict is not None and out.verdict[0] == "flagged_words", text
        assert out.verdict[1].startswith(f"{lang} flagged ") and "> 0.01" in out.verdict[1]
    # one mention in a long page stays under the share
    mention = f"{CAFE}\n{EN_PAGE} Later, a casino opened in the town where the first press stood."
    assert len(mention.split()) > 100
    out = cleaner().clean_text(mention)
    assert out.verdict is None and out.record["flagged_words"] == 1


def test_flagged_word_lists_from_files(tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("# printing words\nprinting press\nscribe\n", encoding="utf-8")
    cfg = clean_config(flagged_words={"lists": {"en": {"source": {"path": str(words)}}}})
    out = settings(cfg).clean_text(EN_PAGE)
    assert out.verdict is not None and out.verdict[0] == "flagged_words"
    assert out.verdict[1].startswith("en flagged words 3,")  # two words of the phrase + scribe
    # a list fetched by the workflow is read from the file the rule passes
    remote = {"source": {"url": "https://example.org/words.txt"}}
    cfg = clean_config(flagged_words={"lists": {"en": remote}})
    with pytest.raises(CleanError, match=r"clean\.flagged_words\.lists\.en\.source"):
        settings(cfg)
    assert settings(cfg, {"en": str(words)}).flagged is not None
    missing = clean_config(flagged_words={"lists": {"zh": {"source": {"path": "nope.txt"}}}})
    with pytest.raises(CleanError, match=r"clean\.flagged_words\.lists\.zh: cannot read nope"):
        settings(missing)


def test_site_boilerplate_lines_are_removed_and_counted():
    out = cleaner().clean_text(TRADITIONAL_PAGE)
    assert out.verdict is None and out.text == SIMPLIFIED_NEWS
    assert out.record["boilerplate_lines"] == 4
    assert dict(out.boilerplate) == {"cookies": 1, "browser": 1, "app_follow": 1, "copyright": 1}
    english = "\n".join([EN_SITE_LINES[0], EN_PAGE, *EN_SITE_LINES[1:]])
    out = cleaner().clean_text(english)
    assert out.text == EN_PAGE and out.record["boilerplate_lines"] == 4
    # a paragraph about cookies is no banner; only short lines are candidates
    prose = "Our bakery uses cookies from an old family recipe, and we accept cookies " * 4
    assert Boilerplate(200).kind_of(prose) is None
    assert Boilerplate(200, [r"^share this"]).kind_of("Share this article") == "custom"


def test_a_page_of_site_lines_only_is_empty():
    out = cleaner().clean_text("\n".join(EN_SITE_LINES))
    assert out.verdict == ("empty_text", "every line was site boilerplate (4)")
    assert cleaner().clean_text(" \u200b\n ").verdict == ("empty_text", "no text")


# ---------------------------------------------------------------- the stage


def test_stage_over_a_shard_accounts_for_every_document(tmp_path):
    frame = docs(
        CAFE_MOJIBAKE,
        GBK_AS_LATIN1,
        TRADITIONAL_PAGE,
        CONTACT_PAGE,
        PINYIN_MIX,
        SPAM_EN,
        EN_PAGE,
    )
    generated = docs("A generated text with an email a@example.com.", origin="generated")
    generated["id"] = generated["seed_id"] = "f" * 16
    frame = pd.concat([frame, generated], ignore_index=True)
    write_parquet(frame, tmp_path / "in.parquet")
    cfg = clean_config(apply_to=["web"])
    stats = run_doc_stage(
        CleanStage(cfg),
        tmp_path / "in.parquet",
        tmp_path / "out.parquet",
        tmp_path / "rejected.parquet",
        tmp_path / "stats.json",
        shard="0000",
    )
    kept, rejects = (
        read_parquet(tmp_path / "out.parquet"),
        read_parquet(tmp_path / "rejected.parquet"),
    )
    assert list(rejects.columns) == REJECT_COLUMNS
    assert set(kept["id"]) | set(rejects["id"]) == set(frame["id"])
    assert not set(kept["id"]) & set(rejects["id"])
    assert dict(zip(rejects["id"], rejects["reason"], strict=True)) == {
        frame["id"][1]: "garbled_text",
        frame["id"][4]: "pinyin_mixed",
        frame["id"][5]: "flagged_words",
    }
    assert (rejects["stage"] == "clean").all()
    assert stats == read_json(tmp_path / "stats.json")
    assert stats["in"] == 8 and stats["kept"] == 5 and stats["not_cleaned"] == 1
    assert stats["rejected_by_reason"] == {"flagged_words": 1, "garbled_text": 1, "pinyin_mixed": 1}
    assert stats["garbled_by_measure"] == {"mojibake": 1}
    assert stats["unicode_fixed"] == 1 and stats["converted_documents"] == 1
    assert stats["boilerplate_lines"] == 4 and stats["documents_changed"] == 3
    # the generated document passed untouched: no clean record, its email kept
    gen = kept.set_index("id").loc["f" * 16]
    assert gen["clean"] is None and gen["pii"] is None and "a@example.com" in gen["text"]
    record = kept.set_index("id").loc[frame["id"][2], "clean"]
    assert record["chars_converted"] > 20 and record["boilerplate_lines"] == 4
    # shards' stats add up in the summary
    merged = merge_stats([stats, stats])
    assert merged["pii_by_type"]["phone"] == 6 and merged["convert"] == "t2s"


def test_config_mistakes_name_the_key():
    with pytest.raises(CleanError, match=r"clean\.boilerplate\.extra_patterns\[1\]"):
        cleaner(boilerplate={"extra_patterns": ["ok", "(unclosed"]})
    # a language's word list needs a bound (the schema fills en's and zh's)
    cfg = clean_config()
    del cfg["flagged_words"]["max_ratio"]["zh"]
    with pytest.raises(CleanError, match=r"clean\.flagged_words\.max_ratio: no bound for zh"):
        settings(cfg)


def test_card_and_figure_show_what_clean_changed(tmp_path):
    from corpusforge.report.card_sections import stage_lines
    from corpusforge.report.plots import draw_plot

    _, _, stats = run(docs(CONTACT_PAGE, TRADITIONAL_PAGE, GBK_AS_LATIN1, CAFE_MOJIBAKE))
    summary = {
        "clean": {k: v for k, v in stats.items() if k not in ("stage", "apply_to")},
        "stages": {"clean": stats},
        "funnel": [{"stage": "clean", "in": 4, "kept": 3, "rejected_by_reason": {"x": 1}}],
    }
    card = "\n".join(stage_lines(summary, {}, "clean"))
    assert "Personal data masked in 1 document " in card and "| phone | 3 |" in card
    assert "OpenCC `t2s` changed" in card and "site lines removed: 4" in card
    assert "Garbled text, by measure: mojibake: 1." in card
    for value in PII_VALUES:
        assert value not in card
    draw_plot("clean", summary, pd.DataFrame(), tmp_path / "clean.png")
    assert (tmp_path / "clean.png").stat().st_size > 10_000
