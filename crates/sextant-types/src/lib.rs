//! Vocabulary shared by every Sextant crate: ids, documents, chunks, hits and search modes. No IO.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Stable identity of a document: 16 lowercase hex digits derived from where it came from
/// (its canonical path, or the upload name), so re-ingesting the same source replaces it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DocId(String);

impl DocId {
    /// Parses a user-supplied id; `None` unless it is exactly 16 lowercase hex digits.
    pub fn parse(s: &str) -> Option<DocId> {
        let ok = s.len() == 16
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| DocId(s.to_string()))
    }

    /// Builds the id from the first 8 bytes of a digest of the document's origin.
    pub fn from_digest(digest: &[u8]) -> DocId {
        debug_assert!(digest.len() >= 8);
        let mut s = String::with_capacity(16);
        for b in &digest[..8] {
            s.push_str(&format!("{b:02x}"));
        }
        DocId(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Identity of a chunk: allocated monotonically by the store, never reused. The vector index
/// keys on it, and its order is the order in which chunks were committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ChunkId(pub u64);

impl fmt::Display for ChunkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The banner of UNCLASSIFIED, as `sextant_access::Marking::banner` writes it. Records written by
/// format 1 (before markings) read as this.
pub const UNCLASSIFIED: &str = "UNCLASSIFIED";

fn unclassified() -> String {
    UNCLASSIFIED.to_string()
}

/// One portion-marked span of a document's text (character offsets into the extracted text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Portion {
    pub start: usize,
    pub end: usize,
    /// Canonical banner of the portion's marking.
    pub marking: String,
}

/// The markings inside one chunk: `context` covers what is shown beside its text (the document
/// title and the heading path), `spans` the portions its text is made of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Portions {
    pub context: String,
    pub spans: Vec<Portion>,
}

/// A geometry as GeoJSON writes it (RFC 7946): WGS 84, `[longitude, latitude]` positions.
/// Serialises to a GeoJSON geometry object (`{"type": "Point", "coordinates": [2.35, 48.85]}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "coordinates")]
pub enum Geometry {
    Point([f64; 2]),
    MultiPoint(Vec<[f64; 2]>),
    LineString(Vec<[f64; 2]>),
    MultiLineString(Vec<Vec<[f64; 2]>>),
    /// Exterior ring first, then holes; rings closed (first position repeated last).
    Polygon(Vec<Vec<[f64; 2]>>),
    MultiPolygon(Vec<Vec<Vec<[f64; 2]>>>),
}

impl Geometry {
    /// One geometry for several places: `None` for none, the geometry itself for one, a
    /// multi-geometry for several of one kind (points, lines or polygons) and otherwise the
    /// points among them (a GeoJSON geometry cannot mix kinds outside a collection).
    pub fn of_tags(tags: &[GeoTag]) -> Option<Geometry> {
        Self::combine(tags.iter().map(|t| &t.geometry))
    }

    /// See [`Geometry::of_tags`].
    pub fn combine<'a>(geoms: impl IntoIterator<Item = &'a Geometry>) -> Option<Geometry> {
        let all: Vec<&Geometry> = geoms.into_iter().collect();
        match all.as_slice() {
            [] => return None,
            [one] => return Some((*one).clone()),
            _ => {}
        }
        let (mut points, mut lines, mut polys) = (Vec::new(), Vec::new(), Vec::new());
        for g in &all {
            match g {
                Geometry::Point(p) => points.push(*p),
                Geometry::MultiPoint(ps) => points.extend(ps.iter().copied()),
                Geometry::LineString(l) => lines.push(l.clone()),
                Geometry::MultiLineString(ls) => lines.extend(ls.iter().cloned()),
                Geometry::Polygon(p) => polys.push(p.clone()),
                Geometry::MultiPolygon(ps) => polys.extend(ps.iter().cloned()),
            }
        }
        Some(
            match (points.is_empty(), lines.is_empty(), polys.is_empty()) {
                (_, true, true) => Geometry::MultiPoint(points),
                (true, false, true) => Geometry::MultiLineString(lines),
                (true, true, false) => Geometry::MultiPolygon(polys),
                _ if !points.is_empty() => Geometry::MultiPoint(points),
                _ if !lines.is_empty() => Geometry::MultiLineString(lines),
                _ => Geometry::MultiPolygon(polys),
            },
        )
    }

    /// A representative position: the point itself, or the first position of the first part.
    pub fn anchor(&self) -> Option<[f64; 2]> {
        match self {
            Geometry::Point(p) => Some(*p),
            Geometry::MultiPoint(ps) | Geometry::LineString(ps) => ps.first().copied(),
            Geometry::MultiLineString(ls) | Geometry::Polygon(ls) => {
                ls.first().and_then(|l| l.first()).copied()
            }
            Geometry::MultiPolygon(ps) => ps
                .first()
                .and_then(|p| p.first())
                .and_then(|l| l.first())
                .copied(),
        }
    }
}

/// Where a chunk's place came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GeoSource {
    /// Coordinates written in the text (decimal, DMS, MGRS).
    Coordinates,
    /// A place name resolved with the gazetteer.
    Gazetteer,
    /// The geometry of a feed record (GeoJSON, KML, GPX, CSV, Cursor-on-Target).
    Feature,
}

/// A place a chunk refers to: its geometry and the span of the document's extracted text that
/// produced it (character offsets, like [`Chunk::start`]; for a feed record, the whole record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeoTag {
    pub geometry: Geometry,
    pub start: usize,
    pub end: usize,
    /// The place as written ("Paris", "48°51′24″N 2°21′03″E") or the record's name.
    pub name: String,
    pub source: GeoSource,
}

/// One retrievable span of a document's extracted text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    pub chunk_id: ChunkId,
    pub doc_id: DocId,
    /// Position of the chunk inside its document, from 0.
    pub ordinal: u32,
    pub title: String,
    pub source: String,
    /// Headings enclosing the chunk, outermost first.
    pub heading: Vec<String>,
    pub text: String,
    /// 1-based page for paginated formats (PDF).
    pub page: Option<u32>,
    /// Character (Unicode scalar) offsets of `text` in the document's extracted text.
    pub start: usize,
    pub end: usize,
    /// Canonical banner of the roll-up of everything the chunk shows (its portions, the title and
    /// its headings): what a reader must be cleared for to see any of it.
    pub marking: String,
    pub portions: Portions,
    /// Places the chunk refers to, in text order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub geo: Vec<GeoTag>,
}

impl Chunk {
    /// The text given to the embedder: title and heading path give a chunk its context.
    pub fn embedding_text(&self) -> String {
        let mut s = String::with_capacity(self.text.len() + 64);
        s.push_str(&self.title);
        for h in &self.heading {
            if h != &self.title {
                s.push_str(" > ");
                s.push_str(h);
            }
        }
        s.push('\n');
        s.push_str(&self.text);
        s
    }
}

/// What the store keeps about a document besides its chunks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentMeta {
    pub doc_id: DocId,
    pub title: String,
    pub source: String,
    pub format: String,
    /// sha256 of the source bytes and the marking policy applied, hex; equal hash means
    /// "unchanged, skip".
    pub content_hash: String,
    pub bytes: u64,
    pub chunks: u32,
    /// Seconds since the Unix epoch, UTC.
    pub ingested_at: u64,
    /// Canonical banner of the whole document (the roll-up of its banner and every portion).
    #[serde(default = "unclassified")]
    pub marking: String,
    /// The feed a record came from (`None` for documents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed: Option<String>,
    /// A feed record's positions over time, oldest first: every update of the same uid appends
    /// its position (the record itself shows the latest).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub track: Vec<TrackPoint>,
    /// The namespace (`user:<name>`) of whoever ingested it; `None` for the local
    /// administrator's documents and for shared feed records (a uid names one real-world
    /// thing, reported by anyone). Only the owner, or an administrator, may delete it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// One position of a tracked feed record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackPoint {
    /// RFC 3339, when the source gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// `[longitude, latitude]`.
    pub position: [f64; 2],
}

/// A document with its full extracted text (chunk offsets index into `text`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub meta: DocumentMeta,
    pub text: String,
}

/// One search result. `score` is comparable only within one result list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    pub doc_id: DocId,
    pub chunk_id: ChunkId,
    pub title: String,
    pub source: String,
    pub heading: Vec<String>,
    pub text: String,
    pub score: f32,
    pub page: Option<u32>,
    pub start: usize,
    pub end: usize,
    pub marking: String,
    pub portions: Portions,
    /// The chunk's places (see [`Chunk::geo`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub geo: Vec<GeoTag>,
    /// GeoJSON geometry of the hit's places (inside the search area, when there is one): one
    /// geometry as it is, several as a multi-geometry. Absent when the hit has no place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geometry: Option<Geometry>,
    /// Geodesic distance from the centre of a `--near` search, km.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distance_km: Option<f64>,
}

impl Hit {
    pub fn from_chunk(chunk: Chunk, score: f32) -> Hit {
        Hit {
            doc_id: chunk.doc_id,
            chunk_id: chunk.chunk_id,
            title: chunk.title,
            source: chunk.source,
            heading: chunk.heading,
            text: chunk.text,
            score,
            page: chunk.page,
            start: chunk.start,
            end: chunk.end,
            marking: chunk.marking,
            portions: chunk.portions,
            geometry: Geometry::of_tags(&chunk.geo),
            geo: chunk.geo,
            distance_km: None,
        }
    }
}

/// How a query is matched: lexical, semantic, or both fused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    Bm25,
    Dense,
    #[default]
    Hybrid,
}

impl SearchMode {
    pub const ALL: [SearchMode; 3] = [SearchMode::Bm25, SearchMode::Dense, SearchMode::Hybrid];

    pub fn as_str(self) -> &'static str {
        match self {
            SearchMode::Bm25 => "bm25",
            SearchMode::Dense => "dense",
            SearchMode::Hybrid => "hybrid",
        }
    }
}

impl std::str::FromStr for SearchMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "bm25" => Ok(SearchMode::Bm25),
            "dense" => Ok(SearchMode::Dense),
            "hybrid" => Ok(SearchMode::Hybrid),
            other => Err(format!(
                "unknown search mode {other:?}: expected bm25, dense or hybrid"
            )),
        }
    }
}

impl fmt::Display for SearchMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_id_parse() {
        assert!(DocId::parse("0123456789abcdef").is_some());
        assert!(DocId::parse("0123456789ABCDEF").is_none());
        assert!(DocId::parse("0123").is_none());
        assert!(DocId::parse("../../etc/passwd").is_none());
        assert_eq!(DocId::from_digest(&[0xab; 32]).as_str(), "abababababababab");
    }

    #[test]
    fn geometry_is_geojson() {
        let p = Geometry::Point([2.35, 48.85]);
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, r#"{"type":"Point","coordinates":[2.35,48.85]}"#);
        let back: Geometry =
            serde_json::from_str(r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}"#)
                .unwrap();
        assert!(matches!(back, Geometry::Polygon(ref r) if r[0].len() == 4));
        let l = Geometry::LineString(vec![[0.0, 0.0], [1.0, 1.0]]);
        assert_eq!(
            Geometry::combine([&p, &Geometry::Point([1.0, 2.0])]),
            Some(Geometry::MultiPoint(vec![[2.35, 48.85], [1.0, 2.0]]))
        );
        assert_eq!(Geometry::combine([&l]), Some(l.clone()));
        assert_eq!(
            Geometry::combine([&p, &l]),
            Some(Geometry::MultiPoint(vec![[2.35, 48.85]]))
        );
        assert_eq!(Geometry::combine(std::iter::empty()), None);
        assert_eq!(l.anchor(), Some([0.0, 0.0]));
    }

    #[test]
    fn mode_round_trip() {
        for m in SearchMode::ALL {
            assert_eq!(m.as_str().parse::<SearchMode>().unwrap(), m);
        }
        assert!("fuzzy".parse::<SearchMode>().is_err());
    }
}
