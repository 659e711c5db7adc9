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
fn version_1_records_read_as_unclassified_and_the_store_is_read_only() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("v1");
    copy_dir(&common::repo().join("tests/data/compat/v1"), &data);
    let store = Store::open_existing(&data).unwrap();
    let low = sextant_store::Viewer::Cleared(
        sextant_access::Access::new(
            sextant_access::Level::Unclassified,
            Vec::<String>::new(),
            "FRA",
        )
        .unwrap(),
    );
    assert_eq!(store.status(&low).unwrap().chunks, 7);
    let retriever = Retriever::new(Arc::new(store), None);
    let hits = retriever
        .search(
            &SearchRequest::new("Ulaanbaatar", 3, SearchMode::Bm25),
            &low,
        )
        .unwrap();
    assert_eq!(hits[0].marking, "UNCLASSIFIED");
    drop(retriever);
    let m = sextant_store::read_manifest(&data).unwrap();
    let err = Store::open(&data, &m.embedding_model, m.embedding_dim)
        .err()
        .expect("refused for writing")
        .to_string();
    assert!(err.contains("read-only"), "{err}");
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

/// Format 2 (markings): a frozen copy of the Mongolia fixture and a SECRET//NOFORN document
/// with an UNCLASSIFIED portion, as this release wrote them.
#[test]
fn version_2_store_opens_with_its_markings() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("v2");
    copy_dir(&common::repo().join("tests/data/compat/v2"), &data);
    let store = Store::open_existing(&data).expect("a v2 data directory opens");
    assert_eq!(store.manifest().format_version, 2);
    // Format 3 added geotags: a v2 directory is read-only in this build, and says why.
    let m = store.manifest().clone();
    let err = Store::open(&data, &m.embedding_model, m.embedding_dim)
        .err()
        .expect("writing a v2 directory is refused")
        .to_string();
    assert!(
        err.contains("read-only") && err.contains("geotags"),
        "{err}"
    );
    assert_eq!(store.geotagged_chunks(), 0);
    let cleared = |level, citizenship: &str| {
        sextant_store::Viewer::Cleared(
            sextant_access::Access::new(level, Vec::<String>::new(), citizenship).unwrap(),
        )
    };
    use sextant_access::Level;
    let all = store.status(&sextant_store::Viewer::Unrestricted).unwrap();
    assert_eq!((all.documents, all.chunks, all.vectors_pending), (2, 8, 0));
    let low = cleared(Level::Confidential, "USA");
    assert_eq!(store.status(&low).unwrap().documents, 1);
    let embedder = sextant_models::load_default_embedder(&common::models_dir()).unwrap();
    let retriever = Retriever::new(Arc::new(store), Some(embedder));
    for mode in SearchMode::ALL {
        let q = SearchRequest::new("quarnix squadron east pier", 3, mode);
        let high = retriever
            .search(&q, &cleared(Level::Secret, "USA"))
            .unwrap();
        assert_eq!(high[0].marking, "SECRET//NOFORN", "{mode}");
        assert!(high[0].text.contains("quarnix"));
        let foreign = retriever
            .search(&q, &cleared(Level::Secret, "GBR"))
            .unwrap();
        assert!(
            foreign.iter().all(|h| !h.text.contains("quarnix")),
            "{mode}"
        );
        assert!(retriever
            .search(&q, &low)
            .unwrap()
            .iter()
            .all(|h| h.marking == "UNCLASSIFIED"));
    }
}
