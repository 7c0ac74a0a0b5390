"""Config sections with their defaults filled in from the JSON schema
(config/schema/config.schema.yaml, shipped as package data), the way the workflow's ``validate``
(rules/common.smk) fills them.

The schema owns the defaults: code that calls a stage outside the workflow (tests,
benchmarks, a notebook) takes them from here, e.g.
``dedup.settings(with_defaults("dedup", {"threshold": 0.7}))``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

# Package data (src/corpusforge/data/: links to config/ in the repository, the files
# themselves in an installed wheel).
DATA = Path(__file__).resolve().parent / "data"
SCHEMA_FILE = DATA / "config.schema.yaml"
DEMO_CONFIG = DATA / "config.yaml"


@cache
def _schema() -> dict[str, Any]:
    return yaml.safe_load(SCHEMA_FILE.read_text(encoding="utf-8"))


def _filling_validator(schema: Mapping[str, Any]) -> jsonschema.protocols.Validator:
    """A validator that sets each missing property's ``default`` before validating it
    (what Snakemake's ``validate(..., set_default=True)`` does)."""
    base = jsonschema.Draft202012Validator
    check_properties = base.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub:
                    instance.setdefault(name, copy.deepcopy(sub["default"]))
        yield from check_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(base, {"properties": set_defaults})(schema)


def with_defaults(section: str, cfg: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The config section ``section`` (``dedup``, ``perplexity``, ...) as the workflow
    sees it: ``cfg`` (none: the section left out) with the schema's defaults filled
    in, validated."""
    schema = copy.deepcopy(_schema())
    sub = {**schema["properties"][section], "definitions": schema["definitions"]}
    instance = copy.deepcopy(dict(cfg or {}))
    _filling_validator(sub).validate(instance)
    return instance


def defaults(section: str) -> dict[str, Any]:
    """The schema's defaults of a section's own keys (not validated, nothing nested):
    for code handed a part of a section, e.g. the model's ``package`` and ``file``."""
    properties = _schema()["properties"][section].get("properties", {})
    return {
        name: copy.deepcopy(sub["default"]) for name, sub in properties.items() if "default" in sub
    }


def root_defaults() -> dict[str, Any]:
    """The schema's defaults of the config's top-level keys that are not sections
    (``shards``, ``batch_rows``, ...)."""
    properties = _schema()["properties"]
    return {
        key: copy.deepcopy(sub["default"])
        for key, sub in properties.items()
        if "default" in sub and sub.get("type") != "object"
    }


def definition_defaults(name: str) -> dict[str, Any]:
    """The schema's defaults of the own keys of ``definitions/<name>`` (e.g. ``seed``:
    one entry of ``seeds``)."""
    properties = _schema()["definitions"][name].get("properties", {})
    return {
        key: copy.deepcopy(sub["default"]) for key, sub in properties.items() if "default" in sub
    }


def demo_config() -> dict[str, Any]:
    """The demo build's config (config/config.yaml) as the package ships it."""
    return yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))


def full_config(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """A whole config with the schema's defaults filled in, validated."""
    instance = copy.deepcopy(dict(cfg))
    _filling_validator(copy.deepcopy(_schema())).validate(instance)
    return instance
