//! The `/map` page end to end: the real server (models, gazetteer, Natural Earth basemap) and
//! headless Chromium (Debian's, driven by playwright-core; `scripts/setup-browser.sh` installs
//! both). The browser script draws a box over France with the mouse, asks, and checks the
//! answer, citations and pins — and that document text holding markup is shown as text.

mod common;

#[test]
fn map_page_draws_a_box_asks_and_pins_the_citations() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let docs = dir.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::copy(common::factbook_dir().join("fr.md"), docs.join("fr.md")).unwrap();
    // A report whose text holds markup: if the page ever renders it as HTML, the script runs.
    std::fs::write(
        docs.join("convoy.txt"),
        "Convoy report\n\nThe convoy reached Lyon at dawn. <img src=x onerror=\"window.__xss=1\"> Its escort stayed behind in Grenoble.\n",
    )
    .unwrap();
    common::ok(&data, &["ingest", docs.to_str().unwrap()]);
    let server = common::Server::start(&data);
    let run = |question: &str| {
        let out = std::process::Command::new("node")
            .arg(common::repo().join("tests/browser/map.e2e.mjs"))
            .env("SEXTANT_URL", format!("http://{}", server.addr))
            .env("SEXTANT_TOKEN", &server.token)
            .env("E2E_BBOX", "-5,41,10,51")
            .env("E2E_QUESTION", question)
            .output()
            .expect("node runs (scripts/setup-browser.sh installs the browser test)");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "browser test failed for {question:?}:\n{stdout}\n{}",
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
        eprintln!("{question}: {summary}");
        summary
    };
    let s = run("What is the capital of France?");
    assert!(s["pins"].as_u64().unwrap() >= 1 && s["citations"].as_u64().unwrap() >= 1);
    let s = run("What did the convoy reach at dawn?");
    assert!(s["pins"].as_u64().unwrap() >= 1, "{s}");
    assert!(
        s["markup_quotes_literal"].as_u64().unwrap() >= 1,
        "the markup-holding report was cited and shown as text: {s}"
    );
}
