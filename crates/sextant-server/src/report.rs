//! Report routes: `GET /v1/report-templates`, `POST /v1/reports` (SSE progress when asked),
//! `GET /v1/reports`, `GET /v1/reports/{id}`, `POST /v1/reports/{id}/sections/{n}`,
//! `POST /v1/reports/{id}/refresh`, `GET /v1/reports/{id}/diff`, `GET /v1/reports/{id}/export`.
//! Adapters over `sextant_app::report`: parse, call, render.

use std::collections::BTreeMap;

use axum::extract::{Extension, Path as UrlPath, Query, State};
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use sextant_access::Marking;
use sextant_app::report::{ExportFormat, Refinement, Refreshed, ReportInput, ReportView};
use sextant_app::Session;
use tokio::sync::mpsc;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::{call, spawn_use_case, AppState};

/// The report templates: `{"templates": [{"name", "title", "description", "params", "sections"}]}`.
#[utoipa::path(get, path = "/v1/report-templates",
    responses((status = 200, description = "{\"templates\": [...]}: name, title pattern, description, typed parameters, sections")))]
pub async fn templates(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let list = call(&state, move |app| app.report_templates(&session)).await?;
    Ok(Json(serde_json::json!({ "templates": list })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReportBody {
    pub template: String,
    /// Template parameters by name, e.g. `{"country": "Kenya"}`.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    #[serde(default)]
    pub model: Option<String>,
    /// Stream `section` events as sections complete, then a `report` event.
    #[serde(default)]
    pub stream: bool,
}

/// Generates a report. With `"stream": true`, a text/event-stream of `section` events
/// (`{"done","total","marking","section"}`) as each section completes and a final `report`
/// (or `error`) event; otherwise the report JSON.
#[utoipa::path(post, path = "/v1/reports", request_body = NewReportBody,
    responses((status = 200, description = "the report (id, template, params, owner, versions, version), or a text/event-stream of section events and a report event"),
              (status = 400, body = crate::error::ErrorBody)))]
pub async fn generate(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    body: Result<Json<NewReportBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(b) = body?;
    let input = ReportInput {
        template: b.template,
        params: b.params,
        model: b.model,
    };
    if !b.stream {
        let r = call(&state, move |app| {
            app.report_new(&session, &input, |_, _, _| true)
        })
        .await?;
        return Ok(Json(r).into_response());
    }
    let (tx, rx) = mpsc::unbounded_channel::<Event>();
    let progress = tx.clone();
    let (job, cancel) = spawn_use_case(&state, move |app| {
        app.report_new(&session, &input, |done, total, sec| {
            // Every event carries the marking of what it shows.
            let marking = sec
                .portions
                .iter()
                .filter_map(|p| Marking::parse(&p.marking).ok())
                .fold(Marking::unclassified(), |a, m| a.join(&m))
                .banner();
            let ev = Event::default()
                .event("section")
                .json_data(serde_json::json!({
                    "done": done, "total": total, "marking": marking, "section": sec,
                }));
            // A closed stream (the client went away) cancels the rest.
            ev.is_ok_and(|e| progress.send(e).is_ok())
        })
    });
    tokio::spawn(async move {
        let last = match job.await {
            Ok(Ok(r)) => Event::default().event("report").json_data(&r),
            Ok(Err(e)) => Event::default()
                .event("error")
                .json_data(ApiError::from(e).body()),
            Err(e) => Event::default()
                .event("error")
                .json_data(ApiError::internal(e).body()),
        };
        if let Ok(e) = last {
            let _ = tx.send(e);
        }
    });
    Ok(Sse::new(crate::chat::event_stream(rx, cancel))
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// The reports the caller may see: `{"reports": [{"id","template","title","version","banner","owner","created"}]}`.
#[utoipa::path(get, path = "/v1/reports", responses((status = 200, description = "{\"reports\": [...]}")))]
pub async fn list(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let list = call(&state, move |app| app.report_list(&session)).await?;
    Ok(Json(serde_json::json!({ "reports": list })))
}

#[derive(Debug, Deserialize)]
pub struct VersionQuery {
    pub version: Option<u32>,
}

/// One report: its newest version the caller may see, or `?version=N`. A report (or a
/// version) above the caller is not found, exactly like a missing one.
#[utoipa::path(get, path = "/v1/reports/{id}",
    params(("id" = String, Path, description = "report id"), ("version" = Option<u32>, Query, description = "version number")),
    responses((status = 200, description = "the report"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn show(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<VersionQuery>,
) -> Result<Json<ReportView>, ApiError> {
    Ok(Json(
        call(&state, move |app| app.report_get(&session, &id, q.version)).await?,
    ))
}

/// A refinement of one section: exactly one of `instruction`, `text` (with `marking`),
/// `remove` or `move_to`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefineBody {
    /// Regenerate the section as asked ("shorter", "focus on logistics").
    #[serde(default)]
    pub instruction: Option<String>,
    /// The author's own text; `[n]` markers cite the report's sources.
    #[serde(default)]
    pub text: Option<String>,
    /// The author's portion mark for `text`, e.g. "(S)".
    #[serde(default)]
    pub marking: Option<String>,
    #[serde(default)]
    pub remove: bool,
    /// New position of the section (from 1).
    #[serde(default)]
    pub move_to: Option<usize>,
}

impl RefineBody {
    fn refinement(self) -> Result<Refinement, ApiError> {
        match (self.instruction, self.text, self.remove, self.move_to) {
            (Some(i), None, false, None) if self.marking.is_none() => {
                Ok(Refinement::Instruction(i))
            }
            (None, Some(text), false, None) => Ok(Refinement::Text {
                text,
                marking: self.marking.ok_or_else(|| {
                    ApiError::from(sextant_app::AppError::BadRequest(
                        "text needs its portion marking (\"marking\")".into(),
                    ))
                })?,
            }),
            (None, None, true, None) => Ok(Refinement::Remove),
            (None, None, false, Some(k)) => Ok(Refinement::MoveTo(k)),
            _ => Err(sextant_app::AppError::BadRequest(
                "give exactly one of instruction, text (with marking), remove or move_to".into(),
            )
            .into()),
        }
    }
}

/// Refines section `n` (from 1): a new version.
#[utoipa::path(post, path = "/v1/reports/{id}/sections/{n}", request_body = RefineBody,
    params(("id" = String, Path, description = "report id"), ("n" = usize, Path, description = "section, from 1")),
    responses((status = 200, description = "the report at its new version"), (status = 400, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)))]
pub async fn refine(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    UrlPath((id, n)): UrlPath<(String, usize)>,
    body: Result<Json<RefineBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<ReportView>, ApiError> {
    let Json(b) = body?;
    let how = b.refinement()?;
    Ok(Json(
        call(&state, move |app| app.report_refine(&session, &id, n, how)).await?,
    ))
}

/// Re-runs each section's retrieval and rewrites only those whose evidence changed:
/// `{"report","regenerated","flagged","diff"}`.
#[utoipa::path(post, path = "/v1/reports/{id}/refresh",
    params(("id" = String, Path, description = "report id")),
    responses((status = 200, description = "the report, the sections rewritten and flagged, and the diff"),
              (status = 404, body = crate::error::ErrorBody)))]
pub async fn refresh(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Refreshed>, ApiError> {
    Ok(Json(
        call(&state, move |app| app.report_refresh(&session, &id)).await?,
    ))
}

#[derive(Debug, Deserialize)]
pub struct DiffQuery {
    pub from: u32,
    pub to: u32,
}

/// What changed between two versions, per section.
#[utoipa::path(get, path = "/v1/reports/{id}/diff",
    params(("id" = String, Path, description = "report id"), ("from" = u32, Query, description = "version"), ("to" = u32, Query, description = "version")),
    responses((status = 200, description = "sections with status and diff lines"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn diff(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<DiffQuery>,
) -> Result<Json<sextant_report::diff::Diff>, ApiError> {
    Ok(Json(
        call(&state, move |app| {
            app.report_diff(&session, &id, q.from, q.to)
        })
        .await?,
    ))
}

#[derive(Debug, Deserialize)]
pub struct ExportQuery {
    pub format: String,
    pub version: Option<u32>,
}

/// The report as a file: `format` md, html, pdf or docx.
#[utoipa::path(get, path = "/v1/reports/{id}/export",
    params(("id" = String, Path, description = "report id"), ("format" = String, Query, description = "md, html, pdf or docx"),
           ("version" = Option<u32>, Query, description = "version number")),
    responses((status = 200, description = "the file"), (status = 400, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)))]
pub async fn export(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let format: ExportFormat = q.format.parse().map_err(ApiError::from)?;
    let name = format!("report-{id}.{}", format.extension());
    let bytes = call(&state, move |app| {
        app.report_export(&session, &id, q.version, format)
    })
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}
