//! The analyst web app end to end: the real server (models, gazetteer, Natural Earth basemap)
//! serving deploy/web/dist at `/`, and headless Chromium (Debian's, driven by playwright-core;
//! `scripts/setup-browser.sh` installs both and builds the app). The browser script signs in,
//! asks and opens a citation's passage, compares two models, uploads a marked document,
//! generates, edits, refreshes and exports a report, administers users and the audit log, runs
//! the map flow (a box over France drawn with the mouse), and checks that an UNCLASSIFIED
//! reader's screen never shows SECRET material; axe-core checks every main view.

mod common;

/// A SECRET report only the SECRET-cleared user may see; its phrase must never reach the
/// UNCLASSIFIED reader's screen.
const SECRET_DOC: &str = "Harbour report\n\nThe submarine tender Corvus is berthed at pier Zulu-7 in the outer harbour.\n";
const SECRET_PHRASE: &str = "Zulu-7";

/// Runs the browser script against `server` with `env` and returns its summary line; fails the
/// test with the script's output when it fails. Needs the built app (scripts/setup-browser.sh).
fn browse(server: &common::Server, env: &[(&str, &str)]) -> serde_json::Value {
    let dist = common::repo().join("deploy/web/dist/index.html");
    assert!(
        dist.is_file(),
        "{} is missing: run scripts/setup-browser.sh (it builds the web app)",
        dist.display()
    );
    let out = std::process::Command::new("node")
        .arg(common::repo().join("tests/browser/app.e2e.mjs"))
        .env("SEXTANT_URL", format!("http://{}", server.addr))
        .envs(env.iter().copied())
        .output()
        .expect("node runs (scripts/setup-browser.sh installs the browser test)");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "browser test failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_str(
        stdout
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .expect("a summary line"),
    )
    .unwrap();
    eprintln!("{summary}");
    summary
}

#[test]
fn web_app_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let docs = dir.path().join("docs");
    let secret = dir.path().join("secret");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::create_dir_all(&secret).unwrap();
    for country in ["fr", "gm", "sp", "it", "ke"] {
        let src = common::factbook_dir().join(format!("{country}.md"));
        std::fs::copy(&src, docs.join(format!("{country}.md")))
            .unwrap_or_else(|e| panic!("{}: {e} (scripts/fetch-data.sh factbook)", src.display()));
    }
    // A report whose text holds markup: if the page ever renders it as HTML, the script runs.
    std::fs::write(
        docs.join("convoy.txt"),
        "Convoy report\n\nThe convoy reached Lyon at dawn. <img src=x onerror=\"window.__xss=1\"> Its escort stayed behind in Grenoble.\n",
    )
    .unwrap();
    std::fs::write(secret.join("harbour.txt"), SECRET_DOC).unwrap();
    common::ok(&data, &["ingest", docs.to_str().unwrap()]);
    common::ok(
        &data,
        &["ingest", "--marking", "SECRET", secret.to_str().unwrap()],
    );
    let admin = common::add_user(&data, "analyst", "SECRET", "reader,ingester,admin");
    let low = common::add_user(&data, "visitor", "UNCLASSIFIED", "reader");
    let server = common::Server::start(&data);

    let shots = std::env::var_os("SCREENSHOT_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().join("screenshots"));
    let shots = shots.display().to_string();
    let summary = browse(
        &server,
        &[
            ("E2E_TOKEN_ADMIN", &admin),
            ("E2E_TOKEN_LOW", &low),
            ("SCREENSHOT_DIR", &shots),
            ("E2E_QUESTION", "What is the capital of France?"),
            ("E2E_BBOX", "-5,41,10,51"),
            ("E2E_MAP_QUESTION", "What did the convoy reach at dawn?"),
            ("E2E_SECRET_TEXT", SECRET_PHRASE),
            (
                "E2E_LOW_QUESTION",
                "Where is the submarine tender Corvus berthed?",
            ),
            ("E2E_REPORT_TEMPLATE", "bluf-memo"),
            (
                "E2E_REPORT_PARAMS",
                r#"{"question":"What is the capital of France?"}"#,
            ),
        ],
    );
    assert_eq!(summary["ok"], true, "{summary}");
    let views = &summary["views"];
    assert!(
        views["chat"]["highlight_chars"].as_u64().unwrap_or(0) > 0,
        "the cited span was highlighted: {summary}"
    );
    assert!(
        views["documents"]["marking"]
            .as_str()
            .unwrap_or("")
            .starts_with("SECRET"),
        "{summary}"
    );
    assert!(
        views["compare"].as_array().is_some_and(|c| !c.is_empty()),
        "{summary}"
    );
    assert!(
        views["reports"]["sections"].as_u64().unwrap_or(0) >= 1,
        "{summary}"
    );
    assert!(
        views["reports"]["exported"]["md"].as_u64().unwrap_or(0) > 0,
        "{summary}"
    );
    assert!(views["admin"]["audit_verified"] == true, "{summary}");
    assert!(views["map"]["pins"].as_u64().unwrap_or(0) >= 1, "{summary}");
    assert!(
        views["map"]["markup_quotes_literal"].as_u64().unwrap_or(0) >= 1,
        "the markup-holding report was cited and shown as text: {summary}"
    );
    for (view, banner) in summary["low"]["views"].as_object().expect("low views") {
        let b = banner.as_str().unwrap_or("");
        assert!(
            !b.contains("SECRET") && !b.contains("CONFIDENTIAL"),
            "the UNCLASSIFIED reader's {view} banner: {b}"
        );
    }
    for (view, axe) in summary["axe"].as_object().expect("axe results") {
        assert_eq!(axe["serious"], 0, "axe on {view}: {axe}");
    }
}

/// The connected-systems view against pygeoapi: a request to create a report becomes a pending
/// call shown as a confirmation card; Confirm runs it, Deny never does.
#[test]
fn web_app_confirms_and_denies_a_pending_call() {
    let geo = common::Pygeoapi::start();
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let cfg = geo.write_config(root.path());
    let docs = root.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::copy(common::factbook_dir().join("fr.md"), docs.join("fr.md")).unwrap();
    common::ok(&data, &["ingest", docs.to_str().unwrap()]);
    let admin = common::add_user(&data, "analyst", "SECRET", "reader,ingester,admin");
    let low = common::add_user(&data, "visitor", "UNCLASSIFIED", "reader");
    let server = common::Server::start_with(&data, &["--config", cfg.to_str().unwrap()]);
    let summary = browse(
        &server,
        &[
            ("E2E_TOKEN_ADMIN", &admin),
            ("E2E_TOKEN_LOW", &low),
            (
                "E2E_SKIP",
                "chat,compare,documents,reports,admin,map,narrow,low",
            ),
            ("E2E_ACT", "1"),
            (
                "E2E_ACT_REQUEST",
                "Create a report titled 'Convoy sighted' at longitude 2.35 latitude 48.86",
            ),
        ],
    );
    let calls = &summary["views"]["calls"];
    assert!(
        calls["confirm"] == "executed",
        "the confirmed call ran: {summary}"
    );
    assert_eq!(calls["deny"], "denied", "{summary}");
}
