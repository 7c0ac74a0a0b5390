"""Where the quality stage's files live in a workflow run (used by rules/quality.smk).

``out`` turns a path under the results folder into the workflow's path (common.smk's
``out``). Trained models: ``quality/{lang}/{lang}.bin`` and ``{lang}.json`` (counts,
held-out accuracy); downloads: ``quality/downloads/{lang}/{kind}/{file}`` (kind
``model``, ``positive0``, ``negative1``, ...); the hf engine's model folder:
``models-quality/hf``. With ``buckets``: the scoring job's documents and stats
``quality/scored/{shard}.parquet|json``, the cutoffs ``stats/quality_cutoffs.json``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from ..fetch import local_file
from . import settings


class QualityLayout:
    def __init__(self, section: Mapping[str, Any], out: Callable[[str], str]) -> None:
        self.cfg = settings(section)  # schema defaults filled in, cross-field checked
        self.out = out
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
        return "|".join(re.escape(lang) for lang in self.trained) or "(?!)"

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
        folder = self.out(f"quality/downloads/{lang}/{kind}")
        return local_file(self.source(lang, kind), folder, "file")

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
        return str(self.hf["path"]) if self.hf.get("path") else self.out("models-quality/hf")

    def model_paths(self) -> dict[str, str] | str:
        """engine fasttext: language -> model file; engine hf: the model folder."""
        if self.engine == "hf":
            return self.hf_dir()
        return {
            lang: (
                self.out(f"quality/{lang}/{lang}.bin")
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
        return self.out(f"quality/scored/{shard}.{ext}")

    def cutoffs(self) -> str:
        return self.out("stats/quality_cutoffs.json")

    def scorer_settings(self) -> dict[str, Any]:
        """What a scorer depends on (not the stage's bounds): for seed selection."""
        drop = ("min_score", "min_score_by_lang", "unscored", "buckets")
        return {k: v for k, v in self.cfg.items() if k not in drop}
