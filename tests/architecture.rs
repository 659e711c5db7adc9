//! Keeps the crate layering of ARCHITECTURE.md true: a crate depends only on crates of lower
//! levels, and crates of one level never depend on each other.

use std::collections::BTreeMap;

const LEVELS: &[(&str, u8)] = &[
    ("sextant-types", 0),
    ("sextant-config", 1),
    ("sextant-access", 1),
    ("sextant-audit", 1),
    ("sextant-auth", 2),
    ("sextant-models", 2),
    ("sextant-parse", 2),
    ("sextant-text", 2),
    ("sextant-vector", 2),
    ("sextant-geo", 2),
    ("sextant-store", 3),
    ("sextant-ingest", 4),
    ("sextant-retrieve", 4),
    ("sextant-assist", 5),
    ("sextant-server", 6),
    ("sextant-bench", 7),
    ("sextant", 7),
];

#[test]
fn crates_depend_only_downwards() {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let level: BTreeMap<&str, u8> = LEVELS.iter().copied().collect();
    let mut checked = 0;
    for pkg in meta["packages"].as_array().unwrap() {
        let name = pkg["name"].as_str().unwrap();
        let &lvl = level.get(name).unwrap_or_else(|| {
            panic!("crate {name} has no level in this test and ARCHITECTURE.md")
        });
        for dep in pkg["dependencies"].as_array().unwrap() {
            let dname = dep["name"].as_str().unwrap();
            if dep["kind"].as_str() == Some("dev") {
                continue;
            }
            if let Some(&dl) = level.get(dname) {
                assert!(
                    dl < lvl,
                    "{name} (level {lvl}) depends on {dname} (level {dl})"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 10);
}
