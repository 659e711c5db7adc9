//! End-to-end tests of the `sextant` CLI on real files and the real embedding model.

mod common;

use common::*;
use std::path::Path;

fn first_hit_source(data: &Path, query: &str, mode: &str) -> Option<String> {
    let v = json(
        data,
        &["search", query, "--k", "3", "--mode", mode, "--json"],
    );
    v["hits"]
        .as_array()
        .unwrap()
        .first()
        .map(|h| h["source"].as_str().unwrap().to_string())
}

#[test]
fn factbook_capital_queries_find_the_country() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    let files = factbook_sample(&docs, 24);
    let data = tmp.path().join("data");
    let summary = json(&data, &["ingest", docs.to_str().unwrap(), "--json"]);
    assert_eq!(summary["new"], 24);
    assert_eq!(summary["failed"].as_array().unwrap().len(), 0);
    let st = json(&data, &["status", "--json"]);
    assert_eq!(
        st["vectors_complete"], true,
        "ingest waits for vectors: {st}"
    );
    assert_eq!(st["vectors"], st["chunks"]);

    for mode in ["hybrid", "bm25", "dense"] {
        let mut right = 0;
        let mut wrong = Vec::new();
        for f in &files {
            let country = title_of(f);
            let q = format!("capital of {country}");
            match first_hit_source(&data, &q, mode) {
                Some(src) if src.ends_with(f.file_name().unwrap().to_str().unwrap()) => right += 1,
                other => wrong.push(format!("{country} -> {other:?}")),
            }
        }
        eprintln!("{mode}: {right}/{} first; misses: {wrong:?}", files.len());
        let floor = if mode == "dense" { 17 } else { 22 };
        assert!(
            right >= floor,
            "{mode}: only {right}/{} countries ranked first: {wrong:?}",
            files.len()
        );
    }
}

#[test]
fn search_json_has_the_documented_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let md = repo().join("tests/data/fixtures/mongolia.md");
    // --no-embed: text is searchable at once, vectors are honestly reported missing...
    ok(&data, &["ingest", "--no-embed", md.to_str().unwrap()]);
    let st = json(&data, &["status", "--json"]);
    assert_eq!(
        (st["vectors"].as_u64(), st["vectors_complete"].as_bool()),
        (Some(0), Some(false)),
        "{st}"
    );
    assert_eq!(st["vectors_pending"], st["chunks"]);
    assert!(!json(
        &data,
        &["search", "Ulaanbaatar", "--mode", "bm25", "--json"]
    )["hits"]
        .as_array()
        .unwrap()
        .is_empty());
    // ...and the next ingest (nothing changed) completes them.
    ok(&data, &["ingest", md.to_str().unwrap()]);
    assert_eq!(json(&data, &["status", "--json"])["vectors_complete"], true);
    let v = json(&data, &["search", "Ulaanbaatar", "--json"]);
    let hits = v["hits"].as_array().unwrap();
    assert!(!hits.is_empty());
    let mut keys: Vec<&str> = hits[0]
        .as_object()
        .unwrap()
        .keys()
        .map(|s| s.as_str())
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "chunk_id", "doc_id", "end", "geometry", "marking", "page", "score", "source", "start",
            "text", "title"
        ]
    );
    // The chunk names Ulaanbaatar, which the gazetteer places: its geometry is GeoJSON.
    let g = &hits[0]["geometry"];
    assert!(
        matches!(g["type"].as_str(), Some("Point" | "MultiPoint")),
        "{g}"
    );
    assert_eq!(
        hits[0]["marking"], "UNCLASSIFIED",
        "unmarked text takes the default"
    );
    assert_eq!(v["marking"], "UNCLASSIFIED", "the result set's banner");
    assert!(hits[0]["page"].is_null());
    // The offsets point at the text inside the document's extracted text.
    let text = hits[0]["text"].as_str().unwrap();
    assert!(text.contains("Ulaanbaatar"));
    let (s, e) = (
        hits[0]["start"].as_u64().unwrap(),
        hits[0]["end"].as_u64().unwrap(),
    );
    assert_eq!((e - s) as usize, text.chars().count());
    let mut top: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    top.sort();
    assert_eq!(top, ["hits", "marking"]);
}

#[test]
fn pdf_hits_carry_pages_and_offsets_into_the_document_text() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let pdf = repo().join("tests/data/fixtures/mongolia.pdf");
    ok(&data, &["ingest", pdf.to_str().unwrap()]);
    let v = json(
        &data,
        &["search", "Ulaanbaatar capital", "--mode", "bm25", "--json"],
    );
    let hit = &v["hits"][0];
    assert!(hit["page"].as_u64().unwrap() >= 1);
    assert!(hit["text"].as_str().unwrap().contains("Ulaanbaatar"));
}

#[test]
fn reingest_is_idempotent_changes_replace_and_delete_removes() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    let a = docs.join("alpha.md");
    let b = docs.join("beta.txt");
    std::fs::write(
        &a,
        "# Alpha\n\nThe zebrafish report mentions quokka habitats.\n",
    )
    .unwrap();
    std::fs::write(
        &b,
        "Beta file about narwhal migration.\n\nSecond paragraph on walrus.",
    )
    .unwrap();
    std::fs::write(docs.join("notes.bin"), [0u8, 1, 2]).unwrap();
    let data = tmp.path().join("data");
    let d = docs.to_str().unwrap();

    let first = json(&data, &["ingest", d, "--json"]);
    assert_eq!(
        (first["new"].as_u64(), first["unchanged"].as_u64()),
        (Some(2), Some(0))
    );
    assert_eq!(
        first["skipped"].as_array().unwrap().len(),
        1,
        "notes.bin is skipped"
    );
    let chunks = json(&data, &["status", "--json"])["chunks"]
        .as_u64()
        .unwrap();

    let again = json(&data, &["ingest", d, "--json"]);
    assert_eq!(
        (again["new"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(2))
    );
    assert_eq!(
        json(&data, &["status", "--json"])["chunks"]
            .as_u64()
            .unwrap(),
        chunks,
        "no duplicates"
    );

    std::fs::write(
        &a,
        "# Alpha\n\nThe report now covers axolotl ponds instead.\n",
    )
    .unwrap();
    let changed = json(&data, &["ingest", d, "--json"]);
    assert_eq!(
        (changed["replaced"].as_u64(), changed["unchanged"].as_u64()),
        (Some(1), Some(1))
    );
    let old = json(&data, &["search", "quokka", "--mode", "bm25", "--json"]);
    assert!(
        old["hits"].as_array().unwrap().is_empty(),
        "old text is gone: {old}"
    );
    let new = json(&data, &["search", "axolotl", "--json"]);
    assert!(new["hits"][0]["source"]
        .as_str()
        .unwrap()
        .ends_with("alpha.md"));
    let st = json(&data, &["status", "--json"]);
    assert_eq!(
        st["vectors"], st["chunks"],
        "replaced chunks lost their vectors: {st}"
    );

    // Delete by path, then by id.
    ok(&data, &["delete", a.to_str().unwrap()]);
    assert!(
        json(&data, &["search", "axolotl", "--mode", "bm25", "--json"])["hits"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let hit = json(&data, &["search", "narwhal", "--json"]);
    let id = hit["hits"][0]["doc_id"].as_str().unwrap().to_string();
    ok(&data, &["delete", &id]);
    let st = json(&data, &["status", "--json"]);
    assert_eq!(
        (
            st["documents"].as_u64(),
            st["chunks"].as_u64(),
            st["vectors"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );
    let missing = run(&data, &["delete", &id]);
    assert!(!missing.status.success());
}

#[test]
fn bad_files_are_reported_and_do_not_stop_the_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    let fixtures = repo().join("tests/data/fixtures");
    std::fs::copy(fixtures.join("scanned.pdf"), docs.join("scanned.pdf")).unwrap();
    std::fs::copy(fixtures.join("broken.pdf"), docs.join("broken.pdf")).unwrap();
    std::fs::write(docs.join("fake.docx"), b"this is not a zip archive").unwrap();
    std::fs::write(
        docs.join("good.md"),
        "# Good\n\nPelican counts rose in the delta.\n",
    )
    .unwrap();
    let data = tmp.path().join("data");
    let out = run(&data, &["ingest", docs.to_str().unwrap(), "--json"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "non-zero exit when a file failed"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let failed = v["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 3, "{v}");
    let scanned = failed
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("scanned.pdf"))
        .unwrap();
    assert!(
        scanned["error"]
            .as_str()
            .unwrap()
            .contains("no extractable text"),
        "{scanned}"
    );
    assert_eq!(v["new"], 1);
    let hits = json(&data, &["search", "pelican", "--json"]);
    assert!(hits["hits"][0]["source"]
        .as_str()
        .unwrap()
        .ends_with("good.md"));
    // Nothing from the failed files got in, not even empty documents.
    assert_eq!(json(&data, &["status", "--json"])["documents"], 1);
}

#[test]
fn models_list_reports_verified_models() {
    let out = sextant()
        .args(["models", "list", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let models = v["models"].as_array().unwrap();
    let ids: Vec<&str> = models.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "all-minilm-l6-v2",
            "smollm2-135m-instruct",
            "qwen2.5-coder-0.5b-instruct",
            "qwen2.5-coder-1.5b-instruct"
        ]
    );
    for m in models {
        assert_eq!(m["status"], "verified", "{m}");
    }
    // A models directory with a corrupted file says so.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("all-minilm-l6-v2");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.json"), b"{}").unwrap();
    let out = sextant()
        .env("SEXTANT_MODELS", tmp.path())
        .args(["models", "list", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["models"][0]["status"], "corrupt");
    assert_eq!(v["models"][1]["status"], "missing");
}

#[test]
fn errors_are_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(&tmp.path().join("nothing"), &["search", "x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a Sextant data directory"));
    let out = run(&tmp.path().join("d"), &["ingest", "/no/such/file.md"]);
    assert_eq!(out.status.code(), Some(2));
}
