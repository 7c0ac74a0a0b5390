#!/usr/bin/env bash
# Build KenLM's `lmplz` and `build_binary` (and `query`) from the kenlm sdist on PyPI
# and cache them, once per machine:
#
#   ${XDG_CACHE_HOME:-$HOME/.cache}/corpusforge/kenlm-<version>/bin/{lmplz,build_binary,query}
#
# Idempotent: if the cached binaries exist and run, it prints their folder and exits.
# The perplexity stage (corpusforge.perplexity.kenlm_bin_dir) looks there, or in
# $CORPUSFORGE_KENLM_BIN when that is set.
#
# Needs (Debian 12): cmake g++ make libboost-program-options-dev libboost-system-dev
#   libboost-thread-dev libboost-test-dev zlib1g-dev libbz2-dev liblzma-dev
# and pip (to fetch the sdist). About 70-90 s on 2 cores.
#
# Environment:
#   KENLM_VERSION     sdist version (default 0.3.0; its sha256 is pinned below)
#   KENLM_SHA256      expected sha256 of the sdist (required for another version)
#   KENLM_MAX_ORDER   highest n-gram order the binaries support (default 6)
#   KENLM_JOBS        parallel compile jobs (default: nproc, at most 2)
#   PYTHON            python with pip to download the sdist (default: python3)
#   CORPUSFORGE_KENLM_CACHE  cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/corpusforge)
#   --force           rebuild even if cached binaries work
set -euo pipefail

VERSION="${KENLM_VERSION:-0.3.0}"
PINNED_VERSION="0.3.0"
PINNED_SHA256="c4628bb9fb63c8a6f9240035b8b037385cfc404cb72e933cf48878291edac1e8"
MAX_ORDER="${KENLM_MAX_ORDER:-6}"
JOBS="${KENLM_JOBS:-$(($(nproc) < 2 ? $(nproc) : 2))}"
PYTHON="${PYTHON:-python3}"
CACHE_ROOT="${CORPUSFORGE_KENLM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/corpusforge}"
PREFIX="$CACHE_ROOT/kenlm-$VERSION"
BIN="$PREFIX/bin"
FORCE=0
for arg in "$@"; do
    case "$arg" in
        --force) FORCE=1 ;;
        -h | --help)
            sed -n '2,24p' "$0"
            exit 0
            ;;
        *)
            echo "build_kenlm.sh: unknown argument $arg" >&2
            exit 2
            ;;
    esac
done

log() { echo "build_kenlm.sh: $*" >&2; }

# The binaries "run" when lmplz trains a real bigram model and build_binary converts it.
binaries_work() (
    dir="$1"
    [[ -x "$dir/lmplz" && -x "$dir/build_binary" ]] || exit 1
    probe="$(mktemp -d)"
    trap 'rm -rf "$probe"' EXIT
    printf 'a b c\na b d\nb c a\n' >"$probe/text"
    "$dir/lmplz" -o 2 --discount_fallback -S 64M -T "$probe" <"$probe/text" >"$probe/lm.arpa" \
        2>"$probe/log" || exit 1
    grep -q '^\\2-grams:' "$probe/lm.arpa" || exit 1
    "$dir/build_binary" "$probe/lm.arpa" "$probe/lm.bin" >"$probe/log" 2>&1 || exit 1
    [[ -s "$probe/lm.bin" ]]
)

if [[ "$FORCE" == 0 ]] && binaries_work "$BIN"; then
    log "cached binaries work: $BIN"
    echo "$BIN"
    exit 0
fi

if [[ "$VERSION" == "$PINNED_VERSION" ]]; then
    EXPECTED_SHA256="${KENLM_SHA256:-$PINNED_SHA256}"
else
    EXPECTED_SHA256="${KENLM_SHA256:?set KENLM_SHA256 to the sha256 of the kenlm-$VERSION sdist}"
fi

missing=()
for tool in cmake make g++; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
for header in boost/program_options.hpp boost/thread.hpp zlib.h bzlib.h lzma.h; do
    [[ -e "/usr/include/$header" ]] || missing+=("/usr/include/$header")
done
if ((${#missing[@]})); then
    log "missing build tools or headers: ${missing[*]}"
    log "on Debian/Ubuntu: apt-get install -y cmake g++ make libboost-program-options-dev" \
        "libboost-system-dev libboost-thread-dev libboost-test-dev zlib1g-dev libbz2-dev liblzma-dev"
    exit 1
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/corpusforge-kenlm.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
start=$(date +%s)

# --no-binary for kenlm only: pip prepares the sdist's metadata in an isolated build
# env, and `--no-binary :all:` would compile that env's cmake from source too.
log "downloading the kenlm==$VERSION sdist from PyPI"
"$PYTHON" -m pip download --quiet --no-deps --no-binary kenlm "kenlm==$VERSION" -d "$WORK/dl" >&2
SDIST="$WORK/dl/kenlm-$VERSION.tar.gz"
[[ -f "$SDIST" ]] || {
    log "pip did not produce $SDIST"
    exit 1
}
actual="$(sha256sum "$SDIST" | cut -d' ' -f1)"
if [[ "$actual" != "$EXPECTED_SHA256" ]]; then
    log "sha256 mismatch for $SDIST: expected $EXPECTED_SHA256, got $actual"
    exit 1
fi

tar -xzf "$SDIST" -C "$WORK"
SRC="$WORK/kenlm-$VERSION"
mkdir -p "$SRC/build"
log "configuring (KENLM_MAX_ORDER=$MAX_ORDER)"
(cd "$SRC/build" && cmake .. -DCMAKE_BUILD_TYPE=Release -DKENLM_MAX_ORDER="$MAX_ORDER" \
    -DCOMPILE_TESTS=OFF -DENABLE_PYTHON=OFF >"$WORK/cmake.log" 2>&1) || {
    tail -n 30 "$WORK/cmake.log" >&2
    exit 1
}
log "compiling lmplz, build_binary and query with $JOBS job(s)"
(cd "$SRC/build" && make -j"$JOBS" lmplz build_binary query >"$WORK/make.log" 2>&1) || {
    tail -n 30 "$WORK/make.log" >&2
    exit 1
}

# Install into a fresh folder, check it, then swap it into place (never half a bin/).
mkdir -p "$CACHE_ROOT"
STAGE="$(mktemp -d "$CACHE_ROOT/.kenlm-$VERSION.XXXXXX")"
chmod 755 "$STAGE"
mkdir -p "$STAGE/bin"
cp "$SRC/build/bin/lmplz" "$SRC/build/bin/build_binary" "$SRC/build/bin/query" "$STAGE/bin/"
cp "$SRC/LICENSE" "$SRC/COPYING" "$SRC/COPYING.LESSER.3" "$STAGE/" 2>/dev/null || true
cat >"$STAGE/BUILD_INFO" <<EOF
kenlm_version=$VERSION
sdist_sha256=$actual
kenlm_max_order=$MAX_ORDER
built=$(date -u +%Y-%m-%dT%H:%M:%SZ)
compiler=$(g++ --version | head -n 1)
EOF
binaries_work "$STAGE/bin" || {
    log "the freshly built binaries do not run"
    rm -rf "$STAGE"
    exit 1
}
rm -rf "$PREFIX.old"
[[ -e "$PREFIX" ]] && mv "$PREFIX" "$PREFIX.old"
mv "$STAGE" "$PREFIX"
rm -rf "$PREFIX.old"
log "built in $(($(date +%s) - start)) s: $BIN"
echo "$BIN"
