"""Language codes as the corpus compares them.

Codes come from seeds (``prompt_lang``), language ID (``lang``: the model's labels
as ISO 639-1 codes, see :mod:`corpusforge.langid.labels`) and the config (model and
setting keys). They are compared in lower case with ``-`` between subtags
(``zh_Hant`` -> ``zh-hant``); a stage that works per language and has nothing for
a regional or script variant falls back to its primary subtag (``zh-hant`` -> ``zh``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

# Codes dedup groups with a two-letter one (three-letter and macrolanguage codes a
# seed may carry for Chinese and Japanese).
ALIASES = {"zho": "zh", "cmn": "zh", "chi": "zh", "yue": "zh", "jpn": "ja"}


def normalized(code: str) -> str:
    """A code in lower case with ``-`` between subtags: ``zh_Hant`` -> ``zh-hant``."""
    return code.strip().lower().replace("_", "-")


def primary_subtag(code: str) -> str:
    """The language of a code without region or script: ``zh-Hant`` -> ``zh``."""
    return normalized(code).split("-")[0]


def lang_code(value: Any) -> str | None:
    """A document's language as one group (dedup's character n-grams): the primary
    subtag of a code or fastText label (``__label__zh``), three-letter Chinese and
    Japanese codes as ``zh`` / ``ja`` (ALIASES); None for no language."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    code = primary_subtag(str(value).strip().lower().removeprefix("__label__"))
    return ALIASES.get(code, code) or None


def model_language(lang: Any, models: Iterable[str]) -> str | None:
    """The model (of ``models``, keyed by code) a language uses: its own, else its
    primary subtag's (``zh-Hant`` -> ``zh``); None if neither has one."""
    if not isinstance(lang, str) or not lang.strip():
        return None
    code = normalized(lang)
    available = set(models)
    if code in available:
        return code
    primary = code.split("-")[0]
    return primary if primary in available else None
