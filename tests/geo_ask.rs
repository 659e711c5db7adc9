//! Geofiltered questions through the real server and models: Factbook profiles (geotagged at
//! ingest by the gazetteer and the coordinates they write) and real ADS-B records, asked about
//! through `POST /v1/geo/ask`; the answer's citations come back as map pins.

mod common;

use std::path::PathBuf;

fn inside(bbox: [f64; 4], p: &serde_json::Value) -> bool {
    let (lon, lat) = (p[0].as_f64().unwrap(), p[1].as_f64().unwrap());
    lon >= bbox[0] && lon <= bbox[2] && lat >= bbox[1] && lat <= bbox[3]
}

/// Every pin names one of the answer's citations, carries its quote and marking, and lies in
/// the box; returns how many pins there are.
fn check_pins(v: &serde_json::Value, bbox: [f64; 4]) -> usize {
    let citations = v["citations"].as_array().unwrap();
    let pins = v["pins"]["features"].as_array().unwrap();
    assert_eq!(v["pins"]["type"], "FeatureCollection");
    for pin in pins {
        let n = pin["properties"]["citation"].as_u64().unwrap();
        let c = citations
            .iter()
            .find(|c| c["n"].as_u64() == Some(n))
            .unwrap_or_else(|| panic!("pin for citation {n} which the answer lacks: {v}"));
        assert_eq!(pin["properties"]["quote"], c["quote"]);
        assert_eq!(pin["properties"]["title"], c["title"]);
        assert!(!pin["properties"]["marking"].as_str().unwrap().is_empty());
        assert_eq!(pin["geometry"]["type"], "Point");
        assert!(inside(bbox, &pin["geometry"]["coordinates"]), "{pin}");
    }
    pins.len()
}

#[test]
fn geo_ask_over_factbook_and_adsb_pins_its_citations() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let docs = dir.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    for code in ["fr", "gm", "uk"] {
        std::fs::copy(
            common::factbook_dir().join(format!("{code}.md")),
            docs.join(format!("{code}.md")),
        )
        .unwrap();
    }
    let adsb: PathBuf = common::cache_dir().join("data/adsb/adsb.geojson");
    let out = common::json(
        &data,
        &[
            "ingest",
            docs.to_str().unwrap(),
            adsb.to_str().unwrap(),
            "--no-embed",
            "--json",
        ],
    );
    assert!(out["failed"].as_array().unwrap().is_empty(), "{out}");

    // BM25 serves at once; the server embeds in the background.
    let server = common::Server::start(&data);
    // A box over France: the capital, cited from the France profile, pinned at Paris.
    let france = [-5.5, 41.0, 9.8, 51.5];
    let (status, v) = server.json(
        "POST",
        "/v1/geo/ask",
        Some(&serde_json::json!({
            "question": "What is the capital of France?",
            "area": {"bbox": france},
        })),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["abstained"], false, "{v}");
    assert!(v["answer"].as_str().unwrap().contains("Paris"), "{v}");
    assert!(
        v["citations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["title"] == "France"),
        "{v}"
    );
    let n = check_pins(&v, france);
    assert!(n >= 1, "no pins: {v}");
    let near_paris = v["pins"]["features"].as_array().unwrap().iter().any(|p| {
        let c = &p["geometry"]["coordinates"];
        (c[0].as_f64().unwrap() - 2.35).abs() < 0.3 && (c[1].as_f64().unwrap() - 48.86).abs() < 0.3
    });
    assert!(near_paris, "a pin at Paris: {v}");

    // Outside every profile's places, the same question finds nothing to cite.
    let (status, v) = server.json(
        "POST",
        "/v1/geo/ask",
        Some(&serde_json::json!({
            "question": "What is the capital of France?",
            "area": {"bbox": [-40.0, -40.0, -30.0, -30.0]},
        })),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["abstained"], true, "{v}");
    assert!(v["pins"]["features"].as_array().unwrap().is_empty());

    // ADS-B: the box around the last position in the file (its aircraft's latest, so its
    // record's point); the records cited are pinned.
    let feed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&adsb).unwrap()).unwrap();
    let last = feed["features"].as_array().unwrap().last().unwrap().clone();
    let (lon, lat) = (
        last["geometry"]["coordinates"][0].as_f64().unwrap(),
        last["geometry"]["coordinates"][1].as_f64().unwrap(),
    );
    let callsign = last["properties"]["callsign"].as_str().unwrap().to_string();
    let bbox = [lon - 0.5, lat - 0.5, lon + 0.5, lat + 0.5];
    let (status, v) = server.json(
        "POST",
        "/v1/geo/ask",
        Some(&serde_json::json!({
            "question": format!("What is the altitude of {callsign}?"),
            "area": {"bbox": bbox},
        })),
    );
    assert_eq!(status, 200, "{v}");
    eprintln!("ADS-B geo ask: {}", v["answer"]);
    assert_eq!(v["abstained"], false, "{v}");
    let n = check_pins(&v, bbox);
    assert!(n >= 1, "no pins: {v}");
}
