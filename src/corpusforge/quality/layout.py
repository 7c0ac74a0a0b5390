"""Where the quality stage's files live in a workflow run (used by rules/quality.smk).

``out`` turns a path under the results folder into the workflow's path (common.smk's
``out``); ``QualityLayout.PATHS`` names every file: trained models (``model`` and
``meta``: counts, held-out accuracy), downloads (kind ``model``, ``positive0``,
``negative1``, ...), the hf engine's model folder and, with ``buckets``, the scoring
job's documents and stats (``scored``, ext parquet or json) and the cutoffs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from ..layout import Layout
from . import settings


class QualityLayout(Layout):
    # Every file of the stage, under the results folder: the rules' outputs too.
    PATHS: ClassVar[Mapping[str, str]] = {
        "download": "quality/downloads/{lang}/{kind}/{filename}",  # download_quality_file
        "model": "quality/{lang}/{lang}.bin",  # train_quality
        "meta": "quality/{lang}/{lang}.json",  # train_quality
        "hf": "models-quality/hf",  # prepare_quality_model
        "scored": "quality/scored/{shard}.{ext}",  # quality, with buckets
        "cutoffs": "stats/quality_cutoffs.json",  # quality_cutoffs
    }

    def __init__(self, section: Mapping[str, Any], out: Callable[[str], str]) -> None:
        super().__init__(out)
        self.cfg = settings(section)  # schema defaults filled in, cross-field checked
        self.engine = self.cfg["engine"]
        self.models = self.cfg["fasttext"]["models"] if self.engine == "fasttext" else {}
        self.langs = sorted(self.models)
        self.trained = [lang for lang in self.langs if "model" not in self.models[lang]]
        self.hf = self.cfg["hf"]
        self.gpus = self.hf["gpus"] if self.engine == "hf" else 0
        self.threads = self.hf["threads"] if self.engine == "hf" else 1
        self.buckets = self.cfg.get("buckets")  # None: off

    def trained_pattern(self) -> str:
        """A wildcard regex matching exactly the trained languages (nothing if none)."""
        return self.pattern(self.trained)

    def source(self, lang: str, kind: str) -> Mapping[str, Any]:
        """A language's given model (kind ``model``) or its n-th reference (``positive0``)."""
        entry = self.models[lang]
        if kind == "model":
            return entry["model"]
        group = kind.rstrip("0123456789")
        return entry[group][int(kind[len(group) :])]["source"]

    def source_key(self, lang: str, kind: str) -> str:
        """The config key of a source, for messages."""
        if kind == "model":
            return f"quality.fasttext.models.{lang}.model"
        group = kind.rstrip("0123456789")
        return f"quality.fasttext.models.{lang}.{group}[{kind[len(group) :]}].source"

    def source_file(self, lang: str, kind: str) -> str:
        """A source's local file: its path, or where rule download_quality_file puts it."""
        return self.downloaded(self.source(lang, kind), lang=lang, kind=kind)

    def references(self, lang: str, group: str) -> list[str]:
        refs = self.models[lang][group]
        return [self.source_file(lang, f"{group}{i}") for i in range(len(refs))]

    def training(self, lang: str) -> dict[str, Any]:
        """What a language's trained model depends on (not the thresholds); canon() it."""
        ft, entry = self.cfg["fasttext"], self.models[lang]
        references = ("positive", "negative")
        return {
            "fasttext": {
                "models": {lang: {k: v for k, v in entry.items() if k not in references}},
                "training": ft["training"],
                "lowercase": ft["lowercase"],
                "cjk_languages": ft["cjk_languages"],
            },
            "formats": {
                group: [[r["format"], r["text_field"]] for r in entry[group]]
                for group in references
            },
        }

    def hf_dir(self) -> str:
        return str(self.hf["path"]) if self.hf.get("path") else self.path("hf")

    def model_paths(self) -> dict[str, str] | str:
        """engine fasttext: language -> model file; engine hf: the model folder."""
        if self.engine == "hf":
            return self.hf_dir()
        return {
            lang: (
                self.path("model", lang=lang)
                if lang in self.trained
                else self.source_file(lang, "model")
            )
            for lang in self.langs
        }

    def model_files(self, wildcards: Any = None) -> list[str]:
        paths = self.model_paths()
        return [paths] if isinstance(paths, str) else list(paths.values())

    def settings(self) -> dict[str, Any]:
        """What the scoring job depends on (not the buckets); canon() it."""
        return {k: v for k, v in self.cfg.items() if k != "buckets"}

    def scored(self, ext: str, shard: str = "{shard}") -> str:
        """With buckets: the scoring job's documents (parquet) or stats (json)."""
        return self.path("scored", shard=shard, ext=ext)

    def cutoffs(self) -> str:
        return self.path("cutoffs")

    def scorer_settings(self) -> dict[str, Any]:
        """What a scorer depends on (not the stage's bounds): for seed selection."""
        drop = ("min_score", "min_score_by_lang", "unscored", "buckets")
        return {k: v for k, v in self.cfg.items() if k not in drop}
