"""What the rules of rules/train.smk resolve from the ``train`` section while the
workflow is parsed: the tokenizer folder and the datasets the mixture writes. The
schema fills the defaults; corpusforge.train.mixture.check_groups checks the groups."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import TrainError
from .formats import data_files, dtype_for_vocab
from .mixture import slug
from .tokenize import load_tokenizer, vocab_size


def hf_tokenizer_dir(hf: Mapping[str, Any], out: Callable[[str], str]) -> str:
    """Where rule ``train_tokenizer`` saves a pinned Hugging Face tokenizer."""
    return out(f"tokenizers/train/{hf['repo_id'].replace('/', '--')}")


def tokenizer_source(
    cfg: Mapping[str, Any] | None,
    model: Mapping[str, Any],
    model_tokenizer: str,
    out: Callable[[str], str],
    dtype: str = "auto",
) -> tuple[str, str]:
    """(tokenizer folder, name recorded with the tokens) for ``train.tokenizer``.

    null: the generation model's tokenizer folder (``model_tokenizer``); ``path``: a
    local folder, loaded now so that a folder that is no tokenizer, or whose
    vocabulary does not fit ``train.dtype``, stops the build before any job runs;
    ``hf``: the folder rule ``train_tokenizer`` fills from the pinned revision.
    """
    if cfg is None:
        return model_tokenizer, str(model.get("repo_id") or model.get("name"))
    if "path" in cfg:
        tokenizer = load_tokenizer(cfg["path"], "train.tokenizer.path")
        try:
            dtype_for_vocab(vocab_size(tokenizer), dtype)
        except ValueError as error:
            raise TrainError(str(error)) from error
        return cfg["path"], Path(cfg["path"]).name
    return hf_tokenizer_dir(cfg["hf"], out), cfg["hf"]["repo_id"]


def train_outputs(
    cfg: Mapping[str, Any], groups: Sequence[Sequence[Any]], out_dir: str
) -> list[str]:
    """The data files rule ``train_mixture`` writes (besides mixture.json)."""
    names = (
        ["train"]
        if cfg["layout"] == "single"
        else [f"train-{slug(pattern, g)}" for g, (pattern, _) in enumerate(groups)]
    )
    return [
        path
        for name in [*names, "valid"]
        for path in data_files(cfg["format"], f"{out_dir}/{name}")
    ]
