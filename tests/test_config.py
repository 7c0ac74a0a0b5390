"""The config schema: the default config is valid, mistakes are refused by name."""

from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((ROOT / "config/schema/config.schema.yaml").read_text())
DEFAULT = yaml.safe_load((ROOT / "config/config.yaml").read_text())


def errors(config) -> list[str]:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    return [
        "/".join(map(str, e.absolute_path)) + ": " + e.message
        for e in validator.iter_errors(config)
    ]


def test_default_config_is_valid():
    assert errors(DEFAULT) == []


@pytest.mark.parametrize(
    "change, key",
    [
        (lambda c: c.update(shards=0), "shards"),
        (lambda c: c.update(shard=3), "shard"),
        (
            lambda c: c["seeds"]["default"]["source"].update(url="http://x/y.jsonl"),
            "seeds/default/source",
        ),
        (lambda c: c["seeds"]["default"].update(kind="web"), "seeds/default/kind"),
        (
            lambda c: c["seeds"]["default"]["source"].update(sha256="abc"),
            "seeds/default/source/sha256",
        ),
        (lambda c: c["model"].update(source="hf"), "model"),
        (lambda c: c["generation"]["sampling"].update(temprature=0.5), "generation/sampling"),
        (lambda c: c["prompts"].update(topic_hint_rate=2), "prompts/topic_hint_rate"),
    ],
)
def test_mistakes_are_refused_naming_the_key(change, key):
    config = copy.deepcopy(DEFAULT)
    change(config)
    found = errors(config)
    assert found, "the schema accepted a broken config"
    assert any(key in e for e in found), found


def test_every_key_is_documented():
    readme = (ROOT / "config/README.md").read_text()

    def keys(schema, prefix=""):
        for name, sub in schema.get("properties", {}).items():
            yield prefix + name
            yield from keys(sub, prefix + name + ".")

    missing = [k for k in keys(SCHEMA) if f"`{k}`" not in readme]
    assert not missing, f"config/README.md does not document: {missing}"
