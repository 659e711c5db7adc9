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

/// A report from a template: table fields cited or "unknown", a section with nothing behind
/// it says so, portion marks roll up to the banner, and a reader below the banner cannot
/// list, read, diff or export it. Markdown and HTML exports carry the banners.
#[test]
fn reports_are_cited_marked_and_kept_from_readers_below_them() {
    let root = tempfile::tempdir().unwrap();
    let tdir = root.path().join("templates");
    std::fs::create_dir_all(&tdir).unwrap();
    std::fs::write(
        tdir.join("mini.toml"),
        r#"title = "Mini brief: {country}"
[[params]]
name = "country"
type = "text"
[[sections]]
heading = "Key facts"
form = "table"
fields = [
  { name = "Capital", question = "What is the capital of {country}?" },
  { name = "Currency", question = "What is the currency of {country}?" },
]
[[sections]]
heading = "Space programme"
form = "prose"
question = "How many astronauts has {country} sent to the Moon?"
"#,
    )
    .unwrap();
    let cfg = root.path().join("sextant.toml");
    std::fs::write(&cfg, "").unwrap();
    let data = root.path().join("data");
    let docs = root.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(
        docs.join("kenya.md"),
        "# Kenya\n\n## Government\n\nThe capital of Kenya is Nairobi, its largest city.\n",
    )
    .unwrap();
    std::fs::write(
        docs.join("kenya-money.md"),
        "# Kenya finance note\n\nThe currency of Kenya is the Kenyan shilling (KES).\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        sextant()
            .args(["--config", cfg.to_str().unwrap(), "--data-dir"])
            .arg(&data)
            .args(args)
            .output()
            .unwrap()
    };
    let ok = |args: &[&str]| {
        let out = run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    ok(&["ingest", docs.join("kenya.md").to_str().unwrap()]);
    ok(&[
        "ingest",
        docs.join("kenya-money.md").to_str().unwrap(),
        "--marking",
        "SECRET",
    ]);
    ok(&[
        "users",
        "add",
        "low",
        "--clearance",
        "UNCLASSIFIED",
        "--roles",
        "reader",
    ]);

    let r: serde_json::Value = serde_json::from_str(&ok(&[
        "report",
        "new",
        "mini",
        "--param",
        "country=Kenya",
        "--json",
    ]))
    .unwrap();
    let v = &r["version"];
    assert_eq!(v["title"], "Mini brief: Kenya");
    let table = &v["sections"][0]["portions"];
    assert_eq!(table[0]["field"], "Capital");
    assert!(
        table[0]["text"].as_str().unwrap().contains("Nairobi"),
        "{r:#}"
    );
    assert_eq!(table[0]["marking"], "(U)");
    assert!(
        table[1]["text"].as_str().unwrap().contains("shilling"),
        "{r:#}"
    );
    assert_eq!(table[1]["marking"], "(S)");
    // Every cited number names a source whose quote holds the value.
    for p in table.as_array().unwrap() {
        for n in p["citations"].as_array().unwrap() {
            let c = &v["citations"][n.as_u64().unwrap() as usize - 1];
            assert!(c["quote"]
                .as_str()
                .unwrap()
                .contains(p["text"].as_str().unwrap().trim_end_matches('.')));
        }
    }
    let space = &v["sections"][1];
    assert_eq!(space["empty"], true, "{r:#}");
    assert!(space["portions"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("No reporting found"));
    assert_eq!(v["banner"], "SECRET");
    assert_eq!(v["authority"]["declassify_on"], "25X1");
    let id = r["id"].as_str().unwrap();

    // Exports carry the banner at top and bottom and a mark before every portion.
    let md = root.path().join("r.md");
    ok(&[
        "report",
        "export",
        id,
        "--format",
        "md",
        "-o",
        md.to_str().unwrap(),
    ]);
    let md = std::fs::read_to_string(md).unwrap();
    assert!(
        md.starts_with("**SECRET**") && md.trim_end().ends_with("**SECRET**"),
        "{md}"
    );
    assert!(md.contains("| (S) | Currency |"), "{md}");
    let html = root.path().join("r.html");
    ok(&[
        "report",
        "export",
        id,
        "--format",
        "html",
        "-o",
        html.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(html).unwrap();
    assert_eq!(html.matches("class=\"banner\">SECRET<").count(), 2);

    // Below the banner: no listing, and every read answers like a report that does not exist.
    let listed = ok(&["--as", "low", "report", "list", "--json"]);
    assert!(!listed.contains(id), "{listed}");
    let missing = "0123456789abcdef0123456789abcdef";
    for args in [
        vec!["report", "show", id],
        vec!["report", "diff", id, "--from", "1", "--to", "1"],
        vec!["report", "export", id, "--format", "md", "-o", "/dev/null"],
    ] {
        let mut as_low = vec!["--as", "low"];
        as_low.extend(&args);
        let a = run(&as_low);
        let other: Vec<&str> = as_low
            .iter()
            .map(|x| if *x == id { missing } else { x })
            .collect();
        let b = run(&other);
        assert!(!a.status.success());
        assert_eq!(
            String::from_utf8_lossy(&a.stderr).replace(id, "X"),
            String::from_utf8_lossy(&b.stderr).replace(missing, "X"),
            "{args:?}"
        );
    }
    assert!(ok(&["report", "list", "--json"]).contains(id));
    let audit = std::fs::read_to_string(data.join("audit.jsonl")).unwrap();
    for action in ["report.generate", "report.export", "report.list"] {
        assert!(
            audit.contains(&format!("\"action\":\"{action}\"")),
            "{action}"
        );
    }
}
