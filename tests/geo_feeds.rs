//! Feeds and geofiltered retrieval through the real binary: GeoNames cities ingested as a CSV
//! feed and filtered by Natural Earth country polygons (issue 5's acceptance), records updated
//! in place by uid with their track history (file, HTTP push, Cursor-on-Target stream), and
//! the access rule inside area searches.

mod common;

use geo::Intersects;
use sextant_geodata::gazetteer::GeoData;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

/// The geonameid a city record shows (`geonameid: N` in its text).
fn geonameid(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("geonameid: "))
        .and_then(|v| v.trim().parse().ok())
}

/// `geonameid -> (lon, lat)` of every city in cities15000.csv, read independently of Sextant.
fn cities(csv_path: &std::path::Path) -> BTreeMap<u64, (f64, f64)> {
    let mut r = csv::Reader::from_path(csv_path).unwrap();
    let h = r.headers().unwrap().clone();
    let col = |n: &str| {
        h.iter()
            .position(|c| c == n)
            .unwrap_or_else(|| panic!("column {n}"))
    };
    let (id, lat, lon) = (col("geonameid"), col("latitude"), col("longitude"));
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (
                rec[id].parse().unwrap(),
                (rec[lon].parse().unwrap(), rec[lat].parse().unwrap()),
            )
        })
        .collect()
}

#[test]
fn cities_by_country_are_exactly_those_inside_its_natural_earth_polygon() {
    let geo_dir = common::geo_dir();
    let csv_path = geo_dir.join("cities15000.csv");
    let all = cities(&csv_path);
    let data = tempfile::tempdir().unwrap();
    let out = common::json(
        data.path(),
        &[
            "ingest",
            csv_path.to_str().unwrap(),
            "--feed",
            "cities",
            "--no-embed",
            "--json",
        ],
    );
    assert_eq!(out["new"].as_u64().unwrap() as usize, all.len(), "{out}");
    assert!(out["failed"].as_array().unwrap().is_empty(), "{out}");

    let gazetteer = GeoData::load(&geo_dir).unwrap();
    let server = common::Server::start(data.path());
    let (mut countries, mut cities_checked, mut nonempty) = (0, 0, 0);
    for c in gazetteer.countries() {
        if c.shape.0.is_empty() {
            continue;
        }
        let expected: BTreeSet<u64> = all
            .iter()
            .filter(|(_, (lon, lat))| c.shape.intersects(&geo::Point::new(*lon, *lat)))
            .map(|(id, _)| *id)
            .collect();
        let (status, v) = server.json(
            "POST",
            "/v1/geo/search",
            Some(&serde_json::json!({"query": "", "area": {"country": c.iso2}, "k": 100000})),
        );
        assert_eq!(status, 200, "{}: {v}", c.iso2);
        assert_eq!(v["type"], "FeatureCollection");
        let got: BTreeSet<u64> = v["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                assert_eq!(f["geometry"]["type"], "Point", "{f}");
                geonameid(f["properties"]["text"].as_str().unwrap()).expect("a geonameid line")
            })
            .collect();
        assert_eq!(
            got,
            expected,
            "{} ({}): {} returned, {} inside its polygon",
            c.name,
            c.iso2,
            got.len(),
            expected.len()
        );
        countries += 1;
        cities_checked += expected.len();
        nonempty += usize::from(!expected.is_empty());
    }
    eprintln!(
        "--country: {countries} countries ({nonempty} with cities), {cities_checked} cities placed exactly as by their Natural Earth polygons, of {}",
        all.len()
    );
    assert!(
        countries > 200 && nonempty > 150,
        "{countries} / {nonempty}"
    );
    // The server holds the data directory; the CLI opens it next.
    drop(server);

    // The CLI answers the same, by code, alpha-3 or name.
    for (arg, iso2) in [("FR", "FR"), ("NZL", "NZ"), ("Russia", "RU")] {
        let v = common::json(
            data.path(),
            &["search", "", "--country", arg, "--k", "100000", "--json"],
        );
        let got: BTreeSet<u64> = v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| geonameid(h["text"].as_str().unwrap()).unwrap())
            .collect();
        let shape = &gazetteer.country(iso2).unwrap().shape;
        let expected: BTreeSet<u64> = all
            .iter()
            .filter(|(_, (lon, lat))| shape.intersects(&geo::Point::new(*lon, *lat)))
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(got, expected, "--country {arg}");
    }
}

fn position_feature(uid: &str, name: &str, lon: f64, lat: f64, time: &str) -> String {
    serde_json::json!({
        "type": "Feature",
        "id": uid,
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"name": name, "time": time, "altitude": 11000},
    })
    .to_string()
}

#[test]
fn records_update_in_place_keep_their_track_and_stay_inside_access() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Three positions of one aircraft in one newline-delimited file, out of order.
    let ndjson = dir.path().join("tracks.ndjson");
    std::fs::write(
        &ndjson,
        [
            position_feature("ab12cd", "RCH123", 2.0, 48.0, "2026-11-20T10:00:00Z"),
            position_feature("ab12cd", "RCH123", 2.4, 48.6, "2026-11-20T10:10:00Z"),
            position_feature("ab12cd", "RCH123", 2.2, 48.3, "2026-11-20T10:05:00Z"),
        ]
        .join("\n"),
    )
    .unwrap();
    let out = common::json(
        &data,
        &["ingest", ndjson.to_str().unwrap(), "--no-embed", "--json"],
    );
    assert_eq!(out["new"], 1, "one record per uid: {out}");
    // A SECRET record nearby, and an UNCLASSIFIED one far away.
    let secret = dir.path().join("secret.geojson");
    std::fs::write(
        &secret,
        serde_json::json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": "hidden1", "geometry": {"type": "Point", "coordinates": [2.3, 48.5]},
             "properties": {"name": "Covert site", "classification": "SECRET"}},
            {"type": "Feature", "id": "far1", "geometry": {"type": "Point", "coordinates": [140.0, 35.0]},
             "properties": {"name": "Far away depot"}}
        ]})
        .to_string(),
    )
    .unwrap();
    let out = common::json(
        &data,
        &["ingest", secret.to_str().unwrap(), "--no-embed", "--json"],
    );
    assert_eq!(out["new"], 2, "{out}");

    // Near the last position: the aircraft, its distance, and (for the admin CLI) the site.
    let near = common::json(
        &data,
        &["search", "", "--near", "48.6,2.4,50", "--k", "10", "--json"],
    );
    let hits = near["hits"].as_array().unwrap();
    let titles: Vec<&str> = hits.iter().map(|h| h["title"].as_str().unwrap()).collect();
    assert!(
        titles.contains(&"RCH123") && titles.contains(&"Covert site"),
        "{titles:?}"
    );
    assert!(!titles.contains(&"Far away depot"));
    let plane = hits.iter().find(|h| h["title"] == "RCH123").unwrap();
    assert!(plane["distance_km"].as_f64().unwrap() < 1.0, "{plane}");
    assert!(
        plane["text"]
            .as_str()
            .unwrap()
            .contains("track history: 3 positions"),
        "{plane}"
    );
    let doc_id = plane["doc_id"].as_str().unwrap().to_string();

    let added = common::ok(
        &data,
        &[
            "users",
            "add",
            "low",
            "--clearance",
            "UNCLASSIFIED",
            "--roles",
            "reader",
        ],
    );
    let low = added.lines().last().unwrap().trim().to_string();
    let server = common::Server::start_with(&data, &["--cot-listen", "127.0.0.1:0"]);
    // The record's track, oldest first.
    let (status, doc) = server.json("GET", &format!("/v1/documents/{doc_id}"), None);
    assert_eq!(status, 200, "{doc}");
    let times: Vec<&str> = doc["track"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["time"].as_str().unwrap())
        .collect();
    assert_eq!(
        times,
        [
            "2026-11-20T10:00:00Z",
            "2026-11-20T10:05:00Z",
            "2026-11-20T10:10:00Z"
        ]
    );
    assert_eq!(doc["feed"], "tracks");

    // A pushed update moves it and extends the track; the old position no longer matches.
    let (status, body) = server.request_as(
        &server.token,
        "POST",
        "/v1/feeds/tracks",
        "application/geo+json",
        &position_feature("ab12cd", "RCH123", 5.0, 45.0, "2026-11-20T10:20:00Z"),
    );
    assert_eq!(status, 200, "{body}");
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["replaced"], 1, "{report}");
    let (_, doc) = server.json("GET", &format!("/v1/documents/{doc_id}"), None);
    assert_eq!(doc["track"].as_array().unwrap().len(), 4);
    let search = |token: &str, area: serde_json::Value, query: &str| -> serde_json::Value {
        let (status, body) = server.request_as(
            token,
            "POST",
            "/v1/geo/search",
            "application/json",
            &serde_json::json!({"query": query, "area": area, "k": 50}).to_string(),
        );
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    };
    let titles = |v: &serde_json::Value| -> Vec<String> {
        v["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["properties"]["title"].as_str().unwrap().to_string())
            .collect()
    };
    let around_new = search(
        &server.token,
        serde_json::json!({"near": {"lat": 45.0, "lon": 5.0, "km": 5}}),
        "",
    );
    assert_eq!(titles(&around_new), ["RCH123"]);
    // Its track still crosses the first box, as a line: the hit's geometry there is the track.
    let first_box = serde_json::json!({"bbox": [1.9, 47.9, 2.1, 48.1]});
    let v = search(&server.token, first_box.clone(), "");
    assert_eq!(titles(&v), ["RCH123"]);
    assert_eq!(v["features"][0]["geometry"]["type"], "LineString", "{v}");

    // Cursor-on-Target over TCP, split at awkward places: a new record appears.
    let cot = r#"<?xml version="1.0" encoding="UTF-8"?><event version="2.0" uid="TAK-7" type="a-h-G-U-C" time="2026-11-20T10:30:00Z" start="2026-11-20T10:30:00Z" stale="2026-11-20T11:30:00Z" how="m-g"><point lat="48.85" lon="2.35" hae="35" ce="10" le="5"/><detail><contact callsign="Hostile patrol"/><remarks>moving north</remarks></detail></event>"#;
    let mut sock = std::net::TcpStream::connect(server.cot_addr.as_ref().unwrap()).unwrap();
    for part in cot.as_bytes().chunks(37) {
        sock.write_all(part).unwrap();
        sock.flush().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    drop(sock);
    let paris = serde_json::json!({"near": {"lat": 48.85, "lon": 2.35, "km": 2}});
    let mut found = Vec::new();
    for _ in 0..100 {
        found = titles(&search(&server.token, paris.clone(), ""));
        if !found.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(found, ["Hostile patrol"]);
    let v = search(&server.token, paris.clone(), "patrol moving north");
    assert_eq!(titles(&v), ["Hostile patrol"]);

    // Access: an UNCLASSIFIED reader sees neither the SECRET site nor any sign of it — not in
    // the listing, not in a query for its name, not in the roll-up banner.
    let area = serde_json::json!({"bbox": [1.0, 47.0, 3.5, 49.5]});
    let admin_view = search(&server.token, area.clone(), "");
    assert!(titles(&admin_view).contains(&"Covert site".to_string()));
    assert_eq!(admin_view["marking"], "SECRET");
    let low_view = search(&low, area.clone(), "");
    assert!(
        !titles(&low_view).contains(&"Covert site".to_string()),
        "{low_view}"
    );
    assert!(titles(&low_view).contains(&"Hostile patrol".to_string()));
    assert_eq!(low_view["marking"], "UNCLASSIFIED");
    let low_query = search(&low, area, "Covert site");
    assert!(!low_query.to_string().contains("Covert"), "{low_query}");

    // Bad input: a clear error, nothing lost. A feature that cannot be read is reported in its
    // place (numbered from 1); a document that cannot be read at all is refused.
    let (status, body) = server.request_as(
        &server.token,
        "POST",
        "/v1/feeds/tracks",
        "application/geo+json",
        r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[200,10]},"properties":{}}"#,
    );
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["new"], 0, "{body}");
    assert_eq!(v["failed"][0]["feature"], 1, "{body}");
    assert!(
        v["failed"][0]["error"]
            .as_str()
            .unwrap()
            .contains("longitude 200"),
        "{body}"
    );
    let (status, body) = server.request_as(
        &server.token,
        "POST",
        "/v1/feeds/tracks",
        "application/geo+json",
        r#"{"type":"Feature","geometry":{"type":"Point","coord"#,
    );
    assert_eq!(status, 400, "{body}");
    let (status, body) = server.request_as(
        &server.token,
        "POST",
        "/v1/geo/search",
        "application/json",
        r#"{"query":"","area":{"bbox":[10,10,0]}}"#,
    );
    assert_eq!(status, 400, "{body}");
    let (status, body) = server.request_as(
        &server.token,
        "POST",
        "/v1/geo/search",
        "application/json",
        r#"{"query":"","area":{"country":"Atlantis"}}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Atlantis"), "{body}");
    let (_, doc) = server.json("GET", &format!("/v1/documents/{doc_id}"), None);
    assert_eq!(doc["track"].as_array().unwrap().len(), 4, "nothing lost");
}
