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

/// A data directory with one template (`mini.toml`) and documents written into `docs/`,
/// driven through the CLI.
struct Fixture {
    root: tempfile::TempDir,
    cfg: std::path::PathBuf,
    data: std::path::PathBuf,
}

impl Fixture {
    fn new(template: &str, docs: &[(&str, &str)]) -> Fixture {
        let root = tempfile::tempdir().unwrap();
        let tdir = root.path().join("templates");
        std::fs::create_dir_all(&tdir).unwrap();
        std::fs::write(tdir.join("mini.toml"), template).unwrap();
        let cfg = root.path().join("sextant.toml");
        std::fs::write(&cfg, "").unwrap();
        std::fs::create_dir_all(root.path().join("docs")).unwrap();
        let data = root.path().join("data");
        let f = Fixture { root, cfg, data };
        for (name, text) in docs {
            f.doc(name, text);
        }
        f
    }

    /// Writes `docs/NAME` and returns its path.
    fn doc(&self, name: &str, text: &str) -> String {
        let p = self.root.path().join("docs").join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        sextant()
            .args(["--config", self.cfg.to_str().unwrap(), "--data-dir"])
            .arg(&self.data)
            .args(args)
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }
}

/// A report from a template: table fields cited or "unknown", a section with nothing behind
/// it says so, portion marks roll up to the banner, and a reader below the banner cannot
/// list, read, diff or export it. Markdown and HTML exports carry the banners.
#[test]
fn reports_are_cited_marked_and_kept_from_readers_below_them() {
    let f = Fixture::new(
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
        &[
            (
                "kenya.md",
                "# Kenya\n\n## Government\n\nThe capital of Kenya is Nairobi, its largest city.\n",
            ),
            (
                "kenya-money.md",
                "# Kenya finance note\n\nThe currency of Kenya is the Kenyan shilling (KES).\n",
            ),
        ],
    );
    let (run, ok) = (|a: &[&str]| f.run(a), |a: &[&str]| f.ok(a));
    let (root, data) = (f.root.path(), &f.data);
    let docs = root.join("docs");
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
    let md = root.join("r.md");
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
    let html = root.join("r.html");
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

/// Refine and refresh: a section regenerated with an instruction, author-written text under
/// the author's mark (citations kept only where they still support it, a mark below what it
/// cites refused), sections moved and removed — each a new version; a refresh after a new
/// document rewrites only the section it affects, shows the change in the diff, and flags
/// (never rewrites) an author-written section whose source went away. PDF and DOCX exports
/// carry the banner and the portion marks, read back with pdftotext and from the DOCX XML.
#[test]
fn reports_refine_refresh_and_export_pdf_and_docx() {
    let fx = Fixture::new(
        r#"title = "Mini brief: {country}"
[[params]]
name = "country"
type = "text"
[[sections]]
heading = "Key facts"
form = "table"
fields = [{ name = "Capital", question = "What is the capital of {country}?" }]
[[sections]]
heading = "Economy"
form = "prose"
question = "How is the economy of {country} doing: growth, exports, industries?"
length = 4
[[sections]]
heading = "Security"
form = "bullets"
question = "What are the security threats in {country}?"
length = 2
"#,
        &[
            (
                "kenya.md",
                "# Kenya\n\n## Government\n\nThe capital of Kenya is Nairobi, its largest city.\n\n\
                 ## Economy\n\nThe economy of Kenya grew by 5.6 percent in 2024. Tea and coffee are \
                 the main exports of Kenya. Tourism is a large industry in Kenya.\n",
            ),
            (
                "kenya-threats.md",
                "# Kenya security note\n\nAl-Shabaab attacks near the Somali border are the main \
                 security threat in Kenya. Cattle raids cause insecurity in northern Kenya.\n",
            ),
        ],
    );
    let (run, ok, json) = (
        |a: &[&str]| fx.run(a),
        |a: &[&str]| fx.ok(a),
        |a: &[&str]| fx.json(a),
    );
    let (root, data) = (fx.root.path(), &fx.data);
    let docs = root.join("docs");
    ok(&["ingest", docs.join("kenya.md").to_str().unwrap()]);
    ok(&[
        "ingest",
        docs.join("kenya-threats.md").to_str().unwrap(),
        "--marking",
        "SECRET",
    ]);
    let r = json(&[
        "report",
        "new",
        "mini",
        "--param",
        "country=Kenya",
        "--json",
    ]);
    let id = r["id"].as_str().unwrap().to_string();
    let id = id.as_str();
    let v1 = &r["version"];
    assert_eq!(v1["banner"], "SECRET", "{r:#}");
    let economy1 = v1["sections"][1]["portions"].to_string();
    assert!(economy1.contains("5.6 percent"), "{r:#}");

    // Nothing it rests on changed: no new version.
    let f = json(&["report", "refresh", id, "--json"]);
    assert_eq!(f["report"]["versions"], serde_json::json!([1]), "{f:#}");
    assert!(f["diff"].is_null());

    // A new document changes a fact of the economy: only that section is rewritten.
    let update = fx.doc(
        "kenya-2026.md",
        "# Kenya economic update 2026\n\nThe economy of Kenya grew by 7.1 percent in 2026, \
         the fastest growth in a decade, as exports of tea rose.\n",
    );
    ok(&["ingest", &update]);
    let f = json(&["report", "refresh", id, "--json"]);
    assert_eq!(f["regenerated"], serde_json::json!([2]), "{f:#}");
    assert_eq!(f["report"]["version"]["n"], 2);
    let v2 = &f["report"]["version"];
    assert_eq!(v2["sections"][0], v1["sections"][0], "the table is kept");
    assert!(
        v2["sections"][1]["portions"]
            .to_string()
            .contains("7.1 percent"),
        "{f:#}"
    );
    let d = json(&["report", "diff", id, "--from", "1", "--to", "2", "--json"]);
    let secs = d["sections"].as_array().unwrap();
    assert_eq!(secs[0]["status"], "unchanged", "{d:#}");
    assert_eq!(secs[1]["status"], "changed", "{d:#}");
    assert!(
        secs[1]["lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["op"] == "+" && l["text"].as_str().unwrap().contains("7.1 percent")),
        "{d:#}"
    );

    // Regenerate with an instruction: a new version, shorter.
    let v3 = json(&[
        "report",
        "refine",
        id,
        "--section",
        "2",
        "--instruction",
        "shorter",
        "--json",
    ]);
    let n2 = v2["sections"][1]["portions"].as_array().unwrap().len();
    let n3 = v3["version"]["sections"][1]["portions"]
        .as_array()
        .unwrap()
        .len();
    assert!(n3 < n2 && n3 >= 1, "{n2} -> {n3}");
    assert_eq!(v3["version"]["sections"][1]["instruction"], "shorter");

    // Author-written text: the mark must cover what it cites; citations stay only where the
    // source supports the sentence.
    let sec3 = &v3["version"]["sections"][2];
    let cited = sec3["portions"][0]["citations"][0].as_u64().unwrap();
    let quote = v3["version"]["citations"][cited as usize - 1]["quote"]
        .as_str()
        .unwrap()
        .to_string();
    let text = root.join("mine.txt");
    std::fs::write(
        &text,
        format!("- {quote} [{cited}]\n- Our patrols saw nothing unusual this week [{cited}]\n"),
    )
    .unwrap();
    let low = run(&[
        "report",
        "refine",
        id,
        "--section",
        "3",
        "--text-file",
        text.to_str().unwrap(),
        "--marking",
        "(U)",
    ]);
    assert!(!low.status.success());
    assert!(String::from_utf8_lossy(&low.stderr).contains("below what the text cites"));
    let v4 = json(&[
        "report",
        "refine",
        id,
        "--section",
        "3",
        "--text-file",
        text.to_str().unwrap(),
        "--marking",
        "(S)",
        "--json",
    ]);
    let mine = &v4["version"]["sections"][2];
    assert_eq!(mine["author_written"], true);
    assert_eq!(mine["portions"][0]["marking"], "(S)");
    assert_eq!(
        mine["portions"][0]["citations"].as_array().unwrap().len(),
        1,
        "{v4:#}"
    );
    assert_eq!(
        mine["portions"][1]["citations"],
        serde_json::json!([]),
        "{v4:#}"
    );

    // Move and remove.
    let v5 = json(&[
        "report",
        "refine",
        id,
        "--section",
        "3",
        "--move-to",
        "1",
        "--json",
    ]);
    assert_eq!(v5["version"]["sections"][0]["heading"], "Security");
    let v6 = json(&[
        "report",
        "refine",
        id,
        "--section",
        "3",
        "--remove",
        "--json",
    ]);
    let heads: Vec<&str> = v6["version"]["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["heading"].as_str().unwrap())
        .collect();
    assert_eq!(heads, ["Security", "Key facts"]);
    assert_eq!(v6["versions"], serde_json::json!([1, 2, 3, 4, 5, 6]));

    // The author's source goes away: a refresh flags their section and keeps their words.
    let listed = ok(&["search", "Al-Shabaab", "--json"]);
    let doc = serde_json::from_str::<serde_json::Value>(&listed).unwrap()["hits"][0]["doc_id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(&["delete", &doc]);
    let f = json(&["report", "refresh", id, "--json"]);
    assert_eq!(f["flagged"], serde_json::json!([1]), "{f:#}");
    let sec = &f["report"]["version"]["sections"][0];
    assert!(sec["flag"]
        .as_str()
        .unwrap()
        .contains("changed or were removed"));
    let words = |s: &serde_json::Value| -> Vec<(String, String)> {
        s["portions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["text"].to_string(), p["marking"].to_string()))
            .collect()
    };
    assert_eq!(words(sec), words(mine), "author text kept as written");

    // PDF and DOCX: banners and portion marks, read back.
    let pdf = root.join("r.pdf");
    ok(&[
        "report",
        "export",
        id,
        "--version",
        "4",
        "--format",
        "pdf",
        "-o",
        pdf.to_str().unwrap(),
    ]);
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", pdf.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils) is installed by scripts/test.sh");
    let text = String::from_utf8(out.stdout).unwrap();
    for page in text.split('\u{c}').filter(|p| !p.trim().is_empty()) {
        let lines: Vec<&str> = page.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.first().unwrap().trim(), "SECRET", "{page}");
        assert!(
            lines.iter().rev().take(2).any(|l| l.trim() == "SECRET"),
            "{page}"
        );
    }
    for needle in [
        "Mini brief: Kenya",
        "(U)",
        "(S)",
        "Capital",
        "Nairobi",
        "[1]",
        "Sources",
        "Declassify on: 25X1",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    let docx = root.join("r.docx");
    ok(&[
        "report",
        "export",
        id,
        "--version",
        "4",
        "--format",
        "docx",
        "-o",
        docx.to_str().unwrap(),
    ]);
    let unzip = |part: &str| {
        let out = std::process::Command::new("unzip")
            .args(["-p", docx.to_str().unwrap(), part])
            .output()
            .unwrap();
        assert!(out.status.success(), "{part}");
        String::from_utf8(out.stdout).unwrap()
    };
    let body = unzip("word/document.xml");
    assert!(
        body.contains("(S) ") && body.contains("(U) ") && body.contains("Nairobi"),
        "{body}"
    );
    assert!(unzip("word/header1.xml").contains(">SECRET<"));
    assert!(unzip("word/footer1.xml").contains(">SECRET<"));

    let audit = std::fs::read_to_string(data.join("audit.jsonl")).unwrap();
    for action in ["report.refine", "report.refresh", "report.export"] {
        assert!(
            audit.contains(&format!("\"action\":\"{action}\"")),
            "{action}"
        );
    }
}
