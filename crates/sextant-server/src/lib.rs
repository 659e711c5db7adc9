//! The HTTP API (axum). Handlers translate wire types to library calls and back; every
//! CPU-heavy call (tantivy, candle, parsing) runs on a blocking thread, never on the runtime.
//!
//! `router(state)` is the whole API, testable with `tower::ServiceExt::oneshot`; [`serve`]
//! binds it to a socket and runs the embedding catch-up thread beside it.

pub mod account;
pub mod act;
pub mod auth;
pub mod chat;
pub mod conversations;
pub mod error;
pub mod geo;
pub mod metrics;
pub mod report;
pub mod tls;
pub mod web;
pub mod wire;

use auth::{Auth, AuthMode, Limiter};
use axum::extract::{
    DefaultBodyLimit, Extension, MatchedPath, Multipart, Path as UrlPath, Query, Request, State,
};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
pub use error::{ApiError, ErrorCode};
use sextant_access::Marking;
use sextant_app::conversations::ConversationStore;
use sextant_app::{App, Session};
use sextant_audit::AuditLog;
use sextant_auth::Role;
use sextant_ingest::ChunkConfig;
use sextant_report::store::ReportStore;
use sextant_retrieve::{Fusion, Retriever};
use sextant_store::Store;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use utoipa::OpenApi;
use wire::*;

/// Server limits and defaults.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub request_timeout: Duration,
    pub max_upload_bytes: usize,
    pub max_json_bytes: usize,
    pub default_k: usize,
    pub fusion: Fusion,
    pub chunking: ChunkConfig,
    /// Marking of uploads that carry none and name none.
    pub default_marking: Marking,
    /// Requests per user per minute before 429 (0: unlimited).
    pub rate_limit_per_minute: u32,
    /// Gazetteer and country polygons (country areas, geotagging uploads, the map's basemap).
    pub geo: geo::Geo,
    /// Report templates (`config/templates`).
    pub templates: Arc<Vec<sextant_report::Template>>,
    /// Largest body of `POST /v1/feeds/{feed}`, bytes.
    pub max_feed_bytes: usize,
    /// Largest Cursor-on-Target event on the `--cot-listen` stream, bytes.
    pub max_event_bytes: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            request_timeout: Duration::from_secs(120),
            max_upload_bytes: 64 << 20,
            max_json_bytes: 1 << 20,
            default_k: 10,
            fusion: Fusion::default(),
            chunking: ChunkConfig::default(),
            default_marking: Marking::unclassified(),
            rate_limit_per_minute: 600,
            geo: geo::Geo::default(),
            templates: Arc::default(),
            max_feed_bytes: 64 << 20,
            max_event_bytes: 1 << 20,
        }
    }
}

/// How the server authenticates, audits and (optionally) encrypts.
pub struct Security {
    pub auth: AuthMode,
    pub audit: Arc<AuditLog>,
    /// TLS (and mutual TLS) when set; plain HTTP otherwise.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// A bound Cursor-on-Target listener and the feed its events go to (`--cot-listen`).
    /// TAK streams carry no credentials: bind it to a trusted interface.
    pub cot: Option<(tokio::net::TcpListener, String)>,
    /// Connected systems (text-to-API), when configured.
    pub connect: Option<Arc<sextant_app::act::Connect>>,
}

#[derive(Clone)]
pub struct AppState {
    /// Cited answers; its retriever serves search too.
    pub assistant: Arc<sextant_assist::Assistant>,
    pub options: Arc<ServerOptions>,
    pub metrics: Arc<metrics::Metrics>,
    /// Wakes the embedding catch-up thread after an upload.
    pub wake_embedder: crossbeam_channel::Sender<()>,
    pub auth: Arc<Auth>,
    pub audit: Arc<AuditLog>,
    /// The use cases every handler calls.
    pub app: Arc<App>,
}

impl AppState {
    /// State for `assistant` with `security`'s authentication and audit log.
    pub fn new(
        assistant: Arc<sextant_assist::Assistant>,
        options: ServerOptions,
        auth: AuthMode,
        audit: Arc<AuditLog>,
        wake_embedder: crossbeam_channel::Sender<()>,
    ) -> AppState {
        let limiter = Limiter::new(options.rate_limit_per_minute);
        let app = App::new(
            assistant.clone(),
            audit.clone(),
            sextant_app::AppOptions {
                default_k: options.default_k,
                fusion: options.fusion,
                chunking: options.chunking,
                default_marking: options.default_marking.clone(),
                geo: options.geo.0.clone(),
                templates: options.templates.clone(),
            },
        );
        // Reports live beside the documents, in the data directory.
        let reports = assistant.retriever().store().dir().join("reports");
        let app = match ReportStore::open(&reports) {
            Ok(store) => app.with_reports(Arc::new(store)),
            Err(e) => {
                tracing::error!(error = %e, dir = %reports.display(), "reports are unavailable: cannot open their directory");
                app
            }
        };
        // So do conversations.
        let dir = assistant.retriever().store().dir().join("conversations");
        let app = Arc::new(match ConversationStore::open(&dir) {
            Ok(store) => app.with_conversations(Arc::new(store)),
            Err(e) => {
                tracing::error!(error = %e, dir = %dir.display(), "conversations are unavailable: cannot open their directory");
                app
            }
        });
        AppState {
            app,
            assistant,
            options: Arc::new(options),
            metrics: Arc::new(metrics::Metrics::default()),
            wake_embedder,
            auth: Arc::new(Auth {
                mode: auth,
                limiter,
            }),
            audit,
        }
    }
}

impl AppState {
    /// This state with connected systems (before it is shared).
    pub fn with_connect(mut self, connect: Arc<sextant_app::act::Connect>) -> AppState {
        let app = Arc::try_unwrap(self.app)
            .ok()
            .expect("connected systems are added before the state is shared");
        self.app = Arc::new(app.with_connect(connect));
        self
    }

    fn retriever(&self) -> &Arc<Retriever> {
        self.assistant.retriever()
    }

    fn store(&self) -> &Arc<Store> {
        self.retriever().store()
    }
}

/// Starts a use case on a blocking thread. Its model work is cancelled when the guard drops:
/// keep the guard as long as someone waits for the result.
fn spawn_use_case<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&App) -> T + Send + 'static,
) -> (
    tokio::task::JoinHandle<T>,
    sextant_models::cancel::CancelOnDrop,
) {
    let app = state.app.clone();
    let token = sextant_models::cancel::Token::new();
    let guard = token.cancel_on_drop();
    let job = tokio::task::spawn_blocking(move || {
        let _scope = sextant_models::cancel::scope(&token);
        f(&app)
    });
    (job, guard)
}

/// Runs a use case off the async runtime.
async fn call<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&App) -> sextant_app::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    // Dropped with this future (the client went away, or the request timed out): the model
    // work still queued for it is skipped and a generation stops.
    let (job, _cancel) = spawn_use_case(state, f);
    job.await
        .map_err(ApiError::internal)?
        .map_err(ApiError::from)
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Sextant",
        description = "Air-gapped retrieval: ingest documents, search them, ask cited questions."
    ),
    paths(
        upload_documents,
        get_document,
        delete_document,
        search,
        chat::ask,
        chat::chat,
        chat::compare,
        chat::chat_completions,
        chat::models,
        healthz,
        readyz,
        metrics_text,
        audit_tail,
        account::me,
        account::documents,
        account::users,
        account::add_user,
        account::remove_user,
        account::status,
        account::audit_verify,
        conversations::list,
        conversations::create,
        conversations::get,
        conversations::rename,
        conversations::delete,
        geo::geo_search,
        geo::geo_ask,
        geo::push_feed,
        act::act,
        act::calls,
        act::call_get,
        act::confirm,
        act::deny,
        report::templates,
        report::generate,
        report::list,
        report::show,
        report::refine,
        report::refresh,
        report::diff,
        report::export
    ),
    components(schemas(
        geo::GeoSearchBody,
        geo::GeoSearchResponse,
        geo::HitFeature,
        geo::GeoAskBody,
        act::ActBody,
        account::Me,
        account::DocumentItem,
        account::DocumentList,
        account::NewUserBody,
        account::ModelStatus,
        account::SystemStatus,
        conversations::ConversationBody,
        act::ConfirmBody,
        report::NewReportBody,
        report::RefineBody,
        SearchRequestBody,
        SearchResponse,
        WireHit,
        WireMode,
        DocumentBody,
        UploadResponse,
        UploadResult,
        UploadStatus,
        ReadyResponse,
        chat::AskBody,
        chat::ChatBody,
        chat::CompareBody,
        chat::CompletionBody,
        chat::WireMessage,
        error::ErrorBody,
        error::ErrorDetail,
        ErrorCode
    )),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

/// Declares the bearer-token scheme every route but `/healthz` and `/openapi.json` requires.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "API token from `sextant users add` (or a mutual-TLS client certificate)",
                    ))
                    .build(),
            ),
        );
    }
}

/// The OpenAPI document, pretty-printed, as served at `/openapi.json`.
pub fn openapi_json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serialises")
}

pub fn router(state: AppState) -> Router {
    let opts = state.options.clone();
    let upload = Router::new()
        .route(
            "/v1/documents",
            post(upload_documents).get(account::documents),
        )
        .layer(DefaultBodyLimit::max(opts.max_upload_bytes));
    let feeds = geo::feed_routes().layer(DefaultBodyLimit::max(opts.max_feed_bytes));
    let basemap = opts.geo.0.as_ref().map(|g| Arc::new(g.basemap_geojson()));
    let web = web::routes(web::WebAssets::locate(), basemap);
    let api = Router::new()
        .route(
            "/v1/documents/{id}",
            get(get_document).delete(delete_document),
        )
        .route("/v1/search", post(search))
        .route("/v1/ask", post(chat::ask))
        .route("/v1/chat", post(chat::chat))
        .route("/v1/compare", post(chat::compare))
        .route("/v1/chat/completions", post(chat::chat_completions))
        .route("/v1/models", get(chat::models))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/v1/audit", get(audit_tail))
        .route("/v1/audit/verify", get(account::audit_verify))
        .route("/v1/me", get(account::me))
        .route("/v1/status", get(account::status))
        .route("/v1/users", get(account::users).post(account::add_user))
        .route(
            "/v1/users/{name}",
            axum::routing::delete(account::remove_user),
        )
        .route(
            "/v1/conversations",
            get(conversations::list).post(conversations::create),
        )
        .route(
            "/v1/conversations/{id}",
            get(conversations::get)
                .patch(conversations::rename)
                .delete(conversations::delete),
        )
        .route("/v1/report-templates", get(report::templates))
        .route("/v1/reports", get(report::list).post(report::generate))
        .route("/v1/reports/{id}", get(report::show))
        .route("/v1/reports/{id}/sections/{n}", post(report::refine))
        .route("/v1/reports/{id}/refresh", post(report::refresh))
        .route("/v1/reports/{id}/diff", get(report::diff))
        .route("/v1/reports/{id}/export", get(report::export))
        .route("/v1/act", post(act::act))
        .route("/v1/calls", get(act::calls))
        .route("/v1/calls/{id}", get(act::call_get))
        .route("/v1/calls/{id}/confirm", post(act::confirm))
        .route("/v1/calls/{id}/deny", post(act::deny))
        .route("/openapi.json", get(openapi))
        .merge(geo::routes())
        .layer(DefaultBodyLimit::max(opts.max_json_bytes));
    upload
        .merge(feeds)
        .merge(api)
        .merge(web)
        .fallback(|| async { ApiError::new(ErrorCode::NotFound, "no such route") })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Counts every request and bounds its run time with a JSON 504.
async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = metrics::method_label(req.method()).to_string();
    let resp = match tokio::time::timeout(state.options.request_timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::new(ErrorCode::Timeout, "request timed out").into_response(),
    };
    state
        .metrics
        .requests
        .get_or_create(&metrics::RequestLabels {
            route,
            method,
            status: resp.status().as_u16(),
        })
        .inc();
    resp
}

/// Upload documents (multipart; every file part is one document, named by its file name).
#[utoipa::path(post, path = "/v1/documents", request_body(content_type = "multipart/form-data", description = "One or more file parts (.txt, .md, .html, .pdf, .docx)"),
    responses((status = 200, body = UploadResponse, description = "Per-file outcome; at least one succeeded"),
              (status = 422, body = UploadResponse, description = "No file could be ingested"),
              (status = 400, body = error::ErrorBody), (status = 413, body = error::ErrorBody)))]
async fn upload_documents(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, ApiError> {
    session.require(Role::Ingester)?;
    let mut multipart = multipart?;
    let mut files = Vec::new();
    let mut explicit = None;
    while let Some(field) = multipart.next_field().await? {
        let Some(name) = field.file_name().map(sanitize_name) else {
            if field.name() == Some("marking") {
                let text = field.text().await?;
                explicit = Some(
                    Marking::parse(&text)
                        .map_err(|e| ApiError::bad_request(format!("the marking field: {e}")))?,
                );
            }
            continue;
        };
        let bytes = field.bytes().await?;
        files.push(sextant_app::Upload {
            name,
            bytes: bytes.to_vec(),
        });
    }
    if files.is_empty() {
        return Err(ApiError::bad_request(
            "no file part in the upload (send multipart/form-data with a filename)",
        ));
    }
    let done = call(&state, move |app| app.upload(&session, files, explicit)).await?;
    let _ = state.wake_embedder.try_send(());
    let results: Vec<UploadResult> = done.files.into_iter().map(UploadResult::from).collect();
    let status = if results.iter().all(|r| r.status == UploadStatus::Failed) {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, Json(UploadResponse { documents: results })).into_response())
}

/// Keeps only the final path component of a client-supplied file name.
fn sanitize_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name).trim();
    if base.is_empty() || base == "." || base == ".." {
        "upload".into()
    } else {
        base.chars().filter(|c| !c.is_control()).collect()
    }
}

/// A document's metadata and extracted text.
#[utoipa::path(get, path = "/v1/documents/{id}", params(("id" = String, Path, description = "Document id")),
    responses((status = 200, body = DocumentBody), (status = 404, body = error::ErrorBody)))]
async fn get_document(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    UrlPath(raw): UrlPath<String>,
) -> Result<Json<DocumentBody>, ApiError> {
    let doc = call(&state, move |app| app.document(&session, &raw)).await?;
    Ok(Json(DocumentBody::new(doc.meta, doc.text)))
}

/// Removes a document, its chunks and vectors.
#[utoipa::path(delete, path = "/v1/documents/{id}", params(("id" = String, Path, description = "Document id")),
    responses((status = 204, description = "Deleted"), (status = 404, body = error::ErrorBody)))]
async fn delete_document(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    UrlPath(raw): UrlPath<String>,
) -> Result<StatusCode, ApiError> {
    call(&state, move |app| app.delete(&session, &raw)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Hybrid, BM25 or dense search over chunks.
#[utoipa::path(post, path = "/v1/search", request_body = SearchRequestBody,
    responses((status = 200, body = SearchResponse), (status = 400, body = error::ErrorBody)))]
async fn search(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    body: Result<Json<SearchRequestBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<SearchResponse>, ApiError> {
    let Json(body) = body?;
    let mode: sextant_types::SearchMode = body.mode.unwrap_or_default().into();
    let input = sextant_app::SearchInput {
        query: body.query,
        k: body.k,
        mode,
        area: None,
    };
    let t0 = Instant::now();
    let found = call(&state, move |app| app.search(&session, input)).await?;
    state
        .metrics
        .search_seconds
        .get_or_create(&metrics::ModeLabels {
            mode: mode.to_string(),
        })
        .observe(t0.elapsed().as_secs_f64());
    Ok(Json(SearchResponse {
        marking: found.marking,
        hits: found.hits.into_iter().map(WireHit::from).collect(),
    }))
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", security(()), responses((status = 200, description = "ok")))]
async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness, with honest counts: vectors may lag behind committed text.
#[utoipa::path(get, path = "/readyz", responses((status = 200, body = ReadyResponse), (status = 503, body = ReadyResponse)))]
async fn readyz(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
) -> Result<Response, ApiError> {
    let status = call(&state, move |app| app.status(&session)).await?;
    let ready = state.retriever().embedder().is_some();
    let body = ReadyResponse {
        ready,
        documents: status.documents,
        chunks: status.chunks,
        vectors: status.vectors,
        vectors_pending: status.vectors_pending,
        vectors_complete: status.vectors_complete(),
        embedding_model: state.store().manifest().embedding_model.clone(),
    };
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    Ok((code, Json(body)).into_response())
}

/// Prometheus metrics (text exposition format). Store-wide counts: admins only.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text format", content_type = "text/plain"), (status = 403, body = error::ErrorBody)))]
async fn metrics_text(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
) -> Result<Response, ApiError> {
    session.require(Role::Admin)?;
    // Counts are the admin's own: a role never widens what a person sees.
    let status = call(&state, move |app| app.status(&session)).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode_with(&status),
    )
        .into_response())
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
struct AuditQuery {
    /// How many of the newest records (default 100, at most 10000).
    n: Option<usize>,
}

/// The newest audit records, oldest first. Admins only; the read itself is audited.
#[utoipa::path(get, path = "/v1/audit", params(AuditQuery),
    responses((status = 200, description = "{\"records\": [...]}"), (status = 403, body = error::ErrorBody)))]
async fn audit_tail(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Query(q): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    let n = q.n.unwrap_or(100);
    let records = call(&state, move |app| app.audit_read(&session, n)).await?;
    Ok(Json(serde_json::json!({ "records": records })).into_response())
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], openapi_json()).into_response()
}

/// Embeds committed chunks in the background until `stop`: runs once at start, then whenever
/// woken (after an upload) or every few seconds (to pick up a CLI ingest beside the server).
pub fn spawn_embedder(
    retriever: Arc<Retriever>,
    wake: crossbeam_channel::Receiver<()>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("sextant-catchup".into())
        .spawn(move || {
            let Some(embedder) = retriever.embedder().cloned() else {
                return;
            };
            let store = retriever.store().clone();
            while !stop.load(Ordering::Relaxed) {
                let _ = store.refresh();
                match sextant_ingest::embed_pending(&store, &embedder, &stop) {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(vectors = n, "embeddings caught up"),
                    Err(e) => tracing::error!(error = %e, "embedding catch-up failed"),
                }
                let _ = wake.recv_timeout(Duration::from_secs(2));
            }
            if let Err(e) = store.vectors().checkpoint() {
                tracing::error!(error = %e, "vector snapshot at shutdown failed");
            }
        })
        .expect("spawning a thread")
}

/// Serves `router` on `listener` until ctrl-c / SIGTERM, with the catch-up thread beside it.
pub async fn serve(
    listener: tokio::net::TcpListener,
    assistant: Arc<sextant_assist::Assistant>,
    options: ServerOptions,
    security: Security,
) -> std::io::Result<()> {
    let (wake_tx, wake_rx) = crossbeam_channel::bounded(1);
    let stop = Arc::new(AtomicBool::new(false));
    let catchup = spawn_embedder(assistant.retriever().clone(), wake_rx, stop.clone());
    let max_event = options.max_event_bytes;
    let mut state = AppState::new(assistant, options, security.auth, security.audit, wake_tx);
    if let Some(c) = security.connect {
        state = state.with_connect(c);
    }
    if let Some((listener, feed)) = security.cot {
        tokio::spawn(geo::cot_listener(listener, state.clone(), feed, max_event));
    }
    let app = router(state);
    let result = match security.tls {
        Some(tls) => tls::serve_tls(listener, app, tls, shutdown_signal()).await,
        None => {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown_signal())
            .await
        }
    };
    stop.store(true, Ordering::Relaxed);
    let _ = tokio::task::spawn_blocking(move || catchup.join()).await;
    result
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
