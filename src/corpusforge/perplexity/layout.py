"""Where the stage's files live in a workflow run (rules/perplexity.smk)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..fetch import local_file
from .config import settings, training_settings


class WorkflowLayout:
    """Where the stage's files live in a workflow run (used by rules/perplexity.smk).

    ``out`` turns a path under the results folder into the workflow's path (common.smk's
    ``out``). Trained models: ``lm/{lang}/{lang}.sp.model``, ``{lang}.arpa.bin`` and
    ``{lang}.json`` (description with held-out reference perplexities); downloads:
    ``lm/downloads/{lang}/{kind}/{file}``; scored shards: ``perplexity/scored/{shard}``.
    """

    def __init__(self, cfg: Mapping[str, Any], out) -> None:
        # cfg: the section as the workflow validated it, the schema's defaults filled in
        self.cfg = settings(cfg)
        self.out = out
        self.langs = sorted(self.cfg["models"])
        self.trained = [lang for lang in self.langs if "pretrained" not in self.cfg["models"][lang]]
        self.pretrained = [lang for lang in self.langs if lang not in self.trained]

    @staticmethod
    def pattern(langs: Sequence[str]) -> str:
        """A wildcard regex matching exactly these languages (nothing if none)."""
        return "|".join(re.escape(lang) for lang in langs) if langs else "(?!)"

    def model_cfg(self, lang: str) -> dict[str, Any]:
        return self.cfg["models"][lang]

    def source(self, lang: str, kind: str) -> Mapping[str, Any]:
        """The configured source of a language's reference text or model file."""
        model = self.model_cfg(lang)
        return model["reference"] if kind == "reference" else model["pretrained"][kind]

    def source_key(self, lang: str, kind: str) -> str:
        """The config key of a source, for messages."""
        where = "reference" if kind == "reference" else f"pretrained.{kind}"
        return f"perplexity.models.{lang}.{where}"

    def source_file(self, lang: str, kind: str) -> str:
        """The local file of a source: its path, or where rule download_lm_file puts it."""
        return local_file(self.source(lang, kind), self.out(f"lm/downloads/{lang}/{kind}"), "file")

    def files(self, lang: str) -> dict[str, str]:
        """A language's SentencePiece model, KenLM binary and description."""
        meta = self.out(f"lm/{lang}/{lang}.json")
        if lang in self.trained:
            return {
                "sp": self.out(f"lm/{lang}/{lang}.sp.model"),
                "lm": self.out(f"lm/{lang}/{lang}.arpa.bin"),
                "meta": meta,
            }
        return {
            "sp": self.source_file(lang, "sp"),
            "lm": self.source_file(lang, "lm"),
            "meta": meta,
        }

    def all_files(self, kind: str) -> list[str]:
        return [self.files(lang)[kind] for lang in self.langs]

    def model_paths(self) -> dict[str, dict[str, str]]:
        return {lang: {k: self.files(lang)[k] for k in ("sp", "lm")} for lang in self.langs}

    def describe_inputs(self, lang: str) -> dict[str, str]:
        files = {k: self.files(lang)[k] for k in ("sp", "lm")}
        if "reference" in self.model_cfg(lang):
            files["reference"] = self.source_file(lang, "reference")
        return files

    def scored(self, shard: str = "{shard}") -> str:
        return self.out(f"perplexity/scored/{shard}.parquet")

    def cutoff_inputs(self, shards: Sequence[str]) -> dict[str, list[str]]:
        files = {"meta": self.all_files("meta")}
        if self.cfg["cutoffs"]["source"] == "corpus":
            files["scored"] = [self.scored(shard) for shard in shards]
        return files

    def training(self, lang: str) -> dict[str, Any]:
        return training_settings(self.cfg["training"], self.model_cfg(lang))

    def reference_format(self, lang: str) -> str:
        return self.model_cfg(lang)["reference_format"]

    def text_field(self, lang: str) -> str:
        return self.model_cfg(lang)["text_field"]
