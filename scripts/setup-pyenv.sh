#!/usr/bin/env bash
# Create (or reuse) the small python venv for the OpenAI client compatibility check
# (tests/py/openai_client.py) and print its python path on the last line of stdout
# (everything else goes to stderr).
#
#   PY="$(scripts/setup-pyenv.sh | tail -n1)"
#   "$PY" tests/py/openai_client.py --base-url http://127.0.0.1:8080/v1 --model MODEL_ID
#
# venv: ${SEXTANT_CACHE:-~/.cache/sextant}/venv-py holding the official `openai` client, pinned
# below, and its own dependencies (httpx, pydantic, ...); nothing else. Idempotent: when the
# pinned version is already installed nothing is downloaded. PYTHON=... picks the interpreter.
set -euo pipefail

CACHE="${SEXTANT_CACHE:-$HOME/.cache/sextant}"
VENV="$CACHE/venv-py"
PYTHON="${PYTHON:-python3}"
OPENAI_VERSION="3.54.0"

log() { printf '[setup-pyenv] %s\n' "$*" >&2; }
die() { printf '[setup-pyenv] error: %s\n' "$*" >&2; exit 1; }

PY="$VENV/bin/python"

# installed_ok: the venv has openai at the pinned version.
installed_ok() {
  [[ -x "$PY" ]] && "$PY" -c 'import sys; from importlib.metadata import version
sys.exit(0 if version("openai") == sys.argv[1] else 1)' "$OPENAI_VERSION" >/dev/null 2>&1
}

if installed_ok; then
  log "reusing $VENV (openai $OPENAI_VERSION)"
  echo "$PY"
  exit 0
fi

mkdir -p "$CACHE"
# a lock so that two setups do not install into the same venv at once
if command -v flock >/dev/null; then
  exec 9>"$CACHE/.venv-py.lock"
  flock 9
fi

if [[ ! -x "$PY" ]]; then
  command -v "$PYTHON" >/dev/null || die "$PYTHON not found"
  "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' || die "$PYTHON is older than 3.9"
  log "creating venv $VENV with $("$PYTHON" --version 2>&1)"
  "$PYTHON" -m venv "$VENV" || die "python -m venv failed (on Debian's system python: apt-get install python3-venv)"
fi
log "installing openai==$OPENAI_VERSION ..."
"$PY" -m pip install --disable-pip-version-check -q --only-binary :all: "openai==$OPENAI_VERSION" >&2
installed_ok || die "openai $OPENAI_VERSION still not importable in $VENV"
log "openai $OPENAI_VERSION ready"
echo "$PY"
