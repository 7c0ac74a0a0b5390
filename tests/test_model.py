"""Model stage: the default GGUF is found and converts to a loadable HF folder."""

from __future__ import annotations

import json

import pytest

from corpusforge.model import ModelError, gguf_path, prepare
from corpusforge.schema import with_defaults


def model_cfg(**cfg) -> dict:
    """A model section as the workflow passes it: the schema's defaults filled in."""
    return with_defaults("model", {"name": "m", "source": "gguf", **cfg})


def test_default_gguf_is_found_without_importing_its_package():
    path = gguf_path(model_cfg())
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.stat().st_size > 50_000_000
    assert path.read_bytes()[:4] == b"GGUF"


def test_bad_model_config_is_named(tmp_path):
    with pytest.raises(ModelError, match=r"model\.package"):
        gguf_path(model_cfg(package="no_such_package_here"))
    with pytest.raises(ModelError, match="does not exist"):
        gguf_path(model_cfg(path=str(tmp_path / "missing.gguf")))
    with pytest.raises(ModelError, match=r"model\.revision"):
        # the workflow's schema refuses an empty revision first; the package checks too
        prepare({**model_cfg(), "source": "hf", "repo_id": "org/model", "revision": ""}, tmp_path)
    with pytest.raises(ModelError, match=r"model\.source"):
        prepare(model_cfg(source="local", path=str(tmp_path)), tmp_path / "m")


def test_converted_folder_is_a_complete_hf_model(smollm2_dir):
    config = json.loads((smollm2_dir / "config.json").read_text())
    assert config["model_type"] == "llama"
    assert "quantization_config" not in config
    assert (smollm2_dir / "model.safetensors").stat().st_size > 200_000_000
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(smollm2_dir)
    text = tok.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert "<|im_start|>user\nhi<|im_end|>" in text and text.endswith("<|im_start|>assistant\n")
    assert json.loads((smollm2_dir / "corpusforge-model.json").read_text())["source"] == "gguf"
