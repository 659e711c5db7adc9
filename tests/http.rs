//! The HTTP API through `router(state).oneshot(request)`, on a real store and the real
//! embedding model.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use sextant_audit::AuditLog;
use sextant_retrieve::Retriever;
use sextant_server::auth::AuthMode;
use sextant_server::{router, AppState, ServerOptions};
use sextant_store::Store;
use std::sync::Arc;
use tower::ServiceExt;

struct Api {
    app: axum::Router,
    _tmp: tempfile::TempDir,
    retriever: Arc<Retriever>,
}

fn api_with(options: ServerOptions) -> Api {
    let tmp = tempfile::tempdir().unwrap();
    let embedder = sextant_models::load_default_embedder(&common::models_dir()).unwrap();
    let store = Arc::new(Store::open(tmp.path(), embedder.model_id(), embedder.dim()).unwrap());
    let retriever = Arc::new(Retriever::new(store, Some(embedder)));
    let (tx, _rx) = crossbeam_channel::bounded(1);
    let assistant = Arc::new(sextant_assist::Assistant::new(
        retriever.clone(),
        Default::default(),
        "none".into(),
        Default::default(),
    ));
    let state = AppState::new(
        assistant,
        options,
        AuthMode::InsecureDev,
        Arc::new(AuditLog::disabled()),
        tx,
    );
    Api {
        app: router(state),
        _tmp: tmp,
        retriever,
    }
}

fn api() -> Api {
    api_with(ServerOptions::default())
}

impl Api {
    async fn call(&self, req: Request<Body>) -> (StatusCode, Vec<u8>, String) {
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let ctype = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        (status, body, ctype)
    }

    async fn json(&self, req: Request<Body>) -> (StatusCode, serde_json::Value) {
        let (s, b, ctype) = self.call(req).await;
        assert!(
            ctype.starts_with("application/json"),
            "JSON content type, got {ctype:?} for {s}"
        );
        (
            s,
            serde_json::from_slice(&b)
                .unwrap_or_else(|e| panic!("invalid JSON ({e}): {}", String::from_utf8_lossy(&b))),
        )
    }

    /// Embeds pending chunks, as the server's catch-up thread does.
    fn catch_up(&self) {
        let stop = std::sync::atomic::AtomicBool::new(false);
        sextant_ingest::embed_pending(
            self.retriever.store(),
            self.retriever.embedder().unwrap(),
            &stop,
        )
        .unwrap();
    }
}

fn multipart(files: &[(&str, &[u8])]) -> Request<Body> {
    let boundary = "sextant-test-boundary";
    let mut body = Vec::new();
    for (name, bytes) in files {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Request::post("/v1/documents")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .unwrap()
}

fn search(body: serde_json::Value) -> Request<Body> {
    Request::post("/v1/search")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn assert_error(v: &serde_json::Value, code: &str) {
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    let s = v.to_string();
    assert!(
        !s.contains("/tmp") && !s.contains("panicked") && !s.contains(".rs:"),
        "no internals in errors: {s}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_get_search_delete() {
    let api = api();
    let md = std::fs::read(common::repo().join("tests/data/fixtures/mongolia.md")).unwrap();
    let docx = std::fs::read(common::repo().join("tests/data/fixtures/mongolia.docx")).unwrap();
    let (s, v) = api
        .json(multipart(&[
            ("mongolia.md", &md),
            ("sub/dir/report.docx", &docx),
            ("scan.pdf", b"%PDF-1.4 junk"),
        ]))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let docs = v["documents"].as_array().unwrap();
    assert_eq!(docs[0]["status"], "new");
    assert_eq!(docs[1]["name"], "report.docx", "client paths are stripped");
    assert_eq!(docs[2]["status"], "failed");
    assert!(docs[2]["doc_id"].is_null());
    let id = docs[0]["doc_id"].as_str().unwrap().to_string();

    // BM25 finds it at once; hybrid after vectors catch up.
    let (s, v) = api
        .json(search(
            serde_json::json!({"query": "Ulaanbaatar", "k": 3, "mode": "bm25"}),
        ))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(v["hits"][0]["text"]
        .as_str()
        .unwrap()
        .contains("Ulaanbaatar"));
    let (_, ready) = api
        .json(Request::get("/readyz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(ready["vectors_complete"], false, "{ready}");
    api.catch_up();
    let (_, ready) = api
        .json(Request::get("/readyz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(ready["vectors_complete"], true, "{ready}");
    assert_eq!(ready["documents"], 2);
    let (_, v) = api
        .json(search(
            serde_json::json!({"query": "What is the capital city of Mongolia?"}),
        ))
        .await;
    assert!(v["hits"].as_array().unwrap().len() <= 10);
    let top3: Vec<&str> = v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .take(3)
        .map(|h| h["text"].as_str().unwrap())
        .collect();
    assert!(top3.iter().any(|t| t.contains("Ulaanbaatar")), "{v}");

    // The same upload again changes nothing.
    let (_, v) = api.json(multipart(&[("mongolia.md", &md)])).await;
    assert_eq!(v["documents"][0]["status"], "unchanged");

    let (s, v) = api
        .json(
            Request::get(format!("/v1/documents/{id}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["title"], "Mongolia");
    let hit = &api
        .json(search(
            serde_json::json!({"query": "Ulaanbaatar", "mode": "bm25"}),
        ))
        .await
        .1["hits"][0];
    let text: Vec<char> = v["text"].as_str().unwrap().chars().collect();
    let span: String = text
        [hit["start"].as_u64().unwrap() as usize..hit["end"].as_u64().unwrap() as usize]
        .iter()
        .collect();
    assert_eq!(
        span,
        hit["text"].as_str().unwrap(),
        "hit offsets index the document text"
    );

    let (s, _, _) = api
        .call(
            Request::delete(format!("/v1/documents/{id}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, gone) = api
        .json(
            Request::get(format!("/v1/documents/{id}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&gone, "not_found");
    let (s, malformed) = api
        .json(
            Request::get("/v1/documents/..%2F..%2Fetc")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        (s, &malformed),
        (StatusCode::NOT_FOUND, &gone),
        "a malformed id looks exactly like a missing one"
    );
    let (s, again) = api
        .json(
            Request::delete(format!("/v1/documents/{id}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&again, "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_json_errors() {
    let api = api_with(ServerOptions {
        max_json_bytes: 2048,
        max_upload_bytes: 4096,
        ..Default::default()
    });
    let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
        (
            search(serde_json::json!({"query": "x", "k": 0})),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            search(serde_json::json!({"query": "x", "k": 100000})),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            search(serde_json::json!({"query": "x", "mode": "fuzzy"})),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            search(serde_json::json!({"q": "x"})),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            Request::post("/v1/search")
                .header("content-type", "application/json")
                .body(Body::from("{not json"))
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            Request::post("/v1/search").body(Body::from("{}")).unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            search(serde_json::json!({"query": "x".repeat(5000)})),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            multipart(&[("big.txt", &vec![b'a'; 10_000])]),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            multipart(&[("notes.exe", b"MZ")]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "",
        ),
        (
            Request::post("/v1/documents")
                .header("content-type", "text/plain")
                .body(Body::from("x"))
                .unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            Request::get("/v2/nothing").body(Body::empty()).unwrap(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (req, status, code) in cases {
        let what = format!("{} {}", req.method(), req.uri());
        let (s, v) = api.json(req).await;
        assert_eq!(s, status, "{what}: {v}");
        if code.is_empty() {
            assert_eq!(v["documents"][0]["status"], "failed", "{v}");
            assert!(v["documents"][0]["error"]
                .as_str()
                .unwrap()
                .contains("unsupported file type"));
        } else {
            assert_error(&v, code);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn health_metrics_and_openapi() {
    let api = api();
    let (s, b, _) = api
        .call(Request::get("/healthz").body(Body::empty()).unwrap())
        .await;
    assert_eq!((s, b.as_slice()), (StatusCode::OK, &b"ok\n"[..]));
    api.json(search(serde_json::json!({"query": "anything"})))
        .await;
    let (s, b, ctype) = api
        .call(Request::get("/metrics").body(Body::empty()).unwrap())
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(ctype.contains("openmetrics-text"));
    let text = String::from_utf8(b).unwrap();
    assert!(
        text.contains(
            "sextant_http_requests_total{route=\"/v1/search\",method=\"POST\",status=\"200\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains("sextant_search_duration_seconds_count{mode=\"hybrid\"} 1"));
    assert!(text.contains("sextant_store_documents 0"));
    let (s, v) = api
        .json(Request::get("/openapi.json").body(Body::empty()).unwrap())
        .await;
    assert_eq!(s, StatusCode::OK);
    for path in [
        "/v1/documents",
        "/v1/documents/{id}",
        "/v1/search",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(v["paths"][path].is_object(), "{path} documented");
    }
}

/// The served OpenAPI document equals the committed `docs/openapi.json`. After an intended API
/// change, regenerate it with `SEXTANT_BLESS=1 cargo test --test http openapi`.
#[test]
fn openapi_matches_committed_copy() {
    let path = common::repo().join("docs/openapi.json");
    let current = sextant_server::openapi_json();
    if std::env::var_os("SEXTANT_BLESS").is_some() {
        std::fs::write(&path, &current).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    // Connectors name operations by operationId (a partner Sextant's spec among them): each
    // must be unique.
    let spec: serde_json::Value = serde_json::from_str(&current).unwrap();
    let mut ids = std::collections::BTreeMap::<String, usize>::new();
    for item in spec["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            if let Some(id) = op["operationId"].as_str() {
                *ids.entry(id.to_string()).or_default() += 1;
            }
        }
    }
    let twice: Vec<&String> = ids
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| id)
        .collect();
    assert!(
        twice.is_empty(),
        "operationIds used more than once: {twice:?}"
    );
    assert!(
        committed == current,
        "the API drifted from docs/openapi.json; if intended, rerun with SEXTANT_BLESS=1"
    );
}
