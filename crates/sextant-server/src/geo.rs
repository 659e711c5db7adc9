//! Geospatial routes: search and ask in an area (`/v1/geo/search`, `/v1/geo/ask`), live feed
//! pushes (`/v1/feeds/{feed}`) and the Cursor-on-Target TCP listener (`serve --cot-listen`).

use crate::{call, ApiError, AppState};
use axum::body::Bytes;
use axum::extract::{Extension, Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use sextant_access::Marking;
use sextant_app::{App, AskInput, FeedInput, Session};
use sextant_auth::Role;
use sextant_feeds::CotStream;
use sextant_geodata::area::AreaSpec;
use sextant_ingest::{FeedFormat, GeoData};
use sextant_spatial::Area;
use sextant_types::Geometry;
use std::sync::Arc;
use tokio::io::AsyncReadExt;
use utoipa::ToSchema;

/// The gazetteer and country polygons, when installed (`[geo] data_dir`).
#[derive(Clone, Default)]
pub struct Geo(pub Option<Arc<GeoData>>);

impl std::fmt::Debug for Geo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(g) => write!(f, "Geo({} countries)", g.countries().len()),
            None => write!(f, "Geo(not installed)"),
        }
    }
}

/// An area as a JSON body gives it, resolved (country names need the gazetteer).
fn resolve_area(app: &App, area: &serde_json::Value) -> sextant_app::Result<Area> {
    let spec = AreaSpec::from_json(area).map_err(sextant_app::AppError::BadRequest)?;
    spec.resolve(app.options.geo.as_deref())
        .map_err(|e| sextant_app::AppError::BadRequest(format!("area: {e}")))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GeoSearchBody {
    /// What to look for; empty lists what lies in the area (nearest first for `near`).
    #[serde(default)]
    pub query: String,
    /// `{"bbox": [minlon, minlat, maxlon, maxlat]}`, `{"near": {"lat", "lon", "km"}}`,
    /// `{"country": "FR"}`, or a GeoJSON Polygon / MultiPolygon.
    #[schema(value_type = Object)]
    pub area: serde_json::Value,
    pub k: Option<usize>,
    pub mode: Option<crate::wire::WireMode>,
}

/// A GeoJSON FeatureCollection of hits; `marking` (a foreign member) is the banner of all of it.
#[derive(Serialize, ToSchema)]
pub struct GeoSearchResponse {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub marking: String,
    pub features: Vec<HitFeature>,
}

#[derive(Serialize, ToSchema)]
pub struct HitFeature {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[schema(value_type = Object)]
    pub geometry: Option<Geometry>,
    pub properties: crate::wire::WireHit,
}

/// Search inside an area: a GeoJSON FeatureCollection of the hits with their places.
#[utoipa::path(post, path = "/v1/geo/search", request_body = GeoSearchBody,
    responses((status = 200, body = GeoSearchResponse), (status = 400, body = crate::error::ErrorBody)))]
pub async fn geo_search(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    body: Result<Json<GeoSearchBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<GeoSearchResponse>, ApiError> {
    let Json(body) = body?;
    let found = call(&state, move |app| {
        let area = resolve_area(app, &body.area)?;
        app.search(
            &session,
            sextant_app::SearchInput {
                query: body.query,
                k: body.k,
                mode: body.mode.unwrap_or_default().into(),
                area: Some(area),
            },
        )
    })
    .await?;
    Ok(Json(GeoSearchResponse {
        kind: "FeatureCollection",
        marking: found.marking,
        features: found
            .hits
            .into_iter()
            .map(|h| {
                let w = crate::wire::WireHit::from(h);
                HitFeature {
                    kind: "Feature",
                    geometry: w.geometry.clone(),
                    properties: w,
                }
            })
            .collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GeoAskBody {
    pub question: String,
    /// The area the question is about (see `/v1/geo/search`).
    #[schema(value_type = Object)]
    pub area: serde_json::Value,
    pub model: Option<String>,
    pub k: Option<usize>,
}

/// A cited answer about an area, with `pins`: a GeoJSON FeatureCollection of the cited places
/// (citation number, title, quote and marking in each pin's properties).
#[utoipa::path(post, path = "/v1/geo/ask", request_body = GeoAskBody,
    responses((status = 200, description = "the answer, its citations and pins"),
              (status = 400, body = crate::error::ErrorBody), (status = 503, body = crate::error::ErrorBody)))]
pub async fn geo_ask(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    body: Result<Json<GeoAskBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    let geo = call(&state, move |app| {
        let mut input = AskInput::new(body.question);
        input.model = body.model;
        input.k = body.k;
        input.area = Some(resolve_area(app, &body.area)?);
        app.geo_ask(&session, input)
    })
    .await?;
    Ok(Json(geo).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct FeedQuery {
    /// Marking for records that carry none (default: the server's default marking).
    marking: Option<String>,
}

/// The feed format of a pushed body: by Content-Type, else by content.
fn pushed_format(headers: &HeaderMap, body: &[u8]) -> Result<FeedFormat, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let by_type = if ct.contains("geo+json") || ct.contains("ndjson") {
        Some(FeedFormat::GeoJson)
    } else if ct.contains("xml") {
        FeedFormat::sniff(body).or(Some(FeedFormat::Cot))
    } else {
        None
    };
    by_type.or_else(|| FeedFormat::sniff(body)).ok_or_else(|| {
        ApiError::bad_request(
            "the body is neither GeoJSON nor Cursor-on-Target XML (send Content-Type application/geo+json or application/xml)",
        )
    })
}

/// Push records into a feed: GeoJSON (Feature, FeatureCollection, newline-delimited) or
/// Cursor-on-Target events. A record whose uid is known updates in place and extends its track.
#[utoipa::path(post, path = "/v1/feeds/{feed}", params(("feed" = String, Path, description = "Feed name"), FeedQuery),
    request_body(content_type = "application/geo+json", description = "GeoJSON, or CoT XML (application/xml)"),
    responses((status = 200, description = "{feed, features, new, replaced, unchanged, failed, doc_ids}"),
              (status = 400, body = crate::error::ErrorBody)))]
pub async fn push_feed(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    UrlPath(feed): UrlPath<String>,
    Query(q): Query<FeedQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    session.require(Role::Ingester)?;
    let format = pushed_format(&headers, &body)?;
    let marking = q
        .marking
        .map(|m| {
            Marking::parse(&m).map_err(|e| ApiError::bad_request(format!("marking {m:?}: {e}")))
        })
        .transpose()?;
    let input = FeedInput {
        feed,
        format,
        bytes: body.to_vec(),
        marking,
        source: None,
    };
    let report = call(&state, move |app| app.feed_push(&session, input)).await?;
    let _ = state.wake_embedder.try_send(());
    Ok(Json(report).into_response())
}

/// Cursor-on-Target connections served at once; more are closed at accept.
pub const MAX_COT_CONNECTIONS: usize = 64;
/// Events of one CoT connection committed together at most…
const COT_BATCH_EVENTS: usize = 512;
/// …and the longest an event waits for its batch to fill.
const COT_BATCH_WAIT: std::time::Duration = std::time::Duration::from_millis(200);

/// A Cursor-on-Target TCP listener (TAK-style: a stream of `<event>` documents per
/// connection). Events go into `feed` with the server's default marking, as the local
/// administrator would ingest them; each committed batch (up to 512 events, or what 200 ms
/// brought) is audited as user `cot:<peer>`, events that cannot be read among its `failed`.
/// At most [`MAX_COT_CONNECTIONS`] connections are served at once.
pub async fn cot_listener(
    listener: tokio::net::TcpListener,
    state: AppState,
    feed: String,
    max_event: usize,
) {
    let open = Arc::new(tokio::sync::Semaphore::new(MAX_COT_CONNECTIONS));
    loop {
        let (mut sock, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "CoT listener accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "CoT connection refused: {MAX_COT_CONNECTIONS} already open");
            drop(sock);
            continue;
        };
        let state = state.clone();
        let feed = feed.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let mut stream = CotStream::new(max_event);
            let mut buf = vec![0u8; 64 * 1024];
            let mut open = true;
            while open {
                // One batch: what arrives until COT_BATCH_EVENTS events are in hand or
                // COT_BATCH_WAIT has passed since the first, so that a fast stream is committed
                // (and audited) in a few large transactions rather than one per read.
                let mut features = Vec::new();
                let mut deadline = None;
                while features.len() < COT_BATCH_EVENTS {
                    let read = match deadline {
                        None => sock.read(&mut buf).await,
                        Some(d) => match tokio::time::timeout_at(d, sock.read(&mut buf)).await {
                            Ok(r) => r,
                            Err(_) => break,
                        },
                    };
                    let n = match read {
                        Ok(0) | Err(_) => {
                            open = false;
                            break;
                        }
                        Ok(n) => n,
                    };
                    for r in stream.push(&buf[..n]) {
                        if let Err(e) = &r {
                            tracing::warn!(%peer, error = %e, "CoT event rejected");
                        }
                        features.push(r);
                    }
                    if !features.is_empty() && deadline.is_none() {
                        deadline = Some(tokio::time::Instant::now() + COT_BATCH_WAIT);
                    }
                }
                if features.is_empty() {
                    continue;
                }
                // TAK streams carry no credentials: the listener's sender acts as the local
                // administrator, named by its address (bind the listener to a trusted network).
                let source = format!("cot:{peer}");
                let session = Session::administrator(source.clone(), peer.to_string());
                let input = FeedInput {
                    feed: feed.clone(),
                    format: FeedFormat::Cot,
                    bytes: Vec::new(),
                    marking: None,
                    source: Some(source),
                };
                let r = call(&state, move |app| {
                    app.feed_records(&session, input, features)
                })
                .await;
                match r {
                    Ok(_) => {
                        let _ = state.wake_embedder.try_send(());
                    }
                    Err(e) => {
                        tracing::warn!(%peer, error = %e.message, "CoT ingest failed; closing the stream");
                        open = false;
                    }
                }
            }
        });
    }
}

/// Search and ask in an area: JSON bodies, under the JSON limit.
pub fn routes() -> axum::Router<AppState> {
    use axum::routing::post;
    axum::Router::new()
        .route("/v1/geo/search", post(geo_search))
        .route("/v1/geo/ask", post(geo_ask))
}

/// Feed pushes: the only route with the large feed body limit.
pub fn feed_routes() -> axum::Router<AppState> {
    use axum::routing::post;
    axum::Router::new().route("/v1/feeds/{feed}", post(push_feed))
}
