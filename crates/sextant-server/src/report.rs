//! Report routes: `GET /v1/report-templates`. Adapters over `sextant_app::report`.

use axum::extract::{Extension, State};
use axum::Json;
use sextant_app::Session;

use crate::error::ApiError;
use crate::{call, AppState};

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
