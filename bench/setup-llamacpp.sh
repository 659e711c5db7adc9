#!/usr/bin/env bash
# Create (or reuse) the llama.cpp peer venv for the generation benchmark (bench/llama_peer.py)
# and print its python path on the last line of stdout (everything else goes to stderr).
#
#   PY="$(bench/setup-llamacpp.sh | tail -n1)"
#   "$PY" bench/llama_peer.py --model models/qwen2.5-coder-0.5b-instruct/model.gguf --threads 2
#
# venv:  ${SEXTANT_CACHE:-~/.cache/sextant}/venv-llama
# sdist: llama-cpp-python 0.3.36 (vendors llama.cpp), cached in $SEXTANT_CACHE/dl, sha256-pinned.
# Built from source for the native CPU (GGML_NATIVE: -march=native, so AVX2/FMA/F16C where the
# CPU has them), CPU only (no CUDA/BLAS/Vulkan), no llava/mtmd, no tools/tests/examples.
# Build tools (cmake, ninja, scikit-build-core) are pip-installed into the venv with pins; a
# system cmake >= 3.21 is used when there is one. The build takes ~10+ minutes on 2 cores; its
# log goes to $VENV/llama-build.log. Idempotent: when the venv already imports llama_cpp at the
# pinned version, nothing is done. PYTHON=... picks the base interpreter (default python3).
# The binary is tied to this CPU (-march=native): remove the venv to rebuild on other hardware.
set -euo pipefail

CACHE="${SEXTANT_CACHE:-$HOME/.cache/sextant}"
VENV="$CACHE/venv-llama"
DL="$CACHE/dl"
PYTHON="${PYTHON:-python3}"

LLAMA_VERSION="0.3.36"
LLAMA_FILE="llama_cpp_python-$LLAMA_VERSION.tar.gz"
LLAMA_SHA="832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
BUILD_PINS=(scikit-build-core==0.11.6 ninja==1.13.2)
CMAKE_PIN="cmake==3.31.10"
RUNTIME_PINS=(numpy==2.3.5 typing-extensions==4.15.0 diskcache==5.6.3 jinja2==3.1.6 markupsafe==3.0.3)
# native CPU, CPU backend only, just the libraries the python bindings load
LLAMA_CMAKE_ARGS="-DGGML_NATIVE=ON -DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_BLAS=OFF -DGGML_VULKAN=OFF \
-DGGML_OPENMP=ON -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
-DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_CURL=OFF"

log() { printf '[setup-llamacpp] %s\n' "$*" >&2; }
die() { printf '[setup-llamacpp] error: %s\n' "$*" >&2; exit 1; }

PY="$VENV/bin/python"

# installed_ok: the venv imports llama_cpp at the pinned version.
installed_ok() {
  [[ -x "$PY" ]] && "$PY" -c 'import sys, llama_cpp; sys.exit(0 if llama_cpp.__version__ == sys.argv[1] else 1)' \
    "$LLAMA_VERSION" >/dev/null 2>&1
}

if installed_ok; then
  log "reusing $VENV (llama-cpp-python $LLAMA_VERSION)"
  echo "$PY"
  exit 0
fi

mkdir -p "$CACHE" "$DL"
# a lock so that two setups do not build into the same venv at once
if command -v flock >/dev/null; then
  exec 9>"$CACHE/.venv-llama.lock"
  flock 9
  if installed_ok; then echo "$PY"; exit 0; fi
fi

if [[ ! -x "$PY" ]]; then
  command -v "$PYTHON" >/dev/null || die "$PYTHON not found"
  "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' || die "$PYTHON is older than 3.9"
  log "creating venv $VENV with $("$PYTHON" --version 2>&1)"
  "$PYTHON" -m venv "$VENV" || die "python -m venv failed (on Debian's system python: apt-get install python3-venv)"
fi
PIP=("$PY" -m pip install --disable-pip-version-check -q)

# build tools: cmake from the system when new enough (>= 3.21), else from PyPI into the venv
tools=("${BUILD_PINS[@]}")
if ! cmake_ver="$(cmake --version 2>/dev/null | head -n1 | awk '{print $3}')" ||
  ! printf '%s\n3.21\n' "$cmake_ver" | sort -V -C -r; then
  log "no system cmake >= 3.21 (found: ${cmake_ver:-none}); installing $CMAKE_PIN into the venv"
  tools+=("$CMAKE_PIN")
else
  log "using system cmake $cmake_ver"
fi
log "installing build tools and runtime deps: ${tools[*]} ${RUNTIME_PINS[*]}"
"${PIP[@]}" --only-binary :all: "${tools[@]}" "${RUNTIME_PINS[@]}" >&2
export PATH="$VENV/bin:$PATH"

# the sdist, sha256-verified (a mismatching file is deleted, never built)
src="$DL/$LLAMA_FILE"
if [[ ! -f "$src" || "$(sha256sum "$src" | cut -d' ' -f1)" != "$LLAMA_SHA" ]]; then
  rm -f -- "$src"
  tmp="$(mktemp -d "$DL/.part.XXXXXX")"
  trap 'rm -rf -- "$tmp"' EXIT
  log "downloading llama-cpp-python==$LLAMA_VERSION (sdist) ..."
  "$PY" -m pip download --disable-pip-version-check -q --no-deps --no-build-isolation \
    --no-binary llama-cpp-python -d "$tmp" "llama-cpp-python==$LLAMA_VERSION" >&2
  [[ -f "$tmp/$LLAMA_FILE" ]] || die "pip download did not produce $LLAMA_FILE (got: $(ls -A "$tmp" | tr '\n' ' '))"
  got="$(sha256sum "$tmp/$LLAMA_FILE" | cut -d' ' -f1)"
  [[ "$got" == "$LLAMA_SHA" ]] || die "refusing $LLAMA_FILE: sha256 $got, want $LLAMA_SHA"
  mv -f -- "$tmp/$LLAMA_FILE" "$src"
fi
log "sdist ok: $src (sha256 $LLAMA_SHA)"

blog="$VENV/llama-build.log"
log "building llama-cpp-python $LLAMA_VERSION from source ($(nproc) jobs); log: $blog"
start=$SECONDS
if ! CMAKE_ARGS="$LLAMA_CMAKE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" FORCE_CMAKE=1 \
  "$PY" -m pip install --disable-pip-version-check -v --no-deps --no-build-isolation --no-cache-dir \
  --force-reinstall "$src" >"$blog" 2>&1; then
  tail -n 40 "$blog" >&2
  die "build failed; full log in $blog"
fi
log "built in $(((SECONDS - start) / 60))m$(((SECONDS - start) % 60))s"

installed_ok || die "llama_cpp does not import at version $LLAMA_VERSION after the build (see $blog)"
"$PY" -c 'import llama_cpp; print("[setup-llamacpp] llama_cpp", llama_cpp.__version__, "|", llama_cpp.llama_print_system_info().decode().strip())' >&2
echo "$PY"
