//! Crash safety: `kill -9` the real `sextant ingest` at random moments, reopen the store, check
//! that it opens, that every committed document is whole and searchable, that no vector points
//! at a chunk that does not exist; finally re-run the ingest and check it completes with no
//! duplicates.

mod common;

use common::*;
use rand::{Rng, SeedableRng};
use sextant_retrieve::{Retriever, SearchRequest};
use sextant_store::Store;
use sextant_types::SearchMode;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Checks the invariants of a store left by a killed process. Returns the document count.
fn check_store(data: &Path) -> usize {
    let store = Store::open_existing(data).expect("the store opens after kill -9");
    let docs = store.text().documents().unwrap();
    let live: HashSet<u64> = store.text().live_chunk_ids().unwrap().into_iter().collect();
    let mut total = 0;
    for meta in &docs {
        let chunks = store.text().chunks_of(&meta.doc_id).unwrap();
        assert_eq!(
            chunks.len() as u32,
            meta.chunks,
            "document {} is whole",
            meta.title
        );
        total += chunks.len();
    }
    assert_eq!(total, live.len(), "no chunk without its document");
    // Vectors of chunks that are gone are dropped when a writer opens the store.
    store.reconcile().unwrap();
    for k in store.vectors().keys() {
        assert!(live.contains(&k), "vector {k} points at no chunk");
    }
    // Everything committed is found by search.
    let retriever = Retriever::new(Arc::new(store), None);
    for meta in docs.iter().take(15) {
        let hits = retriever
            .search(
                &SearchRequest::new(meta.title.clone(), 20, SearchMode::Bm25),
                &sextant_store::Viewer::Unrestricted,
            )
            .unwrap();
        assert!(
            hits.iter().any(|h| h.doc_id == meta.doc_id),
            "{} is searchable",
            meta.title
        );
    }
    docs.len()
}

#[test]
fn kill_9_during_ingest_loses_nothing_committed() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    let files = factbook_sample(&docs, 16);
    let data = tmp.path().join("data");
    let seed: u64 = std::env::var("SEXTANT_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("SEXTANT_CRASH_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    // One document per commit, so that early kills land between commits of the text phase.
    let config = tmp.path().join("sextant.toml");
    std::fs::write(&config, "[ingest]\nbatch_docs = 1\n").unwrap();
    let mut kills = 0;
    let mut seen_progress = Vec::new();
    for round in 0..8 {
        let mut child = sextant()
            .args([
                "--config",
                config.to_str().unwrap(),
                "--data-dir",
                data.to_str().unwrap(),
                "ingest",
                docs.to_str().unwrap(),
                "--json",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Early rounds kill between text commits: they watch the opstamp in tantivy's meta.json,
        // which every commit (one document each here) moves and segment merges do not, and kill
        // once `grow` commits were seen. Later rounds kill after a random delay, mostly during
        // embedding. (Counting segments instead failed: merges shrink the count, and the ingest
        // ran to its end before the count grew.)
        let opstamp = |data: &Path| -> Option<u64> {
            std::fs::read(data.join("text/meta.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|v| v["opstamp"].as_u64())
        };
        let mut last_opstamp = opstamp(&data);
        let mut commits = 0;
        let grow = rng.random_range(1..6);
        let delay = Duration::from_millis(rng.random_range(1000..(2000 + 1500 * round as u64)));
        let t0 = Instant::now();
        let finished = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            let due = if round < 3 {
                let now = opstamp(&data);
                if now.is_some() && now != last_opstamp {
                    last_opstamp = now;
                    commits += 1;
                }
                commits >= grow || t0.elapsed() > Duration::from_secs(20)
            } else {
                t0.elapsed() >= delay
            };
            if due {
                break None;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        if finished.is_none() {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            kills += 1;
        }
        if data.join("manifest.json").exists() {
            seen_progress.push(check_store(&data));
        }
        if finished.is_some() {
            break;
        }
    }
    eprintln!("kills: {kills}, documents after each: {seen_progress:?}");
    assert!(kills >= 3, "the ingest was killed mid-way several times");
    assert!(
        seen_progress.iter().any(|&n| n > 0 && n < files.len()),
        "a kill landed between text commits (seed {seed}): {seen_progress:?}"
    );

    // Re-running completes the rest, with no duplicates.
    let summary = json(&data, &["ingest", docs.to_str().unwrap(), "--json"]);
    assert_eq!(summary["failed"].as_array().unwrap().len(), 0);
    assert_eq!(
        summary["new"].as_u64().unwrap() + summary["unchanged"].as_u64().unwrap(),
        files.len() as u64
    );
    assert_eq!(check_store(&data), files.len());
    let st = json(&data, &["status", "--json"]);
    assert_eq!(st["vectors_complete"], true);
    assert_eq!(st["vectors"], st["chunks"]);

    // Exactly the chunks a clean ingest of the same files produces.
    let expected: usize = files
        .iter()
        .map(|f| {
            let bytes = std::fs::read(f).unwrap();
            let origin = f.to_string_lossy();
            sextant_ingest::prepare(
                &origin,
                &origin,
                sextant_ingest::Format::Markdown,
                &bytes,
                Default::default(),
                &Default::default(),
            )
            .unwrap()
            .1
            .len()
        })
        .sum();
    assert_eq!(st["chunks"].as_u64().unwrap() as usize, expected);
}
