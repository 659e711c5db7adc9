//! Text-to-API routes: `POST /v1/act`, `GET /v1/calls`, `GET /v1/calls/{id}`,
//! `POST /v1/calls/{id}/confirm`, `POST /v1/calls/{id}/deny`. Adapters over
//! `sextant_app::act`: parse, call, render.

use axum::extract::{Extension, Path as UrlPath, State};
use axum::Json;
use serde::Deserialize;
use sextant_app::act::{ActInput, Acted, CallView};
use sextant_app::Session;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorCode};
use crate::{call, AppState};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActBody {
    pub request: String,
    /// Only these connectors (all the caller may use when absent).
    #[serde(default)]
    pub connectors: Vec<String>,
    #[serde(default)]
    pub model: Option<String>,
}

/// A request to the connected systems: `{"status","calls","answer","citations","marking"}`.
#[utoipa::path(post, path = "/v1/act", request_body = ActBody,
    responses((status = 200, description = "status (executed, pending, no_call or refused), calls, the relayed answer with api citations, marking"),
              (status = 400, body = crate::error::ErrorBody)))]
pub async fn act(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    body: Result<Json<ActBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Acted>, ApiError> {
    let Json(b) = body?;
    let input = ActInput {
        request: b.request,
        connectors: b.connectors,
        model: b.model,
    };
    Ok(Json(
        call(&state, move |app| app.act(&session, &input)).await?,
    ))
}

/// The caller's calls, newest first.
#[utoipa::path(get, path = "/v1/calls", responses((status = 200, description = "{\"calls\": [...]}")))]
pub async fn calls(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let list = call(&state, move |app| app.calls(&session)).await?;
    Ok(Json(serde_json::json!({ "calls": list })))
}

/// One of the caller's calls (anyone else's is not found).
#[utoipa::path(get, path = "/v1/calls/{id}", params(("id" = String, Path, description = "call id")),
    responses((status = 200, description = "the call"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn call_get(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<CallView>, ApiError> {
    Ok(Json(
        call(&state, move |app| app.call_get(&session, &id)).await?,
    ))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmBody {
    /// The request the call came from, to choose what of the result to relay.
    #[serde(default)]
    pub request: String,
}

/// Runs the caller's pending call and relays its result.
#[utoipa::path(post, path = "/v1/calls/{id}/confirm", params(("id" = String, Path, description = "call id")),
    request_body(content = Option<ConfirmBody>, description = "optional: the request, to relay the relevant part"),
    responses((status = 200, description = "the executed call and its relayed answer"), (status = 400, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)))]
pub async fn confirm(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    UrlPath(id): UrlPath<String>,
    body: axum::body::Bytes,
) -> Result<Json<Acted>, ApiError> {
    // The body is optional: none, or `{"request": …}`.
    let request = if body.iter().all(u8::is_ascii_whitespace) {
        String::new()
    } else {
        serde_json::from_slice::<ConfirmBody>(&body)
            .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("invalid JSON body: {e}")))?
            .request
    };
    Ok(Json(
        call(&state, move |app| app.confirm(&session, &id, &request)).await?,
    ))
}

/// Denies the caller's pending call: it will never run.
#[utoipa::path(post, path = "/v1/calls/{id}/deny", params(("id" = String, Path, description = "call id")),
    responses((status = 200, description = "the denied call"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn deny(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<CallView>, ApiError> {
    Ok(Json(
        call(&state, move |app| app.deny(&session, &id)).await?,
    ))
}
