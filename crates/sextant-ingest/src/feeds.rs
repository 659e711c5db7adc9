//! Feed records: every feature of a GeoJSON, KML, GPX, CSV or Cursor-on-Target feed becomes a
//! document of one chunk — its properties rendered as searchable text, its geometry as the
//! chunk's geotag — so records are searched, filtered by area, access-checked and cited exactly
//! like documents.
//!
//! Identity: a feature with a uid is `feed:<feed>/<uid>@<marking>`, shared by every ingester
//! (a uid names one real-world thing), so a later record with the same uid at the same marking
//! (a file re-ingested, a push, a CoT event) replaces it in place; its position is appended to
//! the document's track history ([`DocumentMeta::track`]), whose line is a second geotag. The
//! marking is part of the identity so that nobody can replace — or learn of, through "replaced"
//! — a record above what they may see: one pushing at a marking may see that marking. A
//! feature without a uid is `feed:<feed>/<source>#<index>` in the ingester's namespace.
//!
//! Marking: a `classification`/`marking` property of the feature, else the policy's explicit
//! marking, else the default — the same precedence as documents' own marks.

use crate::{doc_id_for, now_secs, IngestError, IngestOptions, Outcome, Result};
use sextant_access::Marking;
use sextant_feeds::{CsvColumns, Feature, FeedFormat};
use sextant_store::{Committed, Store, Viewer};
use sextant_types::{
    Chunk, ChunkId, DocId, Document, DocumentMeta, GeoSource, GeoTag, Geometry, Portion, Portions,
    TrackPoint,
};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;

/// Positions kept per tracked record; older ones are dropped first.
pub const MAX_TRACK: usize = 5000;

/// The feed format of a file: by extension, or — for `.json` and `.xml`, which may be either
/// feeds or something else — by content.
pub fn feed_format(path: &Path) -> Option<FeedFormat> {
    if let Some(f) = FeedFormat::from_path(path) {
        return Some(f);
    }
    let ext = path.extension()?.to_string_lossy().to_ascii_lowercase();
    if ext != "json" && ext != "xml" {
        return None;
    }
    let mut head = vec![0u8; 4096];
    let n = std::io::Read::read(&mut std::fs::File::open(path).ok()?, &mut head).ok()?;
    FeedFormat::sniff(&head[..n])
}

/// The feed name of a file: the configured one, else the file stem.
pub fn feed_name(opts: &IngestOptions, path: &Path) -> String {
    opts.feed.clone().unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "feed".into())
    })
}

/// Parses a feed's bytes.
pub fn parse_feed(format: FeedFormat, bytes: &[u8], csv: &CsvColumns) -> Result<Vec<FeatureRead>> {
    sextant_feeds::read(format, bytes, csv).map_err(|e| IngestError::Feed(e.to_string()))
}

/// One feature of a feed as read: the feature, or why it could not be read (it is reported in
/// its place, numbered like the others, and the rest stand).
pub type FeatureRead = std::result::Result<Feature, sextant_feeds::FeedError>;

/// One prepared record, ready to commit (or unchanged).
pub(crate) enum Record {
    Unchanged(DocId, Marking),
    Ready(Box<(Document, Vec<Chunk>)>),
}

/// Turns features into records, in order; a feature that cannot be made into one comes back
/// as `Err((n, why))`, `n` its number in the push or file counted from 1 (the one numbering
/// of feed features everywhere: unreadable, above the pusher's access, or unmarkable alike). Updates of one uid inside the same call fold into
/// one record (the last) carrying every position in its track. `index_base` numbers
/// uid-less features (`identity#index`; `identity` is where the features came from, e.g. the
/// feed file's canonical path, while `source` is the name readers see).
#[allow(clippy::too_many_arguments)]
pub(crate) fn prepare_features(
    store: &Store,
    feed: &str,
    identity: &str,
    source: &str,
    format: FeedFormat,
    features: Vec<FeatureRead>,
    opts: &IngestOptions,
    viewer: &Viewer,
) -> Vec<std::result::Result<Record, (usize, IngestError)>> {
    let mut out: Vec<std::result::Result<Record, (usize, IngestError)>> = Vec::new();
    // doc id -> position in `out` of its pending record.
    let mut pending: HashMap<DocId, usize> = HashMap::new();
    for (i, f) in features.into_iter().enumerate() {
        let f = match f {
            Ok(f) => f,
            Err(e) => {
                out.push(Err((i, IngestError::Feed(e.to_string()))));
                continue;
            }
        };
        let marking = match feature_marking(&f) {
            Ok(Some(m)) => m,
            Ok(None) => opts
                .marking
                .explicit
                .clone()
                .unwrap_or_else(|| opts.marking.default.clone()),
            Err(e) => {
                out.push(Err((i, e)));
                continue;
            }
        };
        // Access first, before anything is looked up: a record above the pusher's access gets
        // exactly the answer it would get if no such record existed (no "unchanged", no id).
        if !viewer.may_see(&marking.banner()) {
            out.push(Err((i, IngestError::AboveAccess(marking.banner()))));
            continue;
        }
        // A uid names the same real-world thing for everyone who reports it, so tracked records
        // are shared by all ingesters — at one marking: whoever may push a record at that
        // marking may see it, so "replaced" never tells anyone about a record above them.
        let (origin, owner) = match &f.uid {
            Some(uid) => (format!("feed:{feed}/{uid}@{}", marking.banner()), None),
            None => (
                opts.origin(&format!("feed:{feed}/{identity}#{i}")),
                opts.namespace.clone(),
            ),
        };
        let doc_id = doc_id_for(&origin);
        let hash = feature_hash(&f, opts);
        // The track so far: of this batch's pending record, else of the stored one (one read,
        // which also tells whether the record is unchanged).
        let previous: Option<Vec<TrackPoint>> = match pending.get(&doc_id) {
            Some(&at) => match &out[at] {
                Ok(Record::Ready(r)) => Some(r.0.meta.track.clone()),
                _ => None,
            },
            None => match store.document_meta(&doc_id, &Viewer::Unrestricted) {
                Ok(Some(meta)) if meta.content_hash == hash => {
                    out.push(Ok(Record::Unchanged(doc_id, marking)));
                    continue;
                }
                Ok(m) => m.map(|m| m.track),
                Err(e) => {
                    out.push(Err((i, e.into())));
                    continue;
                }
            },
        };
        let record = record(&doc_id, feed, source, format, f, previous, hash, marking)
            .map(|(mut doc, chunks)| {
                doc.meta.owner = owner;
                Record::Ready(Box::new((doc, chunks)))
            })
            .map_err(|e| (i, e));
        match pending.get(&doc_id) {
            Some(&at) if record.is_ok() => out[at] = record,
            _ => {
                if record.is_ok() {
                    pending.insert(doc_id, out.len());
                }
                out.push(record);
            }
        }
    }
    // Numbered from 1 for people (the index above also names uid-less records: unchanged).
    out.into_iter()
        .map(|r| r.map_err(|(i, e)| (i + 1, e)))
        .collect()
}

/// What decides whether a re-ingested record changed: everything it shows and its marking policy.
fn feature_hash(f: &Feature, opts: &IngestOptions) -> String {
    let mut h = Sha256::new();
    h.update(f.text().as_bytes());
    h.update(b"\0geometry:");
    h.update(
        serde_json::to_string(&f.geometry)
            .unwrap_or_default()
            .as_bytes(),
    );
    h.update(b"\0explicit:");
    if let Some(m) = &opts.marking.explicit {
        h.update(m.banner().as_bytes());
    }
    h.update(b"\0default:");
    h.update(opts.marking.default.banner().as_bytes());
    hex::encode(h.finalize())
}

/// The marking a feature carries in its properties, if any.
fn feature_marking(f: &Feature) -> Result<Option<Marking>> {
    for (k, v) in &f.properties {
        let k = k.to_ascii_lowercase();
        if k == "classification" || k == "marking" {
            return Marking::parse(v)
                .map(Some)
                .map_err(|e| IngestError::Marking(format!("property {k} = {v:?}: {e}")));
        }
    }
    Ok(None)
}

#[allow(clippy::too_many_arguments)]
fn record(
    doc_id: &DocId,
    feed: &str,
    source: &str,
    format: FeedFormat,
    f: Feature,
    previous: Option<Vec<TrackPoint>>,
    hash: String,
    marking: Marking,
) -> Result<(Document, Vec<Chunk>)> {
    let banner = marking.banner();
    let title = f
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .or_else(|| f.uid.clone())
        .unwrap_or_else(|| format!("{feed} record"));
    let mut track = previous.unwrap_or_default();
    if let Geometry::Point(p) = f.geometry {
        if f.uid.is_some() {
            track.push(TrackPoint {
                time: f.time.clone(),
                position: p,
            });
            // Oldest first; records without a time keep their arrival order.
            track.sort_by(|a, b| match (&a.time, &b.time) {
                (Some(x), Some(y)) => x.cmp(y),
                _ => std::cmp::Ordering::Equal,
            });
            track.dedup_by(|a, b| a.time == b.time && a.position == b.position);
            if track.len() > MAX_TRACK {
                track.drain(..track.len() - MAX_TRACK);
            }
        }
    }
    let mut text = f.text();
    if track.len() >= 2 {
        let first = &track[0];
        let last = &track[track.len() - 1];
        text.push_str(&format!(
            "\ntrack history: {} positions, from {} ({:.4}, {:.4}) to {} ({:.4}, {:.4})",
            track.len(),
            first.time.as_deref().unwrap_or("?"),
            first.position[1],
            first.position[0],
            last.time.as_deref().unwrap_or("?"),
            last.position[1],
            last.position[0],
        ));
    }
    let len = text.chars().count();
    let mut geo = vec![GeoTag {
        geometry: f.geometry.clone(),
        start: 0,
        end: len,
        name: title.clone(),
        source: GeoSource::Feature,
    }];
    if track.len() >= 2 {
        geo.push(GeoTag {
            geometry: Geometry::LineString(track.iter().map(|t| t.position).collect()),
            start: 0,
            end: len,
            name: format!("{title} (track)"),
            source: GeoSource::Feature,
        });
    }
    let meta = DocumentMeta {
        doc_id: doc_id.clone(),
        title: title.clone(),
        source: source.to_string(),
        format: format.as_str().to_string(),
        content_hash: hash,
        bytes: text.len() as u64,
        chunks: 1,
        ingested_at: now_secs(),
        marking: banner.clone(),
        feed: Some(feed.to_string()),
        track,
        owner: None,
    };
    let chunk = Chunk {
        chunk_id: ChunkId(0),
        doc_id: doc_id.clone(),
        ordinal: 0,
        title,
        source: source.to_string(),
        heading: Vec::new(),
        text: text.clone(),
        page: None,
        start: 0,
        end: len,
        marking: banner.clone(),
        portions: Portions {
            context: banner.clone(),
            spans: vec![Portion {
                start: 0,
                end: len,
                marking: banner,
            }],
        },
        geo,
    };
    Ok((Document { meta, text }, vec![chunk]))
}

/// What a push of features did.
/// A feature of a push not written, and why, in words fit for the pusher.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FeedFailure {
    /// Its number in the push, counted from 1 in document order.
    pub feature: usize,
    pub error: String,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FeedReport {
    pub feed: String,
    pub features: usize,
    pub new: usize,
    pub replaced: usize,
    pub unchanged: usize,
    /// Features not written: unreadable, unmarkable, or above the pusher's access.
    pub failed: Vec<FeedFailure>,
    /// Ids of the records written or found unchanged.
    pub doc_ids: Vec<String>,
    /// Roll-up marking of those records: the banner of this report.
    pub marking: String,
}

/// Ingests features pushed live (`POST /v1/feeds/{feed}`, a CoT stream) in one atomic commit.
pub fn ingest_features(
    store: &Store,
    feed: &str,
    source: &str,
    format: FeedFormat,
    features: Vec<FeatureRead>,
    opts: &IngestOptions,
    viewer: &Viewer,
) -> Result<FeedReport> {
    let mut report = FeedReport {
        feed: feed.to_string(),
        features: features.len(),
        ..Default::default()
    };
    let mut ready = Vec::new();
    let mut marks = Vec::new();
    for r in prepare_features(store, feed, source, source, format, features, opts, viewer) {
        match r {
            Ok(Record::Unchanged(id, m)) => {
                report.unchanged += 1;
                report.doc_ids.push(id.to_string());
                marks.push(m);
            }
            Ok(Record::Ready(b)) => {
                marks.extend(Marking::parse(&b.0.meta.marking));
                ready.push(*b)
            }
            Err((feature, e)) => report.failed.push(FeedFailure {
                feature,
                error: e.for_user(),
            }),
        }
    }
    let ids: Vec<String> = ready
        .iter()
        .map(|(d, _)| d.meta.doc_id.to_string())
        .collect();
    for c in store.commit_documents(ready)? {
        match c {
            Committed::New => report.new += 1,
            Committed::Replaced => report.replaced += 1,
        }
    }
    report.doc_ids.extend(ids);
    report.marking = Marking::rollup(&marks).banner();
    Ok(report)
}

impl Record {
    pub(crate) fn outcome(&self) -> Option<Outcome> {
        match self {
            Record::Unchanged(id, _) => Some(Outcome::Unchanged { doc_id: id.clone() }),
            Record::Ready(_) => None,
        }
    }
}
