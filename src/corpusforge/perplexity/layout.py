"""Where the stage's files live in a workflow run (rules/perplexity.smk)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from ..layout import Layout
from .config import settings, training_settings


class WorkflowLayout(Layout):
    """Where the stage's files live in a workflow run (used by rules/perplexity.smk).

    ``out`` turns a path under the results folder into the workflow's path (common.smk's
    ``out``); ``PATHS`` names every file: trained models (``sp``, ``lm`` and
    ``meta``, a description with held-out reference perplexities), downloads, scored
    shards and the cutoffs.
    """

    # Every file of the stage, under the results folder: the rules' outputs too.
    PATHS: ClassVar[Mapping[str, str]] = {
        "download": "lm/downloads/{lang}/{kind}/{filename}",  # rule download_lm_file
        "sp": "lm/{lang}/{lang}.sp.model",  # train_lm (SentencePiece)
        "lm": "lm/{lang}/{lang}.arpa.bin",  # train_lm (KenLM binary)
        "meta": "lm/{lang}/{lang}.json",  # train_lm or describe_lm
        "scored": "perplexity/scored/{shard}.parquet",  # perplexity_score
        "cutoffs": "stats/perplexity_cutoffs.json",  # perplexity_cutoffs
    }

    def __init__(self, cfg: Mapping[str, Any], out) -> None:
        # cfg: the section as the workflow validated it, the schema's defaults filled in
        super().__init__(out)
        self.cfg = settings(cfg)
        self.langs = sorted(self.cfg["models"])
        self.trained = [lang for lang in self.langs if "pretrained" not in self.cfg["models"][lang]]
        self.pretrained = [lang for lang in self.langs if lang not in self.trained]

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
        return self.downloaded(self.source(lang, kind), lang=lang, kind=kind)

    def files(self, lang: str) -> dict[str, str]:
        """A language's SentencePiece model, KenLM binary and description."""
        meta = self.path("meta", lang=lang)
        if lang in self.trained:
            return {kind: self.path(kind, lang=lang) for kind in ("sp", "lm", "meta")}
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
        return self.path("scored", shard=shard)

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
