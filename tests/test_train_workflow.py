"""The default build's training data (rules/train.smk): read back with Megatron-LM's
reader, equal to the model tokenizer's encoding of the final jsonl texts; another
mixture of the same build as datatrove files; config errors before any job runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from workflow_util import final_docs, planned_jobs, refused, smk

pytestmark = pytest.mark.workflow


def model_encoding(workdir: Path, texts: list[str]) -> list[list[int]]:
    """The generation model's tokenizer (transformers), EOS after each document."""
    from transformers import AutoTokenizer

    model = next((workdir / "results/models").iterdir())
    tokenizer = AutoTokenizer.from_pretrained(str(model))
    eos = tokenizer.convert_tokens_to_ids(tokenizer.eos_token)
    return [[*ids, eos] for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]


def test_the_default_build_ends_with_megatron_files_of_the_final_texts(default_build):
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    out = default_build / "results/train/default"
    mixture = json.loads((out / "mixture.json").read_text())
    assert mixture["dtype"] == "uint16" and mixture["format"] == "megatron"
    docs = final_docs(default_build)
    expected = model_encoding(default_build, docs["text"].tolist())
    (group,) = mixture["groups"]
    train = IndexedDataset(str(out / "train"))
    assert train.index.dtype == np.uint16
    read = [train[i].tolist() for i in range(len(train))]
    # the held-out share is drawn by a hash of the ids: with few final documents (they
    # depend on what the model wrote on this CPU) it can be empty, and Megatron cannot
    # map an empty .bin
    held_out = []
    if group["valid"]["documents"]:
        valid = IndexedDataset(str(out / "valid"))
        held_out = [valid[i].tolist() for i in range(len(valid))]
    else:
        assert (out / "valid.bin").stat().st_size == 0
    # every final document exactly once (one group, one epoch), in one split or the other
    assert sorted(read + held_out) == sorted(expected)
    assert group["group"] == "*/*" and group["chosen"]["documents"] == len(read) > 0
    assert group["valid"]["documents"] == len(held_out)
    assert read != [e for e in expected if e in read]  # shuffled, not in file order
    summary = json.loads((default_build / "results/stats/summary.json").read_text())
    assert summary["train"]["groups"][0]["chosen"] == group["chosen"]
    assert summary["runtime"]["rules"]["tokenize"]["jobs"] == 16
    card = (default_build / "results/final/README.md").read_text(encoding="utf-8")
    assert "## Training data" in card and "--data-path results/train/default/train" in card
    assert (default_build / "results/report/mixture.png").stat().st_size > 5_000


def test_another_mixture_as_datatrove_files_reruns_only_the_mixture(default_build, tmp_path):
    from datatrove.pipeline.tokens.merger import get_data_reader, load_doc_ends

    cfg = {
        "train": {
            "name": "paper",
            "format": "datatrove",
            "layout": "per_group",
            "groups": {"en/*": {"epochs": 0.5}, "zh/*": {"epochs": 2}},
        }
    }
    config = tmp_path / "paper.yaml"
    config.write_text(yaml.safe_dump(cfg))
    target = "results/train/paper/mixture.json"
    plan = smk(default_build, target, "-n", "--configfile", str(config))
    assert planned_jobs(plan) == {"train_mixture": 1}, plan.stdout + plan.stderr
    proc = smk(default_build, target, "--cores", "2", "--configfile", str(config))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    out = default_build / "results/train/paper"
    mixture = json.loads((out / "mixture.json").read_text())
    docs = final_docs(default_build)
    encoded = dict(
        zip(docs["id"], model_encoding(default_build, docs["text"].tolist()), strict=True)
    )
    for group, lang in zip(mixture["groups"], ["en", "zh"], strict=True):
        path = out / group["dataset"] / f"{group['dataset']}.ds"
        ends = load_doc_ends(open(f"{path}.index", "rb"))  # noqa: SIM115 - it closes the file
        read = [
            np.frombuffer(b, dtype="<u2").tolist()
            for b in get_data_reader(open(path, "rb"), ends, 2)  # noqa: SIM115
        ]
        mine = [encoded[i] for i in docs.loc[docs["lang"] == lang, "id"]]
        assert all(doc in mine for doc in read)
        target_tokens = {"en": 0.5, "zh": 2}[lang] * group["train_available"]["tokens"]
        assert 0 <= group["chosen"]["tokens"] - target_tokens < group["max_document_tokens"]
        assert len(read) == group["chosen"]["documents"] > 0
        metadata = Path(f"{path}.metadata").read_text()
        assert metadata.startswith(f"{mixture['tokenizer']}|2\n")
    assert "megatron_data_path" not in mixture
    folders = mixture["nanotron_dataset_folder"]
    assert list(folders) == [f"results/train/paper/{g['dataset']}" for g in mixture["groups"]]


@pytest.mark.parametrize(
    ("train", "message"),
    [
        ({"groups": {"fr/*": {"epochs": 1}}}, r"train.groups.fr/\*: matches no <lang>/<bucket>"),
        (
            {"groups": {"en/*": {"weight": 0.5}, "zh/*": {"weight": 0.2}}, "total_tokens": 10},
            "train.groups: the weights add up to 0.7, not 1",
        ),
        ({"tokenizer": {"path": "nowhere"}}, "train.tokenizer.path: nowhere is not a tokenizer"),
    ],
)
def test_bad_training_settings_stop_the_build_before_any_job(
    default_build, tmp_path, train, message
):
    import re

    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({"train": train}))
    assert re.search(message, refused(default_build, "--configfile", str(config)))
