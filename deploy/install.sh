#!/bin/sh
# Installs an unpacked Sextant bundle (`sextant bundle -o FILE.tar.zst`) into PREFIX.
#
#   ./install.sh [PREFIX]        default PREFIX: /opt/sextant
#
# Needs no network and no root: any prefix you can write to works. It checks the bundle first:
# every file must match SHA256SUMS and every file must be listed there, else nothing is
# installed. Then it copies bin/, web/, models/ and config/ into PREFIX, writes
# PREFIX/bin/sextant-run (the binary with SEXTANT_MODELS, SEXTANT_WEB_DIR and SEXTANT_CONFIG
# pointing into PREFIX) and PREFIX/deploy/sextant.service (the systemd unit, paths adjusted to
# PREFIX). Settings you already have in PREFIX/config are kept; the bundle's copy of a changed
# file is written beside it as FILE.new.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
prefix=${1:-/opt/sextant}

say() { printf '%s\n' "$*"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

cd "$here"
[ -f SHA256SUMS ] || die "no SHA256SUMS beside install.sh: is this an unpacked Sextant bundle?"

# 1. Integrity: every listed file matches, and nothing unlisted rides along.
if command -v sha256sum >/dev/null 2>&1; then
    sha256sum -c --quiet --strict SHA256SUMS || die "checksum mismatch: the bundle is damaged or was altered; refusing to install"
elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 -c --quiet SHA256SUMS || die "checksum mismatch: the bundle is damaged or was altered; refusing to install"
else
    die "neither sha256sum nor shasum found: cannot verify the bundle"
fi
listed=$(sed 's/^[0-9a-f]\{64\} [ *]//' SHA256SUMS | LC_ALL=C sort)
present=$(find . -type f ! -path ./SHA256SUMS | sed 's|^\./||' | LC_ALL=C sort)
if [ "$listed" != "$present" ]; then
    say "files in the bundle but not in SHA256SUMS (or listed but missing):" >&2
    printf '%s\n' "$listed" > "${TMPDIR:-/tmp}/sextant-listed.$$"
    printf '%s\n' "$present" | diff "${TMPDIR:-/tmp}/sextant-listed.$$" - >&2 || true
    rm -f "${TMPDIR:-/tmp}/sextant-listed.$$"
    die "the bundle's contents do not match SHA256SUMS; refusing to install"
fi
say "bundle verified: $(wc -l < SHA256SUMS | tr -d ' ') files match SHA256SUMS"

# 2. Copy. PREFIX becomes absolute so the wrapper and the unit work from any directory.
mkdir -p "$prefix" || die "cannot create $prefix (choose a prefix you can write to: ./install.sh \$HOME/sextant)"
prefix=$(cd "$prefix" && pwd)
[ -w "$prefix" ] || die "$prefix is not writable (choose a prefix you can write to: ./install.sh \$HOME/sextant)"

# The binary and the web app are replaced whole (an upgrade leaves no stale asset behind); the
# new copy is staged next to the old one and moved into place.
mkdir -p "$prefix/bin"
cp bin/sextant "$prefix/bin/.sextant.new"
chmod 755 "$prefix/bin/.sextant.new"
mv -f "$prefix/bin/.sextant.new" "$prefix/bin/sextant"

rm -rf "$prefix/.web.new"
cp -R web "$prefix/.web.new"
rm -rf "$prefix/web"
mv "$prefix/.web.new" "$prefix/web"

# Models are added or overwritten, never removed: other models already installed stay.
mkdir -p "$prefix/models"
cp -R models/. "$prefix/models/"

# Settings: keep what the operator has; offer the bundle's copy beside a changed file.
(cd config && find . -type f) | while IFS= read -r f; do
    f=${f#./}
    dst="$prefix/config/$f"
    mkdir -p "$(dirname "$dst")"
    if [ ! -e "$dst" ]; then
        cp "config/$f" "$dst"
    elif ! cmp -s "config/$f" "$dst"; then
        cp "config/$f" "$dst.new"
        say "kept your $dst; the bundle's version is $dst.new"
    fi
done

# 3. The wrapper: the installed binary with its models, web app and settings.
q=$(printf '%s' "$prefix" | sed "s/'/'\\\\''/g")
cat > "$prefix/bin/.sextant-run.new" <<EOF
#!/bin/sh
# Runs the Sextant installed in this prefix with its own models, web app and settings.
# Written by install.sh; each variable may still be overridden from the environment.
prefix='$q'
export SEXTANT_MODELS="\${SEXTANT_MODELS:-\$prefix/models}"
export SEXTANT_WEB_DIR="\${SEXTANT_WEB_DIR:-\$prefix/web}"
export SEXTANT_CONFIG="\${SEXTANT_CONFIG:-\$prefix/config/sextant.toml}"
exec "\$prefix/bin/sextant" "\$@"
EOF
chmod 755 "$prefix/bin/.sextant-run.new"
mv -f "$prefix/bin/.sextant-run.new" "$prefix/bin/sextant-run"

# 4. The systemd unit, its paths pointed at PREFIX.
mkdir -p "$prefix/deploy"
esc=$(printf '%s' "$prefix" | sed 's/[\\|&]/\\&/g')
sed "s|/opt/sextant|$esc|g" deploy/sextant.service > "$prefix/deploy/sextant.service"
cp README.txt SHA256SUMS sbom.cdx.json "$prefix/"

say "installed Sextant into $prefix"
say ""
say "Start it (DIR is where its data lives; the users file is DIR/users.toml):"
say "  $prefix/bin/sextant-run --data-dir DIR users add NAME --clearance SECRET --roles reader"
say "  $prefix/bin/sextant-run --data-dir DIR serve"
say "or, without the wrapper:"
say "  SEXTANT_MODELS=$prefix/models SEXTANT_WEB_DIR=$prefix/web SEXTANT_CONFIG=$prefix/config/sextant.toml \\"
say "    $prefix/bin/sextant --data-dir DIR serve"
say "As a service (root): useradd --system --home-dir /var/lib/sextant sextant;"
say "  cp $prefix/deploy/sextant.service /etc/systemd/system/ && systemctl daemon-reload && systemctl enable --now sextant"
