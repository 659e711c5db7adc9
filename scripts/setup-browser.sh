#!/usr/bin/env bash
# Prepare the web app and its headless-browser end-to-end tests. Idempotent.
#
#   scripts/setup-browser.sh
#
# 1. Debian's chromium at /usr/bin/chromium (apt-get; needs root) unless it is already there.
#    Playwright's own browser download is never used: tests/browser drives this chromium.
# 2. npm ci --prefix deploy/web     -> the web app's build tools (Vite, TypeScript, Preact, Leaflet)
# 3. npm run build --prefix deploy/web -> deploy/web/dist (served by `sextant serve` at /); skipped
#    while dist is newer than every file in deploy/web/src, index.html, vite.config.ts and
#    package-lock.json
# 4. npm ci --prefix tests/browser  -> tests/browser/node_modules/{playwright-core,axe-core}
# Each npm ci is skipped when node_modules already matches the committed package-lock.json.
# Needs: bash, node + npm; apt-get and root only when chromium is missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

say() { printf 'setup-browser: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

if [[ -x "$CHROMIUM" ]]; then
    say "chromium present: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
else
    [[ "$(id -u)" -eq 0 ]] || die "$CHROMIUM is missing and installing it needs root: run 'sudo apt-get install -y chromium' (or run this script as root)"
    command -v apt-get >/dev/null || die "$CHROMIUM is missing and apt-get is not available: install Chromium and set CHROMIUM=/path/to/chromium"
    say "installing Debian chromium (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
    [[ -x "$CHROMIUM" ]] || die "apt-get installed chromium but $CHROMIUM is still missing"
    say "installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
fi

command -v npm >/dev/null || die "npm is not installed (Debian: apt-get install -y npm)"

# npm ci deletes and reinstalls node_modules every time; skip it while the installed tree
# (node_modules/.package-lock.json, written by npm) still matches the committed lockfile.
install_npm() {
    local dir="$ROOT/$1"
    [[ -f "$dir/package-lock.json" ]] || die "$1/package-lock.json is missing"
    if [[ -f "$dir/node_modules/.package-lock.json" ]] &&
        node -e '
            const fs = require("fs");
            const want = JSON.parse(fs.readFileSync(process.argv[1])).packages;
            const have = JSON.parse(fs.readFileSync(process.argv[2])).packages;
            for (const [p, v] of Object.entries(want)) {
                if (p === "") continue;
                // Optional packages for other platforms (native bindings) are never installed.
                if (!have[p] && v.optional) continue;
                if (!have[p] || have[p].version !== v.version || have[p].integrity !== v.integrity) process.exit(1);
            }
        ' "$dir/package-lock.json" "$dir/node_modules/.package-lock.json" 2>/dev/null; then
        say "$1: node_modules up to date"
        return
    fi
    say "$1: npm ci"
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
}

install_npm deploy/web
install_npm tests/browser

# The web app's bundle: rebuilt when any of its sources is newer than dist/index.html.
web="$ROOT/deploy/web"
if [[ -f "$web/dist/index.html" ]] &&
    [[ -z "$(find "$web/src" "$web/index.html" "$web/vite.config.ts" "$web/tsconfig.json" "$web/package.json" "$web/package-lock.json" \
              -newer "$web/dist/index.html" -print -quit 2>/dev/null)" ]]; then
    say "deploy/web: dist up to date"
else
    say "deploy/web: npm run build"
    npm run build --prefix "$web" --silent
fi

[[ -f "$ROOT/tests/browser/node_modules/playwright-core/package.json" ]] || die "tests/browser/node_modules/playwright-core is missing after npm ci"
[[ -f "$ROOT/tests/browser/node_modules/axe-core/axe.min.js" ]] || die "tests/browser/node_modules/axe-core is missing after npm ci"
[[ -f "$web/dist/index.html" ]] || die "deploy/web/dist/index.html is missing after the build"
say "ready: serve with 'sextant serve' and open / (the web app); e2e: cargo test --test web"
