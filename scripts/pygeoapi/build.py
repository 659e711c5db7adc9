"""Build the pygeoapi config and data that scripts/pygeoapi/start.sh serves (run by start.sh with the
venv python, which has PyYAML).

  build.py PORT DATADIR DATA   (DATA: $SEXTANT_CACHE/data, as filled by `scripts/fetch-data.sh geo adsb`)

Writes into DATADIR:
  config.yml      pygeoapi config: server on http://127.0.0.1:PORT, three collections
  aircraft.json   TinyDB, read-only: the ADS-B positions of DATA/adsb/adsb.geojson that have an
                  altitude (2327 of its 2825 points, 215 aircraft)
  cities.json     TinyDB, read-only: GeoNames cities15000 (DATA/geo/cities15000.csv) as points
  reports.json    TinyDB, editable (POST/PUT/DELETE): a few seed observation reports, reset on every build
Every feature has a string "id"; properties missing from a source record are written as null so that
each collection has the same keys everywhere (pygeoapi derives a collection's fields, query
parameters and queryables from its first record, so that record is a complete one). Known pygeoapi
TinyDB limits: sortby on a property that is null somewhere (aircraft groundspeed, track, vertical_rate,
squawk, onground) answers 500, and equality filters on numbers (altitude=2050) match nothing, as
query values are compared as strings.
"""
import csv
import datetime
import json
import os
import sys

import yaml

port, datadir, data = int(sys.argv[1]), sys.argv[2], sys.argv[3]


def write_tinydb(name, features):
    """TinyDB's JSON layout {"_default": {"1": doc, ...}}, written atomically."""
    path = os.path.join(datadir, name)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump({"_default": {str(i + 1): ft for i, ft in enumerate(features)}}, f)
    os.replace(path + ".tmp", path)
    return path


def bbox(features):
    xs = [ft["geometry"]["coordinates"][0] for ft in features]
    ys = [ft["geometry"]["coordinates"][1] for ft in features]
    return [min(xs), min(ys), max(xs), max(ys)]


def point(lon, lat):
    return {"type": "Point", "coordinates": [lon, lat]}


# aircraft: positions, icao24 (the feed's "uid") + time of the fix make the id
AIRCRAFT_KEYS = ["icao24", "callsign", "timestamp", "altitude", "groundspeed", "track",
                 "vertical_rate", "squawk", "onground", "category", "source"]
with open(os.path.join(data, "adsb", "adsb.geojson"), encoding="utf-8") as f:
    src = json.load(f)["features"]
aircraft = []
for ft in src:
    p = dict(ft["properties"], icao24=ft["properties"].get("uid"))
    props = {k: p.get(k) for k in AIRCRAFT_KEYS}
    if any(props[k] is None for k in AIRCRAFT_KEYS[:4] + ["category"]):
        continue  # positions without an altitude: a null would break sortby=altitude (pygeoapi sorts raw values)
    fid = f"{props['icao24']}-{props['timestamp'].replace('-', '').replace(':', '')}"
    aircraft.append({"type": "Feature", "id": fid, "geometry": ft["geometry"], "properties": props})
aircraft.sort(key=lambda ft: any(v is None for v in ft["properties"].values()))  # stable: complete first
times = sorted(ft["properties"]["timestamp"] for ft in aircraft)

# cities: GeoNames cities15000 (population >= 15000)
cities = []
with open(os.path.join(data, "geo", "cities15000.csv"), encoding="utf-8", newline="") as f:
    for r in csv.DictReader(f):
        cities.append({"type": "Feature", "id": r["geonameid"],
                       "geometry": point(float(r["longitude"]), float(r["latitude"])),
                       "properties": {"name": r["name"], "countrycode": r["countrycode"],
                                      "population": int(r["population"]),
                                      "timezone": r["timezone"], "admin1code": r["admin1code"]}})
cities.sort(key=lambda ft: -ft["properties"]["population"])  # biggest first, as a list usually is

# reports: a writable collection, seeded
SEED = [  # id, lon, lat, category, severity, observed_at, title
    ("report-1", 2.3522, 48.8566, "sighting", 2, "2024-05-01T09:30:00Z", "Low-flying helicopter over central Paris"),
    ("report-2", 2.5479, 49.0097, "incident", 3, "2024-05-02T14:05:00Z", "Runway incursion reported at CDG"),
    ("report-3", 4.8357, 45.7640, "sighting", 1, "2024-05-03T18:45:00Z", "Drone seen near Lyon Part-Dieu"),
    ("report-4", 5.3698, 43.2965, "weather", 2, "2024-05-04T06:15:00Z", "Strong mistral gusts at Marseille"),
    ("report-5", 1.4442, 43.6047, "incident", 1, "2024-05-05T11:00:00Z", "Bird strike on approach to Toulouse"),
]
reports = [{"type": "Feature", "id": i, "geometry": point(lon, lat),
            "properties": {"title": t, "category": c, "severity": s, "observed_at": at, "status": "open"}}
           for i, lon, lat, c, s, at, t in SEED]


def collection(title, description, keywords, name, features, editable, time_field=None, times=None):
    extents = {"spatial": {"bbox": bbox(features), "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}}
    if times:  # datetime objects: pygeoapi wants YAML timestamps here, not strings
        iso = lambda t: datetime.datetime.fromisoformat(t.replace("Z", "+00:00"))
        extents["temporal"] = {"begin": iso(times[0]), "end": iso(times[-1])}
    provider = {"type": "feature", "name": "TinyDB", "editable": editable, "data": write_tinydb(name, features), "id_field": "id"}
    if time_field:
        provider["time_field"] = time_field
    return {"type": "collection", "title": title, "description": description, "keywords": keywords,
            "links": [], "extents": extents, "providers": [provider]}


config = {
    "server": {
        "bind": {"host": "127.0.0.1", "port": port},
        "url": f"http://127.0.0.1:{port}",
        "mimetype": "application/json; charset=UTF-8",
        "encoding": "utf-8",
        "languages": ["en-US"],
        "pretty_print": False,
        "admin": False,
        "limits": {"default_items": 10, "max_items": 5000},
        "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                "attribution": "&copy; OpenStreetMap contributors"},
    },
    "logging": {"level": "ERROR"},
    "metadata": {
        "identification": {"title": "Sextant test OGC API - Features server",
                           "description": "pygeoapi serving ADS-B aircraft positions, GeoNames cities and "
                                          "editable observation reports",
                           "keywords": ["aircraft", "cities", "reports"], "keywords_type": "theme",
                           "terms_of_service": "https://creativecommons.org/licenses/by/4.0/",
                           "url": "https://pygeoapi.io"},
        "license": {"name": "CC-BY 4.0 license", "url": "https://creativecommons.org/licenses/by/4.0/"},
        "provider": {"name": "Sextant tests", "url": "https://pygeoapi.io"},
        "contact": {"name": "Sextant tests", "email": "nobody@example.org", "role": "pointOfContact"},
    },
    "resources": {
        "aircraft": collection(
            "Aircraft positions", "ADS-B aircraft positions (icao24, callsign, timestamp, altitude in ft, "
            "groundspeed in kt, track in degrees, ...) from the traffic 2.13 samples, mostly around Paris",
            ["aircraft", "ADS-B", "positions"], "aircraft.json", aircraft, False,
            "timestamp", times),
        "cities": collection(
            "Cities", "GeoNames cities with a population of 15000 or more (name, countrycode, population, "
            "timezone, admin1code)", ["cities", "places", "GeoNames"],
            "cities.json", cities, False),
        "reports": collection(
            "Observation reports", "Field observation reports (title, category, severity 1-3, observed_at, "
            "status); items can be created, replaced and deleted",
            ["reports", "observations"], "reports.json", reports, True, "observed_at"),
    },
}
with open(os.path.join(datadir, "config.yml"), "w", encoding="utf-8") as f:
    yaml.safe_dump(config, f, sort_keys=False, allow_unicode=True)
print(f"[pygeoapi-build] {len(aircraft)} aircraft positions, {len(cities)} cities, {len(reports)} reports",
      file=sys.stderr)
