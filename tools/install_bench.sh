#!/usr/bin/env bash
# What the benchmarks need beyond the workflow's own install (tools/install.sh):
#  - Debian packages whose text the benchmarks build their documents from (the Python
#    docs, man pages in English and Chinese, fortunes in English and Chinese);
#  - the baseline venvs, apart from .venv so no baseline changes what we measure:
#    ~/.cache/corpusforge/bench-venv (datatrove, rensa; benchmarks/requirements-datatrove.txt)
#    ~/.cache/corpusforge/dj-venv (data-juicer; benchmarks/requirements-datajuicer.txt).
# Idempotent: a venv whose requirements file has not changed is left as it is.
#   PYTHON=python3.11   the interpreter that makes the venvs
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/corpusforge
TEXT_PACKAGES="python3-doc manpages fortunes fortunes-zh manpages-zh"

missing=""
for pkg in $TEXT_PACKAGES; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "[install_bench] apt-get install$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

venv() {  # venv DIR REQUIREMENTS
  local dir=$1 req=$2 stamp
  stamp=$(sha256sum "$req" | cut -c1-16)
  if [ -f "$dir/.requirements" ] && [ "$(cat "$dir/.requirements")" = "$stamp" ]; then
    echo "[install_bench] $dir is up to date"
    return
  fi
  echo "[install_bench] $dir from $req"
  [ -x "$dir/bin/python" ] || "$PYTHON" -m venv "$dir"
  "$dir/bin/python" -m pip install -q --disable-pip-version-check -U pip
  "$dir/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
  echo "$stamp" > "$dir/.requirements"
}
# bench_topics.py runs the workflow's own code beside umap-learn and sentence-transformers
# (pyproject's `topics` extra, also the topics stage's optional paths): into .venv.
.venv/bin/python -m pip install -q --disable-pip-version-check "umap-learn>=0.5.5,<0.6" "sentence-transformers>=3,<7"
mkdir -p "$CACHE"
venv "$CACHE/bench-venv" benchmarks/requirements-datatrove.txt
venv "$CACHE/dj-venv" benchmarks/requirements-datajuicer.txt
echo "[install_bench] done; run a benchmark alone, e.g. nice -n 10 .venv/bin/python benchmarks/bench_dedup.py"
