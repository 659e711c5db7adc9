//! HTTP/JSON wire types. The CLI's `--json` output uses the same types, so the two never drift.

use serde::{Deserialize, Serialize};
use sextant_types::{DocumentMeta, Hit, SearchMode};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct WireHit {
    /// Document id (16 hex digits).
    pub doc_id: String,
    pub chunk_id: u64,
    pub title: String,
    /// Where the document came from (path or upload name).
    pub source: String,
    /// The chunk's text: exactly the document text between `start` and `end`.
    pub text: String,
    pub score: f32,
    /// 1-based page (PDF), else null.
    pub page: Option<u32>,
    /// Character offsets of the chunk in the document's extracted text.
    pub start: usize,
    pub end: usize,
    /// Banner of everything the hit shows (its portions, title and headings).
    pub marking: String,
    /// GeoJSON geometry of the hit's places (inside the search area, when there is one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub geometry: Option<sextant_types::Geometry>,
    /// Geodesic distance from the centre of a `near` search, km.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distance_km: Option<f64>,
}

impl From<Hit> for WireHit {
    fn from(h: Hit) -> Self {
        WireHit {
            doc_id: h.doc_id.to_string(),
            chunk_id: h.chunk_id.0,
            title: h.title,
            source: h.source,
            text: h.text,
            score: h.score,
            page: h.page,
            start: h.start,
            end: h.end,
            marking: h.marking,
            geometry: h.geometry,
            distance_km: h.distance_km,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct SearchResponse {
    /// Banner of the whole result set: the roll-up of the hits' markings (UNCLASSIFIED when
    /// there are none).
    pub marking: String,
    pub hits: Vec<WireHit>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum WireMode {
    Bm25,
    Dense,
    #[default]
    Hybrid,
}

impl From<WireMode> for SearchMode {
    fn from(m: WireMode) -> Self {
        match m {
            WireMode::Bm25 => SearchMode::Bm25,
            WireMode::Dense => SearchMode::Dense,
            WireMode::Hybrid => SearchMode::Hybrid,
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequestBody {
    pub query: String,
    /// Number of hits (default 10, at most 1000).
    pub k: Option<usize>,
    /// bm25, dense or hybrid (default).
    pub mode: Option<WireMode>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct DocumentBody {
    pub doc_id: String,
    pub title: String,
    pub source: String,
    pub format: String,
    pub content_hash: String,
    pub bytes: u64,
    pub chunks: u32,
    /// Seconds since the Unix epoch, UTC.
    pub ingested_at: u64,
    /// Banner of the document (the roll-up of its banner and all its portions).
    pub marking: String,
    /// The document's full extracted text (chunk offsets index into it).
    pub text: String,
    /// The feed a record came from (absent for documents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed: Option<String>,
    /// A tracked feed record's positions, oldest first: `{"time", "position": [lon, lat]}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub track: Vec<sextant_types::TrackPoint>,
}

impl DocumentBody {
    pub fn new(meta: DocumentMeta, text: String) -> Self {
        DocumentBody {
            doc_id: meta.doc_id.to_string(),
            title: meta.title,
            source: meta.source,
            format: meta.format,
            content_hash: meta.content_hash,
            bytes: meta.bytes,
            chunks: meta.chunks,
            ingested_at: meta.ingested_at,
            marking: meta.marking,
            text,
            feed: meta.feed,
            track: meta.track,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum UploadStatus {
    New,
    Replaced,
    Unchanged,
    Failed,
}

impl From<sextant_app::UploadStatus> for UploadStatus {
    fn from(s: sextant_app::UploadStatus) -> Self {
        match s {
            sextant_app::UploadStatus::New => UploadStatus::New,
            sextant_app::UploadStatus::Replaced => UploadStatus::Replaced,
            sextant_app::UploadStatus::Unchanged => UploadStatus::Unchanged,
            sextant_app::UploadStatus::Failed => UploadStatus::Failed,
        }
    }
}

impl From<sextant_app::UploadOutcome> for UploadResult {
    fn from(o: sextant_app::UploadOutcome) -> Self {
        UploadResult {
            name: o.name,
            status: o.status.into(),
            doc_id: o.doc_id,
            chunks: o.chunks,
            error: o.error,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct UploadResult {
    /// The uploaded file name.
    pub name: String,
    pub status: UploadStatus,
    /// Null when the upload failed.
    pub doc_id: Option<String>,
    pub chunks: Option<usize>,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct UploadResponse {
    pub documents: Vec<UploadResult>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct ReadyResponse {
    /// True once the store is open and the embedding model is loaded.
    pub ready: bool,
    pub documents: usize,
    pub chunks: usize,
    pub vectors: usize,
    /// Committed chunks still waiting for an embedding (BM25 already finds them).
    pub vectors_pending: usize,
    pub vectors_complete: bool,
    pub embedding_model: String,
}
