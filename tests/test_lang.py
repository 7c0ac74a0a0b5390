"""Language codes as the stages compare them (corpusforge.lang)."""

from __future__ import annotations

import math

import pytest

from corpusforge.lang import lang_code, model_language, normalized, primary_subtag


def test_codes_are_compared_in_lower_case_with_hyphens():
    assert normalized(" zh_Hant ") == "zh-hant" and normalized("pt-BR") == "pt-br"
    assert primary_subtag("zh_Hant") == "zh" and primary_subtag("EN") == "en"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("zh-Hant", "zh"),
        ("__label__ja", "ja"),
        ("ZHO", "zh"),
        ("cmn", "zh"),
        ("yue_Hant", "zh"),
        ("jpn", "ja"),
        ("en_US", "en"),
        ("", None),
        (None, None),
        (math.nan, None),
    ],
)
def test_a_documents_language_group(value, code):
    assert lang_code(value) == code


def test_a_language_uses_its_own_model_else_its_primary_subtags():
    models = ["en", "zh", "zh-hant"]
    assert model_language("zh_Hant", models) == "zh-hant"
    assert model_language("zh-CN", models) == "zh"
    assert model_language("EN", models) == "en"
    assert model_language("de", models) is None
    assert model_language(" ", models) is None and model_language(None, models) is None
