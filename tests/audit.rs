//! The real binary: marked ingest, `sextant users`, `--as USER` narrowing the CLI to what that
//! user may see, and `sextant audit verify` catching a flipped byte, a deleted record and a
//! reordered one.

mod common;

use common::{json, ok, run};

#[test]
fn users_as_and_a_tamper_evident_audit_log() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let docs = tmp.path().join("docs");
    std::fs::create_dir_all(docs.join("secret")).unwrap();
    std::fs::write(
        docs.join("secret/fleet.txt"),
        "The zorblax fleet leaves the northern harbor at dawn.",
    )
    .unwrap();
    std::fs::write(
        docs.join("mixed.txt"),
        "SECRET//NOFORN\n\n(U) The northern harbor is open to visitors.\n\n(S//NF) Its east pier hosts the quarnix squadron.\n\nSECRET//NOFORN\n",
    )
    .unwrap();
    std::fs::write(docs.join("bad.txt"), "(S//NOFRN) A mistyped mark.").unwrap();
    // Unparseable marks are refused with the token named; an explicit marking overrides them.
    let out = run(&data, &["ingest", docs.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["failed"][0]["path"]
            .as_str()
            .unwrap()
            .ends_with("bad.txt"),
        true,
        "{v}"
    );
    assert!(
        v["failed"][0]["error"].as_str().unwrap().contains("NOFRN"),
        "{v}"
    );
    ok(
        &data,
        &[
            "ingest",
            docs.join("secret/fleet.txt").to_str().unwrap(),
            docs.join("bad.txt").to_str().unwrap(),
            "--marking",
            "SECRET//NOFORN",
        ],
    );

    // `users add` prints the token once, alone on the last line; only a hash is stored.
    let added = ok(
        &data,
        &[
            "users",
            "add",
            "low",
            "--clearance",
            "CONFIDENTIAL",
            "--citizenship",
            "GBR",
        ],
    );
    let token = added.lines().last().unwrap();
    assert!(token.starts_with("sxt_") && !token.contains(' '), "{added}");
    let stored = std::fs::read_to_string(data.join("users.toml")).unwrap();
    assert!(!stored.contains(token.rsplit('_').next().unwrap()));
    ok(
        &data,
        &[
            "users",
            "add",
            "high",
            "--clearance",
            "SECRET",
            "--roles",
            "reader,ingester",
        ],
    );
    let list = ok(&data, &["users", "list"]);
    assert!(
        list.contains("low") && list.contains("high") && !list.contains("sxt_"),
        "{list}"
    );
    let dup = run(&data, &["users", "add", "low", "--clearance", "SECRET"]);
    assert!(!dup.status.success());

    // --as narrows every command to the user's access, through the same code path.
    let admin = json(
        &data,
        &["search", "zorblax harbor", "--mode", "bm25", "--json"],
    );
    assert_eq!(admin["marking"], "SECRET//NOFORN");
    let low = json(
        &data,
        &[
            "--as", "low", "search", "zorblax", "--mode", "bm25", "--json",
        ],
    );
    let nonsense = json(
        &data,
        &[
            "--as", "low", "search", "qqxyzzy", "--mode", "bm25", "--json",
        ],
    );
    assert_eq!(low, nonsense);
    assert_eq!(
        low,
        serde_json::json!({"marking": "UNCLASSIFIED", "hits": []})
    );
    let low_harbor = ok(
        &data,
        &["--as", "low", "search", "harbor", "--mode", "bm25"],
    );
    assert!(
        !low_harbor.contains("zorblax") && !low_harbor.contains("quarnix"),
        "{low_harbor}"
    );
    let high = json(
        &data,
        &[
            "--as",
            "high",
            "search",
            "quarnix squadron",
            "--mode",
            "bm25",
            "--json",
        ],
    );
    assert_eq!(high["hits"].as_array().unwrap().len(), 1, "{high}");
    assert_eq!(
        json(&data, &["--as", "low", "status", "--json"])["documents"],
        0
    );
    assert_eq!(
        json(&data, &["--as", "high", "status", "--json"])["documents"],
        3
    );
    let refused = run(&data, &["--as", "low", "ingest", docs.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("ingester"));
    // User administration is the administrators' use case: a reader may neither add, remove
    // nor list users, and nothing changes.
    for args in [
        &[
            "--as",
            "low",
            "users",
            "add",
            "mallory",
            "--clearance",
            "TOP SECRET",
        ][..],
        &["--as", "low", "users", "remove", "high"],
        &["--as", "low", "users", "list"],
    ] {
        let refused = run(&data, args);
        assert!(!refused.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains("admin"),
            "{args:?}: {}",
            String::from_utf8_lossy(&refused.stderr)
        );
    }
    assert_eq!(
        ok(&data, &["users", "list"]).lines().count(),
        list.lines().count()
    );
    let unknown = run(&data, &["--as", "nobody", "search", "x"]);
    assert!(!unknown.status.success());

    // The chain verifies; then each kind of tampering is caught and the record named.
    let log = data.join("audit.jsonl");
    let out = run(&data, &["audit", "verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 8, "{text}");
    for action in ["ingest", "user.add", "search"] {
        assert!(
            text.contains(&format!("\"action\":\"{action}\"")),
            "{action}"
        );
    }
    assert!(text.contains("\"user\":\"low\""));
    let check = |name: &str, content: String, line: usize| {
        let f = tmp.path().join(name);
        std::fs::write(&f, content).unwrap();
        let out = run(&data, &["audit", "verify", f.to_str().unwrap(), "--json"]);
        assert_eq!(out.status.code(), Some(1), "{name} is detected");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["broken"]["line"], line, "{name}: {v}");
    };
    // A flipped byte inside record 3 (a letter of its user name).
    let mut flipped = lines.clone();
    let l3 = flipped[2].replacen("\"user\":\"", "\"user\":\"X", 1);
    flipped[2] = &l3;
    check("flipped.jsonl", flipped.join("\n") + "\n", 3);
    // Record 4 deleted.
    let mut deleted = lines.clone();
    deleted.remove(3);
    check("deleted.jsonl", deleted.join("\n") + "\n", 4);
    // Records 5 and 6 swapped.
    let mut swapped = lines.clone();
    swapped.swap(4, 5);
    check("swapped.jsonl", swapped.join("\n") + "\n", 5);

    assert!(ok(&data, &["users", "remove", "low"]).contains("removed"));
    assert!(!run(&data, &["--as", "low", "search", "x"]).status.success());
}
