//! `sextant connectors`: connectors read from `connectors/` beside the settings file, shown
//! only to those who may use them, with clear errors for broken ones.

mod common;

use common::run;
use std::path::Path;

const SPEC: &str = r#"{"openapi": "3.0.2", "info": {"title": "features", "version": "1"},
  "paths": {
    "/collections": {"get": {"operationId": "getCollections", "summary": "The collections"}},
    "/collections/{collectionId}/items": {
      "parameters": [{"name": "collectionId", "in": "path", "required": true, "schema": {"type": "string"}}],
      "get": {"operationId": "getItems", "parameters": [{"name": "bbox", "in": "query", "schema": {"type": "array", "items": {"type": "number"}}}]},
      "post": {"operationId": "addItem", "requestBody": {"content": {"application/geo+json": {"schema": {"type": "object"}}}}}}}}"#;

fn write(p: &Path, text: &str) {
    std::fs::write(p, text).unwrap();
}

#[test]
fn connectors_are_listed_shown_and_checked_within_access() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("config");
    let dir = config.join("connectors");
    std::fs::create_dir_all(&dir).unwrap();
    let data = tmp.path().join("data");
    let settings = config.join("sextant.toml");
    write(
        &settings,
        &format!("data_dir = {:?}\n", data.to_str().unwrap()),
    );
    write(&dir.join("features.json"), SPEC);
    // Nothing listens on this port (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    write(
        &dir.join("geo.toml"),
        &format!("spec = \"features.json\"\nbase_url = \"http://127.0.0.1:{port}\"\nmarking = \"UNCLASSIFIED\"\ntimeout_secs = 2\n"),
    );
    write(
        &dir.join("tracks.toml"),
        "spec = \"features.json\"\nbase_url = \"http://127.0.0.1:9\"\nmarking = \"SECRET//NOFORN\"\nallow = [\"getItems\", \"POST /collections/{collectionId}/items\"]\n",
    );
    write(
        &dir.join("broken.toml"),
        "spec = \"features.json\"\nbase_url = \"http://127.0.0.1:9\"\nmarking = \"UNCLASSIFIED\"\nallow = [\"getItemz\"]\n",
    );
    let cfg = settings.to_str().unwrap();
    let sx = |args: &[&str]| {
        let mut all = vec!["--config", cfg];
        all.extend_from_slice(args);
        run(&data, &all)
    };
    let out = sx(&["users", "add", "low", "--clearance", "UNCLASSIFIED"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The local administrator sees both, and the broken one's error with file and line.
    let out = sx(&["connectors", "list", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["geo", "tracks"]);
    assert_eq!(v[0]["operations"], 2, "read-only by default: {v}");
    assert_eq!(v[1]["operations"], 2, "{v}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.toml line 4") && err.contains("getItemz"),
        "{err}"
    );

    // A reader below the SECRET connector never learns it exists, nor of broken files.
    let out = sx(&["--as", "low", "connectors", "list", "--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v[0]["name"], "geo");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hidden = sx(&["--as", "low", "connectors", "show", "tracks"]);
    let missing = sx(&["--as", "low", "connectors", "show", "trackz"]);
    assert!(!hidden.status.success() && !missing.status.success());
    assert_eq!(
        String::from_utf8_lossy(&hidden.stderr).replace("tracks", "X"),
        String::from_utf8_lossy(&missing.stderr).replace("trackz", "X")
    );

    // show: the operations with their argument schemas; mutating ones are marked.
    let out = sx(&["connectors", "show", "tracks", "--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["operations"][1]["id"], "addItem");
    assert_eq!(
        v["operations"][0]["arguments"]["required"],
        serde_json::json!(["collectionId"])
    );
    let text = String::from_utf8_lossy(&sx(&["connectors", "show", "tracks"]).stdout).into_owned();
    assert!(text.contains("addItem  [asks for confirmation]"), "{text}");

    // check: the document reads, and a system that is not there is reported.
    let out = sx(&["connectors", "check", "geo"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 operations allowed"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not answer"));
}
