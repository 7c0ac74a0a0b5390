"""The config schema: the default config is valid, mistakes are refused by name."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import jsonschema
import pytest
import yaml
from workflow_util import copy_repo, smk

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


# ---------------------------------------------------------------- a user's config
# Snakemake merges --configfile into config/config.yaml key by key; the demo seed
# and benchmark must not be merged into a user's own (rules/common.smk).


@pytest.fixture(scope="module")
def repo_copy(tmp_path_factory):
    workdir = copy_repo(tmp_path_factory.mktemp("config"))
    (workdir / "quiz.jsonl").write_text('{"question": "Which planet is the largest?"}\n')
    return workdir


def dry_run(workdir: Path, cfg: dict | None) -> str:
    """The dry run's output (every planned job with its files) under a user config."""
    args = ["-n"]
    if cfg is not None:
        (workdir / "my.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True))
        args += ["--configfile", "my.yaml"]
    proc = smk(workdir, *args)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def test_a_renamed_seed_replaces_the_demo_seed(repo_copy):
    """A copy of the default config with the seed renamed builds that seed only."""
    cfg = copy.deepcopy(DEFAULT)
    cfg["seeds"] = {"mine": cfg["seeds"].pop("default")}
    planned = dry_run(repo_copy, cfg)
    assert "results/stats/seed/mine.json" in planned
    assert "seed=default" not in planned and "results/stats/seed/default.json" not in planned


def test_a_config_without_seeds_builds_the_demo(repo_copy):
    planned = dry_run(repo_copy, {"shards": 1})
    assert "results/stats/seed/default.json" in planned
    assert "resources/benchmarks/sample.jsonl" in planned


def test_a_users_benchmarks_replace_the_sample(repo_copy):
    quiz = {"quiz": {"source": {"path": "quiz.jsonl"}, "text_fields": ["question"]}}
    planned = dry_run(repo_copy, {"decontam": {"benchmarks": quiz}})
    assert "quiz.jsonl" in planned and "rule decontam_index" in planned
    assert "resources/benchmarks/sample.jsonl" not in planned
    # the demo seed stays: this config names no seeds
    assert "results/stats/seed/default.json" in planned


def test_no_benchmarks_means_no_decontam_stage(repo_copy):
    planned = dry_run(repo_copy, {"decontam": {"benchmarks": {}}})
    assert "rule decontam" not in planned and "sample.jsonl" not in planned
    assert "rule dedup:" in planned


def test_the_manifest_checksums_every_download(repo_copy):
    """Files fetched from a url (no sha256 pinned) are inputs of rule manifest, which
    records their sha256 under files.downloads."""
    cfg = copy.deepcopy(DEFAULT)
    cfg["seeds"]["web"] = {"source": {"url": "http://127.0.0.1:9/dump/web.jsonl"}}
    quiz = {"source": {"url": "http://127.0.0.1:9/quiz.jsonl?v=1"}, "text_fields": ["question"]}
    cfg["decontam"]["benchmarks"] = {"quiz": quiz}
    planned = dry_run(repo_copy, cfg)
    manifest_job = planned.split("rule manifest:", 1)[1].split("\n\n", 1)[0]
    assert "results/downloads/web/web.jsonl" in manifest_job
    assert "results/decontam/benchmarks/quiz/quiz.jsonl" in manifest_job


def _resolvers() -> dict:
    """Section -> the function that resolves and checks it for its stage."""
    from corpusforge import clean, decontam, dedup, filters, langid, perplexity, quality

    return {
        "clean": clean.settings,
        "decontam": decontam.settings,
        "dedup": dedup.settings,
        "filters": filters.settings,
        "langid": langid.settings,
        "perplexity": perplexity.settings,
        "quality": quality.settings,
    }


def test_the_default_config_resolves_in_every_stage():
    """config/config.yaml as the schema fills it goes through every stage's settings
    function, and so does each section left out (the schema's defaults alone), but
    quality's, whose classifiers are the demo's (config.yaml); no stage needs a
    default of its own."""
    from corpusforge import langid, perplexity
    from corpusforge.schema import full_config, with_defaults

    full = full_config(DEFAULT)
    for section, resolve in _resolvers().items():
        resolve(copy.deepcopy(full[section]))
        if section != "quality":
            resolve(with_defaults(section))
    for cfg in (full["perplexity"], with_defaults("perplexity")):
        resolved = perplexity.settings(cfg)
        for model in resolved["models"].values():
            training = perplexity.training_settings(resolved["training"], model)
            assert set(training) == set(SCHEMA["definitions"]["lm_training"]["properties"])
    assert langid.model_name(with_defaults("langid")["model"]) == "lid.176.ftz"


# Sections where config/config.yaml sets something else than the schema's default.
CONFIG_NOT_DEFAULT = {
    "langid": "pins the packaged model's sha256",
    "quality": "the demo's en and zh classifiers and their bound",
    "decontam": "the sample benchmark",
}


def test_config_yaml_repeats_the_schemas_defaults():
    """What config/config.yaml writes out for a user to read and change is the
    schema's default (the one place defaults live), but where CONFIG_NOT_DEFAULT says."""
    from corpusforge.filters import settings as filter_settings
    from corpusforge.schema import full_config, with_defaults

    full = full_config(DEFAULT)
    checked = []
    for section, spec in SCHEMA["properties"].items():
        if spec.get("type") != "object" or "default" not in spec:
            continue
        if section in CONFIG_NOT_DEFAULT:
            continue
        defaults = with_defaults(section)
        if section == "filters":  # config.yaml's n-gram keys are ints, the schema's strings
            assert filter_settings(full[section]) == filter_settings(defaults)
        else:
            assert full[section] == defaults, section
        checked.append(section)
    assert {"clean", "dedup", "filters", "perplexity", "mix"} <= set(checked)


def test_an_installed_package_validates_the_demo_config_alone(tmp_path):
    """A non-editable install (a wheel in a folder of its own, not this checkout's
    src/) finds its schema and demo config as package data and validates."""
    import subprocess
    import sys

    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         str(ROOT), "-w", str(tmp_path / "wheel")],
        check=True,
    )  # fmt: skip
    [wheel] = (tmp_path / "wheel").glob("corpusforge-*.whl")
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
         str(wheel)],
        check=True,
    )  # fmt: skip
    check = (
        "import corpusforge.schema as s, pathlib, sys;"
        "assert pathlib.Path(s.__file__).is_relative_to(sys.argv[1]), s.__file__;"
        "assert not s.SCHEMA_FILE.is_symlink();"
        "cfg = s.full_config(s.demo_config());"
        "print(cfg['batch_rows'], cfg['generation']['engine_args']['enable_chunked_prefill'])"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-c", check, str(target)],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(target)},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["2000", "False"]
