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
    fn mode_round_trip() {
        for m in SearchMode::ALL {
            assert_eq!(m.as_str().parse::<SearchMode>().unwrap(), m);
        }
        assert!("fuzzy".parse::<SearchMode>().is_err());
    }
}
