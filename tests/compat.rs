//! Every on-disk format Sextant shipped still opens: a frozen copy of a version-1 data directory
//! (`tests/data/compat/v1`, the Mongolia fixture ingested by this format's first release) is
//! opened, counted and searched in every mode; a future format is refused clearly.

mod common;

use sextant_retrieve::{Retriever, SearchRequest};
use sextant_store::Store;
use sextant_types::SearchMode;
use std::path::Path;
use std::sync::Arc;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

#[test]
fn version_1_store_opens_and_searches() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("v1");
    copy_dir(&common::repo().join("tests/data/compat/v1"), &data);
    let store = Store::open_existing(&data).expect("a v1 data directory opens");
    assert_eq!(store.manifest().format_version, 1);
    let st = store.status(&sextant_store::Viewer::Unrestricted).unwrap();
    assert_eq!(
        (st.documents, st.chunks, st.vectors, st.vectors_pending),
        (1, 7, 7, 0)
    );
    let embedder = sextant_models::load_default_embedder(&common::models_dir()).unwrap();
    let retriever = Retriever::new(Arc::new(store), Some(embedder));
    for mode in SearchMode::ALL {
        let hits = retriever
            .search(
                &SearchRequest::new("What is the capital of Mongolia?", 3, mode),
                &sextant_store::Viewer::Unrestricted,
            )
            .unwrap();
        assert!(
            hits.iter().any(|h| h.text.contains("Ulaanbaatar")),
            "{mode}: {hits:?}"
        );
    }
}

#[test]
fn unknown_format_is_refused_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("v9");
    copy_dir(&common::repo().join("tests/data/compat/v1"), &data);
    let manifest = std::fs::read_to_string(data.join("manifest.json")).unwrap();
    std::fs::write(
        data.join("manifest.json"),
        manifest.replace("\"format_version\": 1", "\"format_version\": 9"),
    )
    .unwrap();
    let err = Store::open_existing(&data)
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("format version 9 is not supported"), "{err}");
}
