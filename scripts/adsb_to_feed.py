#!/usr/bin/env python3
"""Render the ADS-B samples of the `traffic` package (PyPI traffic==2.13) as Sextant feeds.

    adsb_to_feed.py SAMPLES_DIR OUT_DIR [--interval S] [--max-features N] [--cot-per-aircraft K]

SAMPLES_DIR is `traffic/data/samples` from the wheel. Sources: `collections/quickstart`
(civil traffic over northern France, 2021-10-07, 236 flights over 3 h), `military/
aircraft_carrier` (PSWRD35, US Navy, off San Diego) and `military/inflight_refuelling`
(FAF4011, French Air Force). Each is a gzip'd pandas JSON list of state vectors:
{timestamp (ms), icao24, callsign, latitude, longitude, altitude (ft), groundspeed (kt),
track (deg), vertical_rate (ft/min), squawk, ...}.

Writes into OUT_DIR:
  adsb.geojson  a FeatureCollection of aircraft positions. Each flight (icao24 + callsign) is
                downsampled to its first position, then one every --interval seconds (default
                120), then its last; the whole is sorted by time, so a reader sees each uid again
                and again in time order (a track). properties: uid (= icao24), callsign,
                timestamp (RFC 3339), altitude (ft), groundspeed (kt), track (deg), vertical_rate
                (ft/min), squawk, onground, category (civil | military), source. The interval
                doubles until there are at most --max-features (default 4000) features.
  adsb.cot      Cursor-on-Target events (one per line after one XML prolog) for the two military
                aircraft and the three civil flights with the most positions: --cot-per-aircraft
                (default 8) positions each, evenly spread in time. Types a-n-A-C-F (civil) and
                a-f-A-M-F (military), uid = icao24, callsign in detail/contact, hae in metres.

Deterministic: the same samples give the same bytes. Python standard library only.
"""

import argparse
import gzip
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

SOURCES = [
    # (file under SAMPLES_DIR, category)
    ("collections/quickstart.json.gz", "civil"),
    ("military/aircraft_carrier.json.gz", "military"),
    ("military/inflight_refuelling.json.gz", "military"),
]
COT_TYPE = {"civil": "a-n-A-C-F", "military": "a-f-A-M-F"}
FT_TO_M = 0.3048
KT_TO_MS = 0.514444


def rfc3339(ms, millis=False):
    t = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    if millis:
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def num(v):
    """A finite number or None (pandas writes NaN as null, but be safe)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    if v != v or v in (float("inf"), float("-inf")):
        return None
    return v


def load_flights(samples):
    """{(icao24, callsign): {"category", "source", "rows": [row sorted by time]}}"""
    flights = {}
    for rel, category in SOURCES:
        path = samples / rel
        if not path.exists():
            sys.exit(f"adsb: missing sample {path}")
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            rows = json.load(fh)
        source = f"traffic 2.13 sample {Path(rel).name.removesuffix('.json.gz')}"
        kept = 0
        for r in rows:
            lat, lon, ts = num(r.get("latitude")), num(r.get("longitude")), num(r.get("timestamp"))
            icao = (r.get("icao24") or "").strip().lower()
            if lat is None or lon is None or ts is None or not icao:
                continue
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                continue
            callsign = (r.get("callsign") or "").strip()
            f = flights.setdefault((icao, callsign), {"category": category, "source": source, "rows": []})
            f["rows"].append(r)
            kept += 1
        print(f"adsb: {rel}: {len(rows)} state vectors, {kept} with a position", file=sys.stderr)
    for f in flights.values():
        f["rows"].sort(key=lambda r: r["timestamp"])
    return flights


def downsample(rows, interval_ms):
    out, last = [], None
    for r in rows:
        if last is None or r["timestamp"] - last >= interval_ms:
            out.append(r)
            last = r["timestamp"]
    # the flight's last position, unless it is (nearly) the one just kept
    if rows and rows[-1] is not out[-1] and rows[-1]["timestamp"] - out[-1]["timestamp"] >= 30_000:
        out.append(rows[-1])
    return out


def properties(icao, callsign, f, r):
    p = {"uid": icao}
    if callsign:
        p["callsign"] = callsign
    p["timestamp"] = rfc3339(r["timestamp"])
    for key, digits in (("altitude", 0), ("groundspeed", 0), ("track", 1), ("vertical_rate", 0)):
        v = num(r.get(key))
        if v is not None:
            p[key] = int(round(v)) if digits == 0 else round(v, digits)
    squawk = r.get("squawk")
    if squawk not in (None, ""):
        p["squawk"] = str(squawk)
    if isinstance(r.get("onground"), bool):
        p["onground"] = r["onground"]
    p["category"] = f["category"]
    p["source"] = f["source"]
    return p


def write_geojson(flights, out, interval_s, max_features):
    interval = interval_s
    while True:
        picked = []
        for (icao, callsign), f in flights.items():
            for r in downsample(f["rows"], interval * 1000):
                picked.append((r["timestamp"], icao, callsign, f, r))
        if len(picked) <= max_features:
            break
        interval *= 2
    picked.sort(key=lambda x: (x[0], x[1], x[2]))
    features = []
    for _, icao, callsign, f, r in picked:
        features.append({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [round(r["longitude"], 5), round(r["latitude"], 5)]},
            "properties": properties(icao, callsign, f, r),
        })
    tmp = out / ".adsb.geojson.part"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write('{"type": "FeatureCollection", "name": "ADS-B samples (traffic 2.13)", "features": [\n')
        fh.write(",\n".join(json.dumps(ft, separators=(",", ":")) for ft in features))
        fh.write("\n]}\n")
    tmp.replace(out / "adsb.geojson")
    uids = {ft["properties"]["uid"] for ft in features}
    print(
        f"adsb: adsb.geojson: {len(features)} positions of {len(uids)} aircraft "
        f"({len(flights)} flights, one every {interval} s)",
        file=sys.stderr,
    )
    return len(features)


def xml_attr(s):
    return (
        str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def cot_event(icao, callsign, f, r):
    t = rfc3339(r["timestamp"], millis=True)
    stale = rfc3339(r["timestamp"] + 5 * 60_000, millis=True)
    alt = num(r.get("altitude"))
    hae = f"{alt * FT_TO_M:.1f}" if alt is not None else "9999999.0"
    detail = [f'<contact callsign="{xml_attr(callsign or icao)}"/>']
    track, gs = num(r.get("track")), num(r.get("groundspeed"))
    if track is not None and gs is not None:
        detail.append(f'<track course="{track:.1f}" speed="{gs * KT_TO_MS:.1f}"/>')
    detail.append(f'<_aircot_ icao="{xml_attr(icao)}" flight="{xml_attr(callsign)}" cot_host_id="sextant-adsb-sample"/>')
    words = [f"ADS-B {f['category']} aircraft {callsign or icao} (icao24 {icao})"]
    if alt is not None:
        words.append(f"altitude {int(round(alt))} ft")
    if gs is not None:
        words.append(f"groundspeed {int(round(gs))} kt")
    squawk = r.get("squawk")
    if squawk not in (None, ""):
        words.append(f"squawk {squawk}")
    words.append(f"source: {f['source']}")
    detail.append(f"<remarks>{xml_attr(', '.join(words))}</remarks>")
    return (
        f'<event version="2.0" uid="{xml_attr(icao)}" type="{COT_TYPE[f["category"]]}" '
        f'time="{t}" start="{t}" stale="{stale}" how="m-g">'
        f'<point lat="{r["latitude"]:.5f}" lon="{r["longitude"]:.5f}" hae="{hae}" ce="9999999.0" le="9999999.0"/>'
        f"<detail>{''.join(detail)}</detail></event>"
    )


def write_cot(flights, out, per_aircraft):
    military = [k for k, f in flights.items() if f["category"] == "military"]
    civil = sorted(
        (k for k, f in flights.items() if f["category"] == "civil"),
        key=lambda k: (-len(flights[k]["rows"]), k),
    )[:3]
    events = []
    for key in sorted(military) + civil:
        rows = flights[key]["rows"]
        n = min(per_aircraft, len(rows))
        idx = sorted({round(i * (len(rows) - 1) / max(n - 1, 1)) for i in range(n)})
        for i in idx:
            events.append((rows[i]["timestamp"], key, rows[i]))
    events.sort(key=lambda e: (e[0], e[1]))
    tmp = out / ".adsb.cot.part"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n')
        for _, (icao, callsign), r in events:
            fh.write(cot_event(icao, callsign, flights[(icao, callsign)], r) + "\n")
    tmp.replace(out / "adsb.cot")
    print(
        f"adsb: adsb.cot: {len(events)} events of {len(military) + len(civil)} aircraft "
        f"({len(military)} military)",
        file=sys.stderr,
    )
    return len(events)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("samples", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--interval", type=int, default=120, help="seconds between kept positions")
    ap.add_argument("--max-features", type=int, default=4000)
    ap.add_argument("--cot-per-aircraft", type=int, default=8)
    a = ap.parse_args()
    if a.interval <= 0 or a.max_features <= 0 or a.cot_per_aircraft <= 0:
        sys.exit("adsb: --interval, --max-features and --cot-per-aircraft must be positive")
    a.out.mkdir(parents=True, exist_ok=True)
    flights = load_flights(a.samples)
    if not flights:
        sys.exit("adsb: no positions in the samples")
    write_geojson(flights, a.out, a.interval, a.max_features)
    write_cot(flights, a.out, a.cot_per_aircraft)


if __name__ == "__main__":
    main()
