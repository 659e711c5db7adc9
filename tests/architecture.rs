//! Keeps the crate layering of ARCHITECTURE.md true: a crate depends only on crates of lower
//! levels, and crates of one level never depend on each other.

use std::collections::{BTreeMap, BTreeSet};

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
    ("sextant-spatial", 2),
    ("sextant-feeds", 2),
    ("sextant-geodata", 3),
    ("sextant-connect", 3),
    ("sextant-store", 3),
    ("sextant-report", 3),
    ("sextant-ingest", 4),
    ("sextant-retrieve", 4),
    ("sextant-act", 4),
    ("sextant-assist", 5),
    ("sextant-app", 6),
    ("sextant-server", 7),
    ("sextant-bench", 8),
    ("sextant", 8),
];

/// `cargo metadata` of the workspace's own packages.
fn metadata() -> serde_json::Value {
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
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn crates_depend_only_downwards() {
    let meta = metadata();
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

/// Every `.rs` file under `dir`.
fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Workspace crates a source text names (`sextant_x` followed by `::`, in `use` or in a path;
/// comment lines do not count).
fn named_crates(src: &str, workspace: &BTreeMap<String, String>) -> Vec<String> {
    let code: String = src
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let src = code.as_str();
    let mut out = Vec::new();
    let bytes = src.as_bytes();
    let mut i = 0;
    while let Some(at) = src[i..].find("sextant_") {
        let start = i + at;
        let before = start.checked_sub(1).map(|b| bytes[b]);
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        let word = &src[start..end];
        let ident_start = !before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
        if ident_start && src[end..].starts_with("::") {
            if let Some(name) = workspace.get(word) {
                out.push(name.clone());
            }
        }
        i = end.max(start + 1);
    }
    out
}

/// A crate names (in `use` or a path) only the workspace crates it declares: no arrow hides
/// behind another crate's re-export. Library and binary code is checked against the normal
/// dependencies; tests, benches and examples may also use the dev-dependencies.
#[test]
fn crates_use_only_what_they_declare() {
    let meta = metadata();
    let packages = meta["packages"].as_array().unwrap();
    // `sextant_x` -> `sextant-x` for every workspace library.
    let workspace: BTreeMap<String, String> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .filter(|n| *n != "sextant")
        .map(|n| (n.replace('-', "_"), n.to_string()))
        .collect();
    let mut files_checked = 0;
    let mut wrong = Vec::new();
    for pkg in packages {
        let name = pkg["name"].as_str().unwrap();
        let root = std::path::Path::new(pkg["manifest_path"].as_str().unwrap())
            .parent()
            .unwrap()
            .to_path_buf();
        let deps = |dev: bool| -> BTreeSet<String> {
            pkg["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| dev || d["kind"].is_null())
                .map(|d| d["name"].as_str().unwrap().to_string())
                .collect()
        };
        let (normal, with_dev) = (deps(false), deps(true));
        for (dir, allowed) in [
            ("src", &normal),
            ("tests", &with_dev),
            ("benches", &with_dev),
            ("examples", &with_dev),
        ] {
            let mut files = Vec::new();
            rust_files(&root.join(dir), &mut files);
            for f in files {
                let src = std::fs::read_to_string(&f).unwrap();
                // Unit tests inside src/ may use dev-dependencies.
                let (body, tests) = match test_module_start(&src) {
                    Some(at) if dir == "src" => src.split_at(at),
                    _ => (src.as_str(), ""),
                };
                for (text, allowed) in [(body, allowed), (tests, &with_dev)] {
                    for used in named_crates(text, &workspace) {
                        if used != name && !allowed.contains(&used) {
                            wrong.push(format!("{} uses {used} without declaring it", f.display()));
                        }
                    }
                }
                files_checked += 1;
            }
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(wrong.is_empty(), "undeclared arrows:\n{}", wrong.join("\n"));
    assert!(files_checked > 100, "{files_checked}");
}

/// Where a file's test module begins: the first `#[cfg(test)]` on a `mod` (test modules sit at
/// the end; a `#[cfg(test)]` on a single item elsewhere does not end the code).
fn test_module_start(src: &str) -> Option<usize> {
    src.match_indices("#[cfg(test)]")
        .map(|(at, _)| at)
        .find(|&at| {
            let rest = src[at + "#[cfg(test)]".len()..].trim_start();
            rest.starts_with("mod ") || rest.starts_with("pub mod ")
        })
}

/// Non-blank lines of a crate's sources that are not tests: `src/**/*.rs` minus `tests.rs`
/// files and everything from a file's test module on.
fn non_test_lines(src: &std::path::Path) -> usize {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files
        .iter()
        .filter(|f| f.file_name().is_some_and(|n| n != "tests.rs"))
        .filter(|f| !f.components().any(|c| c.as_os_str() == "tests"))
        .map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            let code = &text[..test_module_start(&text).unwrap_or(text.len())];
            code.lines().filter(|l| !l.trim().is_empty()).count()
        })
        .sum()
}

/// No crate holds more than 15% of the workspace's non-test lines: a crate that big is doing
/// several jobs and should be split along them.
#[test]
fn no_crate_holds_more_than_15_percent_of_the_code() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut lines: BTreeMap<String, usize> = BTreeMap::new();
    lines.insert("sextant".into(), non_test_lines(&root.join("src")));
    for e in std::fs::read_dir(root.join("crates")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        lines.insert(name, non_test_lines(&e.path().join("src")));
    }
    let total: usize = lines.values().sum();
    let mut shares: Vec<(f64, &String)> = lines
        .iter()
        .map(|(n, l)| (100.0 * *l as f64 / total as f64, n))
        .collect();
    shares.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (share, name) in &shares {
        eprintln!("{name:20} {:6} lines {share:5.1}%", lines[*name]);
    }
    let (top, name) = shares[0];
    assert!(
        top <= 15.0,
        "{name} holds {top:.1}% of {total} non-test lines"
    );
}
