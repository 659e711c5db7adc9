//! Who am I, the document list, and the administrator's routes (users, system status, audit
//! chain): thin adapters over `sextant_app`, for the web app and any other client.

use axum::extract::{Extension, Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use sextant_app::{DocumentFilter, Session};
use sextant_auth::Role;
use sextant_store::Viewer;
use utoipa::{IntoParams, ToSchema};

use crate::auth::AuthMode;
use crate::error::{ApiError, ErrorCode};
use crate::{call, AppState};

/// Who the caller is, as the server sees them.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub name: String,
    /// Their level with the SCI controls and SAP programs they are read into, e.g. "TOP
    /// SECRET//SI/TK"; "UNRESTRICTED" for the local administrator of `--insecure-dev`.
    pub clearance: String,
    /// ISO 3166 trigraph (REL TO and NOFORN are decided by it); absent when unrestricted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub citizenship: Option<String>,
    pub roles: Vec<String>,
    pub admin: bool,
}

/// The caller's name, clearance and roles. Nothing here is audited beyond the request's
/// authentication: it repeats what the caller's own credential says.
#[utoipa::path(get, path = "/v1/me", responses((status = 200, body = Me), (status = 401, body = crate::error::ErrorBody)))]
pub async fn me(Extension(session): Extension<Session>) -> Json<Me> {
    let (clearance, citizenship) = match &session.viewer {
        Viewer::Cleared(a) => {
            let grants = a.grants();
            let mut c = a.level().name().to_string();
            if !grants.is_empty() {
                c.push_str("//");
                c.push_str(&grants.join("/"));
            }
            (c, Some(a.citizenship().to_string()))
        }
        Viewer::Unrestricted => ("UNRESTRICTED".to_string(), None),
    };
    Json(Me {
        clearance,
        citizenship,
        roles: session
            .roles
            .iter()
            .map(|r| r.as_str().to_string())
            .collect(),
        admin: session.is_admin(),
        name: session.name,
    })
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DocumentsQuery {
    /// Words the title or source must contain (case-insensitive).
    q: Option<String>,
    /// Level the marking must start with, e.g. "SECRET".
    marking: Option<String>,
    /// List feed records instead of documents.
    #[serde(default)]
    records: bool,
    limit: Option<usize>,
    offset: Option<usize>,
}

/// One line of the document list.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentItem {
    pub doc_id: String,
    pub title: String,
    pub source: String,
    pub format: String,
    pub marking: String,
    pub chunks: u32,
    pub bytes: u64,
    pub ingested_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feed: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentList {
    pub documents: Vec<DocumentItem>,
    /// Matches among what the caller may see.
    pub total: usize,
    /// Roll-up of the page.
    pub marking: String,
}

/// The documents the caller may see, newest first.
#[utoipa::path(get, path = "/v1/documents", params(DocumentsQuery),
    responses((status = 200, body = DocumentList), (status = 403, body = crate::error::ErrorBody)))]
pub async fn documents(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Query(q): Query<DocumentsQuery>,
) -> Result<Json<DocumentList>, ApiError> {
    let filter = DocumentFilter {
        text: q.q,
        marking: q.marking,
        records: q.records,
        limit: q.limit.unwrap_or(50),
        offset: q.offset.unwrap_or(0),
    };
    let list = call(&state, move |app| app.documents(&session, &filter)).await?;
    Ok(Json(DocumentList {
        documents: list
            .documents
            .into_iter()
            .map(|m| DocumentItem {
                doc_id: m.doc_id.to_string(),
                title: m.title,
                source: m.source,
                format: m.format,
                marking: m.marking,
                chunks: m.chunks,
                bytes: m.bytes,
                ingested_at: m.ingested_at,
                feed: m.feed,
            })
            .collect(),
        total: list.total,
        marking: list.marking,
    }))
}

/// A user as administrators see them (never a token or its hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserItem {
    pub name: String,
    pub clearance: String,
    pub sci: Vec<String>,
    pub citizenship: String,
    pub roles: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewUserBody {
    pub name: String,
    /// UNCLASSIFIED, CUI, CONFIDENTIAL, SECRET or TOP SECRET.
    pub clearance: String,
    #[serde(default)]
    pub sci: Vec<String>,
    /// ISO 3166 trigraph (default USA).
    pub citizenship: Option<String>,
    /// reader, ingester, admin (default: reader).
    #[serde(default)]
    pub roles: Vec<String>,
}

fn users_file(state: &AppState) -> Result<std::path::PathBuf, ApiError> {
    match &state.auth.mode {
        AuthMode::Users(users) => Ok(users.path().to_path_buf()),
        AuthMode::InsecureDev => Err(ApiError::new(
            ErrorCode::BadRequest,
            "this server runs with --insecure-dev and has no users file",
        )),
    }
}

/// The users (admins only).
#[utoipa::path(get, path = "/v1/users", responses((status = 200, description = "{\"users\": [UserItem]}"), (status = 403, body = crate::error::ErrorBody)))]
pub async fn users(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
) -> Result<Response, ApiError> {
    session.require(Role::Admin)?;
    let file = users_file(&state)?;
    let audit = state.audit.clone();
    let list = call(&state, move |_| {
        sextant_app::users::list_users(&audit, &session, &file)
    })
    .await?;
    let users: Vec<UserItem> = list
        .into_iter()
        .map(|u| UserItem {
            name: u.name,
            clearance: u.clearance,
            sci: u.sci,
            citizenship: u.citizenship,
            roles: u.roles.iter().map(|r| r.as_str().to_string()).collect(),
        })
        .collect();
    Ok(Json(serde_json::json!({ "users": users })).into_response())
}

/// Adds a user; the answer holds their token, shown this once (admins only).
#[utoipa::path(post, path = "/v1/users", request_body = NewUserBody,
    responses((status = 201, description = "{\"name\", \"token\"}"), (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn add_user(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    body: Result<Json<NewUserBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    session.require(Role::Admin)?;
    let Json(body) = body?;
    let file = users_file(&state)?;
    let roles = if body.roles.is_empty() {
        vec![Role::Reader]
    } else {
        body.roles
            .iter()
            .map(|r| {
                r.parse::<Role>()
                    .map_err(|e| ApiError::new(ErrorCode::BadRequest, e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    let user = sextant_auth::NewUser {
        name: body.name.clone(),
        clearance: body.clearance,
        sci: body.sci,
        citizenship: body.citizenship.unwrap_or_else(|| "USA".into()),
        roles,
        cert_sha256: Vec::new(),
    };
    let audit = state.audit.clone();
    let token = call(&state, move |_| {
        sextant_app::users::add_user(&audit, &session, &file, user)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "name": body.name, "token": token })),
    )
        .into_response())
}

/// Removes a user (admins only); 404 when there is none by that name.
#[utoipa::path(delete, path = "/v1/users/{name}", params(("name" = String, Path, description = "User name")),
    responses((status = 204, description = "Removed"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn remove_user(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    UrlPath(name): UrlPath<String>,
) -> Result<StatusCode, ApiError> {
    session.require(Role::Admin)?;
    let file = users_file(&state)?;
    let audit = state.audit.clone();
    let removed = call(&state, move |_| {
        sextant_app::users::remove_user(&audit, &session, &file, &name)
    })
    .await?;
    if removed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(ErrorCode::NotFound, "no such user"))
    }
}

/// A model the server can run.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelStatus {
    pub name: String,
    /// "generation" or "embedding".
    pub kind: &'static str,
    pub loaded: bool,
    pub default: bool,
}

/// What an administrator sees of the running system.
#[derive(Debug, Serialize, ToSchema)]
pub struct SystemStatus {
    /// Counts within the administrator's own access (a role never widens what one sees).
    pub documents: usize,
    pub chunks: usize,
    pub vectors: usize,
    pub vectors_pending: usize,
    pub vectors_complete: bool,
    pub models: Vec<ModelStatus>,
    /// Requests waiting on or running on the models now.
    pub queue_depth: usize,
    /// Requests per user per minute before 429 (null: unlimited).
    pub rate_limit_per_minute: Option<u32>,
    pub max_upload_bytes: usize,
    pub request_timeout_seconds: u64,
    pub connectors: usize,
    pub report_templates: usize,
}

/// System status (admins only).
#[utoipa::path(get, path = "/v1/status", responses((status = 200, body = SystemStatus), (status = 403, body = crate::error::ErrorBody)))]
pub async fn status(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
) -> Result<Json<SystemStatus>, ApiError> {
    session.require(Role::Admin)?;
    let s = session.clone();
    let counts = call(&state, move |app| app.status(&s)).await?;
    let connectors = {
        let s = session.clone();
        call(&state, move |app| Ok(app.connector_count(&s))).await?
    };
    let mut models: Vec<ModelStatus> = state
        .assistant
        .models()
        .into_iter()
        .map(|m| ModelStatus {
            default: m.id == state.assistant.default_model(),
            name: m.id,
            kind: "generation",
            loaded: m.ready,
        })
        .collect();
    models.push(ModelStatus {
        name: state.store().manifest().embedding_model.clone(),
        kind: "embedding",
        loaded: state.retriever().embedder().is_some(),
        default: true,
    });
    let o = &state.options;
    Ok(Json(SystemStatus {
        documents: counts.documents,
        chunks: counts.chunks,
        vectors: counts.vectors,
        vectors_pending: counts.vectors_pending,
        vectors_complete: counts.vectors_complete(),
        models,
        queue_depth: sextant_models::priority::waiting_count(),
        rate_limit_per_minute: (o.rate_limit_per_minute > 0).then_some(o.rate_limit_per_minute),
        max_upload_bytes: o.max_upload_bytes,
        request_timeout_seconds: o.request_timeout.as_secs(),
        connectors,
        report_templates: o.templates.len(),
    }))
}

/// Verifies the audit chain from its first record (admins only).
#[utoipa::path(get, path = "/v1/audit/verify", responses((status = 200, description = "{\"ok\", \"records\", \"head\", \"error\"}"), (status = 403, body = crate::error::ErrorBody)))]
pub async fn audit_verify(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
) -> Result<Response, ApiError> {
    let v = call(&state, move |app| app.audit_verify(&session)).await?;
    let body = match v {
        None => serde_json::json!({ "ok": false, "records": 0, "head": null,
            "error": "this server keeps no audit file" }),
        Some(v) => serde_json::json!({
            "ok": v.broken.is_none(),
            "records": v.records,
            "head": v.head,
            "error": v.broken.map(|b| format!("line {}: {}", b.line, b.reason)),
        }),
    };
    Ok(Json(body).into_response())
}
