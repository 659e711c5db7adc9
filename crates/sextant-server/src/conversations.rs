//! `/v1/conversations`: a person's chats, kept on the server (see
//! `sextant_app::conversations`). `POST /v1/chat` with `"conversation": ID` appends the turn.

use axum::extract::{Extension, Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use sextant_app::Session;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::{call, AppState};

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ConversationBody {
    /// The title (default "New conversation": the first question then names it).
    pub title: Option<String>,
}

/// The caller's conversations, most recently active first.
#[utoipa::path(operation_id = "list_conversations", get, path = "/v1/conversations",
    responses((status = 200, description = "{\"conversations\": [{id, title, created, updated, messages, marking}]}")))]
pub async fn list(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
) -> Result<Response, ApiError> {
    let list = call(&state, move |app| {
        let (store, audit) = app.conversations()?;
        store.list(audit, &session)
    })
    .await?;
    Ok(Json(serde_json::json!({ "conversations": list })).into_response())
}

/// Starts a conversation.
#[utoipa::path(operation_id = "create_conversation", post, path = "/v1/conversations", request_body = ConversationBody,
    responses((status = 201, description = "The new conversation's summary")))]
pub async fn create(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    body: Option<Json<ConversationBody>>,
) -> Result<Response, ApiError> {
    let title = body.and_then(|Json(b)| b.title);
    let c = call(&state, move |app| {
        let (store, audit) = app.conversations()?;
        store.create(audit, &session, title.as_deref())
    })
    .await?;
    Ok((StatusCode::CREATED, Json(c)).into_response())
}

/// One conversation with its messages (those the caller may see now).
#[utoipa::path(operation_id = "get_conversation", get, path = "/v1/conversations/{id}", params(("id" = String, Path, description = "Conversation id")),
    responses((status = 200, description = "{id, title, created, updated, messages: [{role, content, marking, answer, at}], marking}"),
              (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, ApiError> {
    let c = call(&state, move |app| {
        let (store, audit) = app.conversations()?;
        store.get(audit, &session, &id)
    })
    .await?;
    Ok(Json(c).into_response())
}

/// Renames a conversation.
#[utoipa::path(operation_id = "rename_conversation", patch, path = "/v1/conversations/{id}", params(("id" = String, Path, description = "Conversation id")),
    request_body = ConversationBody,
    responses((status = 200, description = "The summary"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn rename(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    UrlPath(id): UrlPath<String>,
    body: Result<Json<ConversationBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    let title = body.title.unwrap_or_default();
    let c = call(&state, move |app| {
        let (store, audit) = app.conversations()?;
        store.rename(audit, &session, &id, &title)
    })
    .await?;
    Ok(Json(c).into_response())
}

/// Deletes a conversation.
#[utoipa::path(operation_id = "delete_conversation", delete, path = "/v1/conversations/{id}", params(("id" = String, Path, description = "Conversation id")),
    responses((status = 204, description = "Deleted"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    UrlPath(id): UrlPath<String>,
) -> Result<StatusCode, ApiError> {
    call(&state, move |app| {
        let (store, audit) = app.conversations()?;
        store.delete(audit, &session, &id)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Appends a finished turn to the session's conversation `id` (off the runtime).
pub(crate) async fn append(
    state: &AppState,
    session: Session,
    id: String,
    question: String,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    let turn = sextant_app::conversations::Turn::new(question, detail);
    call(state, move |app| {
        let (store, audit) = app.conversations()?;
        store.append(audit, &session, &id, turn)
    })
    .await
}

/// `NotFound` unless `id` is one of the session's conversations.
pub(crate) async fn check(state: &AppState, session: Session, id: String) -> Result<(), ApiError> {
    call(state, move |app| {
        let (store, audit) = app.conversations()?;
        store.check(audit, &session, &id)
    })
    .await
}
