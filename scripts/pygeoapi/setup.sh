#!/usr/bin/env bash
# Create (or reuse) the python venv holding pygeoapi, the reference OGC API - Features server that
# scripts/pygeoapi/start.sh runs as a "connected system", and print its python path on the last
# line of stdout (everything else goes to stderr).
#
#   PY="$(scripts/pygeoapi/setup.sh | tail -n1)"
#
# venv: ${SEXTANT_CACHE:-~/.cache/sextant}/venv-pygeoapi holding pygeoapi, pinned below, and its own
# dependencies (Flask/Werkzeug for the dev server, tinydb, shapely, pyproj, ...); nothing else, all
# from binary wheels (a fresh install downloads ~100 MB and takes ~25 s). Idempotent: when the
# pinned version is already installed nothing is downloaded (so start.sh works offline).
# PYTHON=... picks the interpreter (3.10 or newer).
set -euo pipefail

CACHE="${SEXTANT_CACHE:-$HOME/.cache/sextant}"
VENV="$CACHE/venv-pygeoapi"
PYTHON="${PYTHON:-python3}"
PYGEOAPI_VERSION="0.21.0"

log() { printf '[pygeoapi-setup] %s\n' "$*" >&2; }
die() { printf '[pygeoapi-setup] error: %s\n' "$*" >&2; exit 1; }

PY="$VENV/bin/python"

# installed_ok: the venv has pygeoapi at the pinned version, and the modules the server needs import.
installed_ok() {
  [[ -x "$PY" && -x "$VENV/bin/pygeoapi" ]] && "$PY" -c 'import sys, flask, tinydb, shapely
from importlib.metadata import version
sys.exit(0 if version("pygeoapi") == sys.argv[1] else 1)' "$PYGEOAPI_VERSION" >/dev/null 2>&1
}

if installed_ok; then
  log "reusing $VENV (pygeoapi $PYGEOAPI_VERSION)"
  echo "$PY"
  exit 0
fi

mkdir -p "$CACHE"
# a lock so that two setups do not install into the same venv at once
if command -v flock >/dev/null; then
  exec 9>"$CACHE/.venv-pygeoapi.lock"
  flock 9
  # another setup may have finished while we waited
  if installed_ok; then log "reusing $VENV (pygeoapi $PYGEOAPI_VERSION)"; echo "$PY"; exit 0; fi
fi

if [[ ! -x "$PY" ]]; then
  command -v "$PYTHON" >/dev/null || die "$PYTHON not found"
  "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' || die "$PYTHON is older than 3.10"
  log "creating venv $VENV with $("$PYTHON" --version 2>&1)"
  "$PYTHON" -m venv "$VENV" || die "python -m venv failed (on Debian's system python: apt-get install python3-venv)"
fi
log "installing pygeoapi==$PYGEOAPI_VERSION ..."
"$PY" -m pip install --disable-pip-version-check -q --only-binary :all: "pygeoapi==$PYGEOAPI_VERSION" >&2
installed_ok || die "pygeoapi $PYGEOAPI_VERSION still not importable in $VENV"
log "pygeoapi $PYGEOAPI_VERSION ready"
echo "$PY"
