//! Geospatial routes: search and ask in an area (`/v1/geo/search`, `/v1/geo/ask`), live feed
//! pushes (`/v1/feeds/{feed}`) and the Cursor-on-Target TCP listener (`serve --cot-listen`).

use crate::auth::{audit, Caller};
use crate::chat::{answered, check_question};
use crate::{blocking, ApiError, AppState};
use axum::body::Bytes;
use axum::extract::{Extension, Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use sextant_access::Marking;
use sextant_assist::AskRequest;
use sextant_audit::{Event, Outcome as Audited};
use sextant_auth::Role;
use sextant_geodata::area::AreaSpec;
use sextant_geodata::feed::CotStream;
use sextant_ingest::{FeedFormat, FeedReport, GeoData, IngestOptions, MarkingPolicy};
use sextant_retrieve::SearchRequest;
use sextant_spatial::Area;
use sextant_store::Viewer;
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

fn resolve_area(state: &AppState, area: &serde_json::Value) -> Result<Area, ApiError> {
    let spec = AreaSpec::from_json(area).map_err(ApiError::bad_request)?;
    spec.resolve(state.options.geo.0.as_deref())
        .map_err(|e| ApiError::bad_request(format!("area: {e}")))
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
    Extension(caller): Extension<Caller>,
    body: Result<Json<GeoSearchBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<GeoSearchResponse>, ApiError> {
    caller.require(Role::Reader)?;
    let Json(body) = body?;
    if body.query.len() > 4096 {
        return Err(ApiError::bad_request("query is longer than 4096 bytes"));
    }
    let k = body.k.unwrap_or(state.options.default_k);
    let max = if body.query.trim().is_empty() {
        sextant_retrieve::MAX_LIST
    } else {
        sextant_retrieve::MAX_K
    };
    if k == 0 || k > max {
        return Err(ApiError::bad_request(format!(
            "k must be between 1 and {max} (listing an area: empty query) or {} (a search)",
            sextant_retrieve::MAX_K
        )));
    }
    let area = resolve_area(&state, &body.area)?;
    let query = body.query.clone();
    let mut req =
        SearchRequest::new(body.query, k, body.mode.unwrap_or_default().into()).in_area(Some(area));
    req.fusion = state.options.fusion;
    let retriever = state.retriever().clone();
    let viewer = caller.viewer.clone();
    let hits =
        blocking(move || retriever.search(&req, &viewer).map_err(ApiError::internal)).await?;
    let marking = sextant_assist::rollup(hits.iter().map(|h| h.marking.as_str()))
        .map_err(ApiError::internal)?
        .banner();
    let ev = caller
        .event("geo_search")
        .marking(&marking)
        .query(query)
        .docs(hits.iter().map(|h| h.doc_id.to_string()))
        .chunks(hits.iter().map(|h| h.chunk_id.0));
    audit(&state.audit, ev).await?;
    Ok(Json(GeoSearchResponse {
        kind: "FeatureCollection",
        marking,
        features: hits
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
    Extension(caller): Extension<Caller>,
    body: Result<Json<GeoAskBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    caller.require(Role::Reader)?;
    let Json(body) = body?;
    check_question(&body.question)?;
    let area = resolve_area(&state, &body.area)?;
    let assistant = state.assistant.clone();
    let question = body.question.clone();
    let mut req = AskRequest::new(body.question, caller.viewer.clone());
    req.model = body.model;
    req.k = body.k;
    req.area = Some(area);
    let geo = blocking(move || assistant.ask_geo(&req, |_, _| true).map_err(ApiError::from)).await?;
    audit(
        &state.audit,
        answered(caller.event("geo_ask"), &question, &geo.answer),
    )
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
    Extension(caller): Extension<Caller>,
    UrlPath(feed): UrlPath<String>,
    Query(q): Query<FeedQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(Role::Ingester)?;
    if feed.is_empty()
        || feed.len() > 128
        || !feed
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(ApiError::bad_request(
            "feed names are 1-128 characters of letters, digits, '-', '_' and '.'",
        ));
    }
    let format = pushed_format(&headers, &body)?;
    let explicit = q
        .marking
        .map(|m| {
            Marking::parse(&m).map_err(|e| ApiError::bad_request(format!("marking {m:?}: {e}")))
        })
        .transpose()?;
    let opts = IngestOptions {
        marking: MarkingPolicy {
            explicit,
            default: state.options.default_marking.clone(),
        },
        namespace: caller.namespace(),
        ..Default::default()
    };
    let features = sextant_ingest::parse_feed(format, &body, &Default::default())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let st = state.clone();
    let viewer = caller.viewer.clone();
    let name = feed.clone();
    let report = blocking(move || {
        sextant_ingest::ingest_features(
            st.store(),
            &name,
            &format!("feed:{name}"),
            format,
            features,
            &opts,
            &viewer,
        )
        .map_err(ApiError::internal)
    })
    .await?;
    audit(&state.audit, feed_event(caller.event("feed.push"), &report)).await?;
    let _ = state.wake_embedder.try_send(());
    Ok(Json(report).into_response())
}

fn feed_event(ev: Event, r: &FeedReport) -> Event {
    ev.outcome(if r.failed.is_empty() {
        Audited::Success
    } else {
        Audited::Failure
    })
    .docs(r.doc_ids.iter().cloned())
    .marking(&r.marking)
    .detail(format!(
        "feed {}: {} features, {} new, {} replaced, {} unchanged, {} failed",
        r.feed,
        r.features,
        r.new,
        r.replaced,
        r.unchanged,
        r.failed.len()
    ))
}

/// A Cursor-on-Target TCP listener (TAK-style: a stream of `<event>` documents per
/// connection). Events go into `feed` with the server's default marking, as the local
/// administrator would ingest them; each committed batch is audited as user `cot:<peer>`.
pub async fn cot_listener(
    listener: tokio::net::TcpListener,
    state: AppState,
    feed: String,
    max_event: usize,
) {
    loop {
        let (mut sock, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "CoT listener accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let state = state.clone();
        let feed = feed.clone();
        tokio::spawn(async move {
            let mut stream = CotStream::new(max_event);
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let mut features = Vec::new();
                for r in stream.push(&buf[..n]) {
                    match r {
                        Ok(f) => features.push(f),
                        Err(e) => tracing::warn!(%peer, error = %e, "CoT event rejected"),
                    }
                }
                if features.is_empty() {
                    continue;
                }
                let st = state.clone();
                let name = feed.clone();
                let source = format!("cot:{peer}");
                let src = source.clone();
                let r = blocking(move || {
                    let opts = IngestOptions {
                        marking: MarkingPolicy {
                            explicit: None,
                            default: st.options.default_marking.clone(),
                        },
                        ..Default::default()
                    };
                    sextant_ingest::ingest_features(
                        st.store(),
                        &name,
                        &src,
                        FeedFormat::Cot,
                        features,
                        &opts,
                        &Viewer::Unrestricted,
                    )
                    .map_err(ApiError::internal)
                })
                .await;
                match r {
                    Ok(report) => {
                        let ev = feed_event(Event::new(&source, "feed.cot"), &report);
                        if let Err(e) = state.audit.record(&ev) {
                            tracing::error!(error = %e, "audit write failed; closing CoT stream");
                            break;
                        }
                        let _ = state.wake_embedder.try_send(());
                    }
                    Err(e) => tracing::warn!(%peer, error = %e.message, "CoT ingest failed"),
                }
            }
        });
    }
}

/// Routes of this module (merged into the API router).
pub fn routes() -> axum::Router<AppState> {
    use axum::routing::post;
    axum::Router::new()
        .route("/v1/geo/search", post(geo_search))
        .route("/v1/geo/ask", post(geo_ask))
        .route("/v1/feeds/{feed}", post(push_feed))
}
