//! Templated reports through the CLI and the server.

mod common;

use common::*;

/// The shipped templates are listed by `sextant report templates` and `GET
/// /v1/report-templates` (audited); a broken template is reported with its file and line and
/// hides none of the others.
#[test]
fn templates_are_listed_and_broken_ones_named() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("templates");
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(repo().join("config/templates")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        dir.join("broken.toml"),
        "title = \"x {nope}\"\n[[sections]]\nheading = \"a\"\nform = \"prose\"\nquery = \"q\"\n",
    )
    .unwrap();
    let cfg = root.path().join("sextant.toml");
    std::fs::write(&cfg, "").unwrap();
    let data = root.path().join("data");
    std::fs::create_dir_all(&data).unwrap();

    let out = sextant()
        .args(["--config", cfg.to_str().unwrap(), "--data-dir"])
        .arg(&data)
        .args(["report", "templates", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("broken.toml line 1") && stderr.contains("{nope}"),
        "{stderr}"
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["bluf-memo", "country-brief", "intsum", "salute", "sitrep"]
    );

    let srv = Server::start_with(&data, &["--config", cfg.to_str().unwrap()]);
    let (s, b) = srv.request("GET", "/v1/report-templates", None);
    assert_eq!(s, 200, "{b}");
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    let brief = v["templates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "country-brief")
        .unwrap();
    assert_eq!(brief["params"][0]["name"], "country");
    assert_eq!(brief["params"][0]["type"], "country");
    assert_eq!(brief["sections"][1]["form"], "table");
    assert_eq!(brief["sections"][1]["fields"][0]["name"], "Capital");
    let audit = std::fs::read_to_string(data.join("audit.jsonl")).unwrap();
    assert!(audit.contains("\"action\":\"report.templates\""), "{audit}");
}
