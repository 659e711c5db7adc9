#!/usr/bin/env bash
# Create (or reuse) the sentence-transformers peer venv for the embedding benchmark and the
# MiniLM reference vectors, and print its python path on stdout (everything else goes to stderr).
#
#   PY="$(bench/setup-peer.sh)"
#   "$PY" bench/st_peer.py --model-dir "$SEXTANT_CACHE/models/all-MiniLM-L6-v2" --texts texts.jsonl
#
# venv: ${SEXTANT_CACHE:-~/.cache/sextant}/venv-st; pins: models/reference/requirements.txt
# (sentence-transformers 5.1.0, torch 2.15.0, ...). torch from PyPI brings CUDA libraries:
# ~5-6 GB on disk and a few minutes to install the first time. Idempotent: when every pin is
# already installed nothing is downloaded. PYTHON=... picks the interpreter (default python3).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/.." && pwd)"
CACHE="${SEXTANT_CACHE:-$HOME/.cache/sextant}"
VENV="$CACHE/venv-st"
REQ="$REPO/models/reference/requirements.txt"
PYTHON="${PYTHON:-python3}"

log() { printf '[setup-peer] %s\n' "$*" >&2; }
die() { printf '[setup-peer] error: %s\n' "$*" >&2; exit 1; }

[[ -f "$REQ" ]] || die "missing $REQ"

# pins_ok PY: every 'name==version' line of $REQ is installed in PY's environment.
pins_ok() {
  "$1" - "$REQ" <<'PY' >&2
import re, sys
from importlib import metadata
bad = []
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.split("#", 1)[0].strip()
    m = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)==([^\s;]+)", line)
    if not m:
        continue
    name, want = m.group(1).split("[")[0], m.group(2)
    try:
        have = metadata.version(name)
    except metadata.PackageNotFoundError:
        have = None
    # torch reports local versions such as 2.15.0+cu132
    if have is None or have.split("+")[0] != want:
        bad.append(f"{name}: have {have}, want {want}")
if bad:
    print("not satisfied: " + "; ".join(bad))
    sys.exit(1)
PY
}

mkdir -p "$CACHE"
PY="$VENV/bin/python"

if [[ -x "$PY" ]] && pins_ok "$PY" 2>/dev/null; then
  log "reusing $VENV"
else
  if [[ ! -x "$PY" ]]; then
    command -v "$PYTHON" >/dev/null || die "$PYTHON not found"
    "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' ||
      die "$PYTHON is older than 3.9"
    log "creating venv $VENV with $("$PYTHON" --version 2>&1)"
    "$PYTHON" -m venv "$VENV" ||
      die "python -m venv failed (on Debian's system python: apt-get install python3-venv)"
  fi
  # a lock so that two setups do not install into the same venv at once
  if command -v flock >/dev/null; then
    exec 9>"$CACHE/.venv-st.lock"
    flock 9
  fi
  log "installing pins from $REQ (large: torch) ..."
  "$PY" -m pip install --disable-pip-version-check -q -r "$REQ" >&2
  pins_ok "$PY" || die "pins still not satisfied after install"
fi

"$PY" -c 'import sentence_transformers, torch; print("[setup-peer] sentence-transformers", sentence_transformers.__version__, "torch", torch.__version__)' >&2
echo "$PY"
