//! The full-text side of the store: one tantivy index holding a record per document (metadata and
//! extracted text) and a record per chunk (BM25-searchable text with its citation coordinates).
//!
//! Documents and their chunks live in the same index on purpose: one tantivy commit makes a
//! document, its chunks and the removal of its previous version visible atomically, which is what
//! the store's crash-safety rests on.

use parking_lot::Mutex;
use sextant_types::{Chunk, ChunkId, DocId, Document, DocumentMeta, GeoTag, Portion, Portions};
use std::ops::Bound;
use std::path::Path;
use tantivy::collector::{Count, DocSetCollector, TopDocs};
use tantivy::query::{
    AllQuery, Bm25StatisticsProvider, BooleanQuery, ConstScoreQuery, EmptyQuery, Occur, Query,
    QueryParser, RangeQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions, Value, FAST,
    STORED, STRING,
};
use tantivy::{
    doc, DocAddress, Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, Term,
};

#[derive(thiserror::Error, Debug)]
pub enum TextError {
    #[error("text index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("text index directory: {0}")]
    Dir(#[from] tantivy::directory::error::OpenDirectoryError),
    #[error("text index holds a malformed record: {0}")]
    Corrupt(String),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("this text index predates {0} and is read-only in this build: re-ingest into a new data directory")]
    ReadOnly(&'static str),
}

pub type Result<T> = std::result::Result<T, TextError>;

const KIND_DOC: &str = "doc";
const KIND_CHUNK: &str = "chunk";
/// Separates heading levels inside the stored heading field; a non-alphanumeric character, so
/// the tokenizer splits on it too.
const HEADING_SEP: char = '\u{1f}';
/// Memory budget of the single indexing thread. Two cores: one indexes while one embeds.
const WRITER_HEAP: usize = 64 * 1024 * 1024;

#[derive(Clone, Copy)]
struct Fields {
    kind: Field,
    doc_id: Field,
    chunk_id: Field,
    ordinal: Field,
    title: Field,
    heading: Field,
    body: Field,
    source: Field,
    page: Field,
    start: Field,
    end: Field,
    meta: Field,
    doc_text: Field,
    /// Canonical banner of the record (document roll-up or chunk roll-up); indexed for access
    /// filters, a fast field for the store's chunk -> marking table. Absent in format-1 indexes.
    marking: Option<Field>,
    /// JSON [`Portions`] of a chunk. Absent in format-1 indexes.
    portions: Option<Field>,
    /// JSON `Vec<GeoTag>` of a chunk that has places: stored for reading the chunk, and a fast
    /// field so that the store's spatial index is built without reading stored documents.
    /// Absent before format 3.
    geo: Option<Field>,
}

/// Which records a read may touch: all of them, or those whose marking is one of a set of
/// canonical banners (the store decides which markings a reader is cleared for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visible {
    All,
    Markings(Vec<String>),
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("en_stem")
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let id = NumericOptions::default()
        .set_indexed()
        .set_stored()
        .set_fast();
    let f = Fields {
        kind: b.add_text_field("kind", STRING),
        doc_id: b.add_text_field("doc_id", STRING | STORED),
        chunk_id: b.add_u64_field("chunk_id", id),
        ordinal: b.add_u64_field("ordinal", STORED),
        title: b.add_text_field("title", text.clone()),
        heading: b.add_text_field("heading", text.clone()),
        body: b.add_text_field("body", text),
        source: b.add_text_field("source", STRING | STORED),
        page: b.add_u64_field("page", STORED),
        start: b.add_u64_field("start", STORED),
        end: b.add_u64_field("end", STORED),
        meta: b.add_text_field("meta", STORED),
        doc_text: b.add_text_field("doc_text", STORED),
        marking: Some(b.add_text_field("marking", STRING | STORED | FAST)),
        portions: Some(b.add_text_field("portions", STORED)),
        geo: Some(b.add_text_field("geo", TextOptions::default().set_stored().set_fast("raw"))),
    };
    (b.build(), f)
}

/// The fields of an existing index, looked up by name so that older layouts still open.
fn fields_of(schema: &Schema) -> Result<Fields> {
    let get = |name: &str| {
        schema
            .get_field(name)
            .map_err(|_| TextError::Corrupt(format!("schema has no field {name:?}")))
    };
    Ok(Fields {
        kind: get("kind")?,
        doc_id: get("doc_id")?,
        chunk_id: get("chunk_id")?,
        ordinal: get("ordinal")?,
        title: get("title")?,
        heading: get("heading")?,
        body: get("body")?,
        source: get("source")?,
        page: get("page")?,
        start: get("start")?,
        end: get("end")?,
        meta: get("meta")?,
        doc_text: get("doc_text")?,
        marking: schema.get_field("marking").ok(),
        portions: schema.get_field("portions").ok(),
        geo: schema.get_field("geo").ok(),
    })
}

/// BM25 statistics over the records a reader may see, so that scores (and the ranking they
/// make) carry nothing about documents hidden from them: document frequencies and the record
/// count are counted inside the visibility filter. Only the average record length comes from
/// the whole index (scaled), which says nothing about any one hidden term.
struct VisibleStats<'a> {
    searcher: &'a Searcher,
    scope: Box<dyn Query>,
    num_docs: u64,
    all_docs: u64,
    /// Document frequencies already counted for this scope in this index generation.
    cache: &'a Mutex<DfCache>,
    key: (u64, u64),
}

/// Document frequencies inside a scope, per index generation: common words recur in almost every
/// query and counting them inside the filter is the expensive part of a filtered search.
#[derive(Default)]
struct DfCache {
    map: std::collections::HashMap<((u64, u64), Term), u64>,
    /// Chunks inside each scope (counting them walks every chunk in the scope).
    population: std::collections::HashMap<(u64, u64), u64>,
    /// Each scope's records as bitsets per segment, by index generation and the markings
    /// themselves (never a hash of them: a collision would hand one reader another's scope).
    sets: std::collections::HashMap<(u64, Vec<String>), ScopeSet>,
}

/// The records a scope admits, one bitset per segment, built once per index generation and
/// scope. The `TermSetQuery` it replaces in searches rebuilds such a bitset from the markings'
/// postings every time it runs: once for the query and once per word whose frequency inside
/// the scope is counted (at 1M chunks a cleared reader's BM25 p50 went 23.3 -> 10.1 ms).
#[derive(Clone)]
struct ScopeSet {
    segments: std::sync::Arc<std::collections::HashMap<tantivy::index::SegmentId, tantivy::BitSet>>,
}

impl std::fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopeSet")
            .field("segments", &self.segments.len())
            .finish()
    }
}

impl ScopeSet {
    /// Every record of `searcher` carrying one of `allowed` in `field`.
    fn build(searcher: &Searcher, field: Field, allowed: &[String]) -> tantivy::Result<ScopeSet> {
        let mut segments = std::collections::HashMap::new();
        for seg in searcher.segment_readers() {
            let mut set = tantivy::BitSet::with_max_value(seg.max_doc());
            let inverted = seg.inverted_index(field)?;
            for m in allowed {
                let term = Term::from_field_text(field, m);
                if let Some(mut postings) =
                    inverted.read_postings(&term, IndexRecordOption::Basic)?
                {
                    use tantivy::DocSet;
                    let mut doc = postings.doc();
                    while doc != tantivy::TERMINATED {
                        set.insert(doc);
                        doc = postings.advance();
                    }
                }
            }
            segments.insert(seg.segment_id(), set);
        }
        Ok(ScopeSet {
            segments: std::sync::Arc::new(segments),
        })
    }
}

impl Query for ScopeSet {
    fn weight(
        &self,
        _: tantivy::query::EnableScoring<'_>,
    ) -> tantivy::Result<Box<dyn tantivy::query::Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl tantivy::query::Weight for ScopeSet {
    fn scorer(
        &self,
        reader: &tantivy::SegmentReader,
        boost: tantivy::Score,
    ) -> tantivy::Result<Box<dyn tantivy::query::Scorer>> {
        Ok(match self.segments.get(&reader.segment_id()) {
            Some(set) => Box::new(tantivy::query::ConstScorer::new(
                tantivy::query::BitSetDocSet::from(set.clone()),
                boost,
            )),
            // A segment the set was not built over admits nothing.
            None => Box::new(tantivy::query::EmptyScorer),
        })
    }

    fn explain(
        &self,
        reader: &tantivy::SegmentReader,
        doc: tantivy::DocId,
    ) -> tantivy::Result<tantivy::query::Explanation> {
        let inside = self
            .segments
            .get(&reader.segment_id())
            .is_some_and(|s| doc < s.max_value() && s.contains(doc));
        if !inside {
            return Err(tantivy::TantivyError::InvalidArgument(format!(
                "document {doc} is outside the scope"
            )));
        }
        Ok(tantivy::query::Explanation::new("ScopeSet", 1.0))
    }
}

/// Entries kept before the cache starts over.
const DF_CACHE_MAX: usize = 200_000;
/// Scope bitsets kept before that cache starts over (one bit per record each: 125 KB per
/// million).
const SCOPE_SETS_MAX: usize = 64;

impl Bm25StatisticsProvider for VisibleStats<'_> {
    fn total_num_tokens(&self, field: Field) -> tantivy::Result<u64> {
        let all = self.searcher.total_num_tokens(field)?;
        Ok(((all as f64) * (self.num_docs.max(1) as f64) / (self.all_docs.max(1) as f64)) as u64)
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        Ok(self.num_docs.max(1))
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        let key = (self.key, term.clone());
        if let Some(df) = self.cache.lock().map.get(&key) {
            return Ok(*df);
        }
        let q = BooleanQuery::new(vec![
            (
                Occur::Must,
                Box::new(TermQuery::new(term.clone(), IndexRecordOption::Basic)) as Box<dyn Query>,
            ),
            (Occur::Must, self.scope.box_clone()),
        ]);
        let df = self.searcher.search(&q, &Count)? as u64;
        let mut cache = self.cache.lock();
        if cache.map.len() >= DF_CACHE_MAX {
            cache.map.clear();
            cache.population.clear();
            cache.sets.clear();
        }
        cache.map.insert(key, df);
        Ok(df)
    }
}

/// A clause that restricts without scoring (tantivy has no FILTER occurrence).
fn filter(q: Box<dyn Query>) -> Box<dyn Query> {
    Box::new(ConstScoreQuery::new(q, 0.0))
}

/// Field weights for BM25: a match in the title or a heading says more than one in the body.
/// Words that say nothing about which chunk answers a query: Lucene's English stop list plus
/// question words. Dropped from queries (not from the index) before BM25.
const QUERY_STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "did", "do", "does", "for", "had",
    "has", "have", "how", "if", "in", "into", "is", "it", "its", "no", "not", "of", "on", "or",
    "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was", "were",
    "what", "when", "where", "which", "who", "whom", "whose", "why", "will", "with",
];

/// `query` without stop words, when it is plain words (no quotes, operators or fields); a
/// query of nothing but stop words is kept whole.
fn without_stopwords(query: &str) -> std::borrow::Cow<'_, str> {
    if query.contains(['"', ':', '+', '(', ')', '[', ']', '{', '}', '^', '~']) {
        return query.into();
    }
    let kept: Vec<&str> = query
        .split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '-')
        // A leading '-' would read as "must not" to the query parser.
        .map(|w| w.trim_start_matches(['-', '\'']))
        .filter(|w| !w.is_empty())
        .filter(|w| {
            let l = w.to_lowercase();
            let l = l.trim_end_matches("'s");
            !QUERY_STOPWORDS.contains(&l)
        })
        .collect();
    if kept.is_empty() {
        query.into()
    } else {
        kept.join(" ").into()
    }
}

const TITLE_BOOST: f32 = 2.0;
const HEADING_BOOST: f32 = 1.5;

pub struct TextIndex {
    index: Index,
    reader: IndexReader,
    /// Taken on the first write, so read-only users (a CLI search beside a running server) never
    /// contend for tantivy's single-writer lock.
    writer: Mutex<Option<IndexWriter>>,
    f: Fields,
    df_cache: Mutex<DfCache>,
}

impl TextIndex {
    /// Opens the index in `dir`, creating it when the directory holds none.
    pub fn open(dir: &Path) -> Result<TextIndex> {
        std::fs::create_dir_all(dir)?;
        let (schema, _) = schema();
        let index = if dir.join("meta.json").exists() {
            Index::open_in_dir(dir)?
        } else {
            Index::create_in_dir(dir, schema)?
        };
        let f = fields_of(&index.schema())?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(TextIndex {
            index,
            reader,
            writer: Mutex::new(None),
            f,
            df_cache: Mutex::new(DfCache::default()),
        })
    }

    fn with_writer<T>(&self, op: impl FnOnce(&mut IndexWriter) -> Result<T>) -> Result<T> {
        let mut guard = self.writer.lock();
        if guard.is_none() {
            *guard = Some(self.index.writer_with_num_threads(1, WRITER_HEAP)?);
        }
        op(guard.as_mut().expect("just set"))
    }

    /// Sees commits made by another process (or handle) on the same directory. Returns whether
    /// anything changed.
    pub fn refresh(&self) -> Result<bool> {
        let state = |s: &Searcher| {
            s.segment_readers()
                .iter()
                .map(|r| (r.segment_id(), r.num_deleted_docs()))
                .collect::<Vec<_>>()
        };
        let before = state(&self.searcher());
        self.reader.reload()?;
        Ok(state(&self.searcher()) != before)
    }

    fn searcher(&self) -> Searcher {
        self.reader.searcher()
    }

    /// Whether this index carries markings (format 2 and later); older ones are read-only.
    pub fn has_markings(&self) -> bool {
        self.f.marking.is_some()
    }

    /// Adds (or replaces) a document and its chunks; visible after [`TextIndex::commit`].
    pub fn stage_document(&self, doc: &Document, chunks: &[Chunk]) -> Result<()> {
        let f = self.f;
        let (Some(marking), Some(portions)) = (f.marking, f.portions) else {
            return Err(TextError::ReadOnly("classification markings (format 1)"));
        };
        let Some(geo) = f.geo else {
            return Err(TextError::ReadOnly("geotags (format 2)"));
        };
        self.with_writer(|writer| {
            writer.delete_term(Term::from_field_text(f.doc_id, doc.meta.doc_id.as_str()));
            let meta =
                serde_json::to_string(&doc.meta).map_err(|e| TextError::Corrupt(e.to_string()))?;
            writer.add_document(doc!(
                f.kind => KIND_DOC,
                f.doc_id => doc.meta.doc_id.as_str(),
                f.title => doc.meta.title.as_str(),
                f.source => doc.meta.source.as_str(),
                f.meta => meta,
                f.doc_text => doc.text.as_str(),
                marking => doc.meta.marking.as_str(),
            ))?;
            for c in chunks {
                debug_assert_eq!(c.doc_id, doc.meta.doc_id);
                let heading: String = c.heading.join(&HEADING_SEP.to_string());
                let mut d = doc!(
                    f.kind => KIND_CHUNK,
                    f.doc_id => c.doc_id.as_str(),
                    f.chunk_id => c.chunk_id.0,
                    f.ordinal => c.ordinal as u64,
                    f.title => c.title.as_str(),
                    f.heading => heading,
                    f.body => c.text.as_str(),
                    f.source => c.source.as_str(),
                    f.start => c.start as u64,
                    f.end => c.end as u64,
                    marking => c.marking.as_str(),
                    portions => serde_json::to_string(&c.portions)
                        .map_err(|e| TextError::Corrupt(e.to_string()))?,
                );
                if let Some(p) = c.page {
                    d.add_u64(f.page, p as u64);
                }
                if !c.geo.is_empty() {
                    let json = serde_json::to_string(&c.geo)
                        .map_err(|e| TextError::Corrupt(e.to_string()))?;
                    d.add_text(geo, json);
                }
                writer.add_document(d)?;
            }
            Ok(())
        })
    }

    /// Removes a document and its chunks; visible after [`TextIndex::commit`].
    pub fn stage_delete(&self, doc_id: &DocId) -> Result<()> {
        self.with_writer(|w| {
            w.delete_term(Term::from_field_text(self.f.doc_id, doc_id.as_str()));
            Ok(())
        })
    }

    /// Makes everything staged durable and visible, atomically.
    pub fn commit(&self) -> Result<()> {
        self.with_writer(|w| Ok(w.commit()?))?;
        self.reader.reload()?;
        Ok(())
    }

    /// Drops everything staged since the last commit.
    pub fn rollback(&self) -> Result<()> {
        self.with_writer(|w| Ok(w.rollback()?))?;
        Ok(())
    }

    fn kind_query(&self, kind: &str) -> Box<dyn Query> {
        Box::new(TermQuery::new(
            Term::from_field_text(self.f.kind, kind),
            IndexRecordOption::Basic,
        ))
    }

    fn doc_query(&self, doc_id: &DocId, kind: &str) -> BooleanQuery {
        BooleanQuery::new(vec![
            (Occur::Must, self.kind_query(kind)),
            (
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(self.f.doc_id, doc_id.as_str()),
                    IndexRecordOption::Basic,
                )),
            ),
        ])
    }

    fn load(&self, searcher: &Searcher, addr: DocAddress) -> Result<TantivyDocument> {
        Ok(searcher.doc::<TantivyDocument>(addr)?)
    }

    fn str_field(&self, d: &TantivyDocument, field: Field) -> Result<String> {
        d.get_first(field)
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .ok_or_else(|| {
                TextError::Corrupt(format!(
                    "missing field {}",
                    self.index.schema().get_field_name(field)
                ))
            })
    }

    fn u64_field(&self, d: &TantivyDocument, field: Field) -> Option<u64> {
        d.get_first(field).and_then(|v| v.as_u64())
    }

    fn meta_of(&self, d: &TantivyDocument) -> Result<DocumentMeta> {
        let raw = self.str_field(d, self.f.meta)?;
        let mut meta: DocumentMeta = serde_json::from_str(&raw)
            .map_err(|e| TextError::Corrupt(format!("document metadata: {e}")))?;
        meta.marking = self.marking_of(d)?;
        Ok(meta)
    }

    /// The record's marking; format-1 records read as UNCLASSIFIED.
    fn marking_of(&self, d: &TantivyDocument) -> Result<String> {
        match self.f.marking {
            Some(field) => self.str_field(d, field),
            None => Ok(sextant_types::UNCLASSIFIED.to_string()),
        }
    }

    fn chunk_of(&self, d: &TantivyDocument) -> Result<Chunk> {
        let f = self.f;
        let doc_id = self.str_field(d, f.doc_id)?;
        let heading = self.str_field(d, f.heading)?;
        let get = |field| {
            self.u64_field(d, field)
                .ok_or_else(|| TextError::Corrupt("chunk without offsets".into()))
        };
        let start = get(f.start)? as usize;
        let end = get(f.end)? as usize;
        let marking = self.marking_of(d)?;
        let portions = match f.portions {
            Some(field) => serde_json::from_str(&self.str_field(d, field)?)
                .map_err(|e| TextError::Corrupt(format!("chunk portions: {e}")))?,
            None => Portions {
                context: marking.clone(),
                spans: vec![Portion {
                    start,
                    end,
                    marking: marking.clone(),
                }],
            },
        };
        Ok(Chunk {
            chunk_id: ChunkId(get(f.chunk_id)?),
            doc_id: DocId::parse(&doc_id)
                .ok_or_else(|| TextError::Corrupt(format!("bad doc id {doc_id:?}")))?,
            ordinal: get(f.ordinal)? as u32,
            title: self.str_field(d, f.title)?,
            source: self.str_field(d, f.source)?,
            heading: if heading.is_empty() {
                Vec::new()
            } else {
                heading.split(HEADING_SEP).map(str::to_string).collect()
            },
            text: self.str_field(d, f.body)?,
            page: self.u64_field(d, f.page).map(|p| p as u32),
            start,
            end,
            marking,
            portions,
            geo: match f
                .geo
                .and_then(|field| d.get_first(field))
                .and_then(|v| v.as_str())
            {
                Some(json) => serde_json::from_str(json)
                    .map_err(|e| TextError::Corrupt(format!("chunk geotags: {e}")))?,
                None => Vec::new(),
            },
        })
    }

    /// Metadata of a committed document, if there is one with that id.
    pub fn document_meta(&self, doc_id: &DocId) -> Result<Option<DocumentMeta>> {
        let s = self.searcher();
        let top = s.search(
            &self.doc_query(doc_id, KIND_DOC),
            &TopDocs::with_limit(1).order_by_score(),
        )?;
        match top.first() {
            Some((_, addr)) => Ok(Some(self.meta_of(&self.load(&s, *addr)?)?)),
            None => Ok(None),
        }
    }

    /// A committed document with its extracted text.
    pub fn document(&self, doc_id: &DocId) -> Result<Option<Document>> {
        let s = self.searcher();
        let top = s.search(
            &self.doc_query(doc_id, KIND_DOC),
            &TopDocs::with_limit(1).order_by_score(),
        )?;
        match top.first() {
            Some((_, addr)) => {
                let d = self.load(&s, *addr)?;
                Ok(Some(Document {
                    meta: self.meta_of(&d)?,
                    text: self.str_field(&d, self.f.doc_text)?,
                }))
            }
            None => Ok(None),
        }
    }

    /// Metadata of every committed document, in no particular order.
    pub fn documents(&self) -> Result<Vec<DocumentMeta>> {
        let s = self.searcher();
        let addrs = s.search(&*self.kind_query(KIND_DOC), &DocSetCollector)?;
        addrs
            .into_iter()
            .map(|a| self.meta_of(&self.load(&s, a)?))
            .collect()
    }

    /// The chunks of a document in reading order.
    pub fn chunks_of(&self, doc_id: &DocId) -> Result<Vec<Chunk>> {
        let s = self.searcher();
        let addrs = s.search(&self.doc_query(doc_id, KIND_CHUNK), &DocSetCollector)?;
        let mut chunks = addrs
            .into_iter()
            .map(|a| self.chunk_of(&self.load(&s, a)?))
            .collect::<Result<Vec<_>>>()?;
        chunks.sort_by_key(|c| c.ordinal);
        Ok(chunks)
    }

    /// Ids of a document's live chunks, read from the fast field (no stored text is loaded).
    pub fn chunk_ids_of(&self, doc_id: &DocId) -> Result<Vec<u64>> {
        let s = self.searcher();
        self.collect_ids(&s, &self.doc_query(doc_id, KIND_CHUNK))
    }

    /// Committed chunks with these ids, in the order asked; ids that are not live are left out.
    pub fn chunks_by_ids(&self, ids: &[ChunkId]) -> Result<Vec<Chunk>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let s = self.searcher();
        let q = TermSetQuery::new(
            ids.iter()
                .map(|id| Term::from_field_u64(self.f.chunk_id, id.0)),
        );
        let addrs = s.search(&q, &DocSetCollector)?;
        let mut found = std::collections::HashMap::with_capacity(addrs.len());
        for a in addrs {
            let c = self.chunk_of(&self.load(&s, a)?)?;
            found.insert(c.chunk_id, c);
        }
        Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
    }

    /// Up to `limit` live chunks with ids above `after`, in id order: the vector catch-up feed.
    pub fn chunks_after(&self, after: Option<ChunkId>, limit: usize) -> Result<Vec<Chunk>> {
        let s = self.searcher();
        let lower = match after {
            Some(id) => Bound::Excluded(Term::from_field_u64(self.f.chunk_id, id.0)),
            None => Bound::Included(Term::from_field_u64(self.f.chunk_id, 0)),
        };
        let q = RangeQuery::new(lower, Bound::Unbounded);
        let ids = self.collect_ids(&s, &q)?;
        let mut ids: Vec<u64> = ids.into_iter().collect();
        ids.sort_unstable();
        ids.truncate(limit);
        self.chunks_by_ids(&ids.into_iter().map(ChunkId).collect::<Vec<_>>())
    }

    fn collect_ids(&self, s: &Searcher, q: &dyn Query) -> Result<Vec<u64>> {
        let addrs = s.search(q, &DocSetCollector)?;
        let mut columns = Vec::with_capacity(s.segment_readers().len());
        for seg in s.segment_readers() {
            columns.push(seg.fast_fields().u64("chunk_id")?);
        }
        Ok(addrs
            .into_iter()
            .filter_map(|a| columns[a.segment_ord as usize].first(a.doc_id))
            .collect())
    }

    /// Ids of every live chunk (used to reconcile the vector index after a crash).
    pub fn live_chunk_ids(&self) -> Result<Vec<u64>> {
        let s = self.searcher();
        self.collect_ids(&s, &*self.kind_query(KIND_CHUNK))
    }

    /// The highest chunk id present in the index, live or not yet merged away.
    pub fn max_chunk_id(&self) -> Result<Option<u64>> {
        let s = self.searcher();
        let mut max = None;
        for seg in s.segment_readers() {
            let col = seg.fast_fields().u64("chunk_id")?;
            if col.num_docs() > 0 {
                let m = col.max_value();
                max = Some(max.map_or(m, |x: u64| x.max(m)));
            }
        }
        Ok(max)
    }

    pub fn num_documents(&self, visible: &Visible) -> Result<usize> {
        self.count(self.kind_query(KIND_DOC), visible)
    }

    /// How many live chunks have ids above `after` (chunks still waiting for a vector).
    pub fn count_chunks_after(&self, after: Option<ChunkId>, visible: &Visible) -> Result<usize> {
        let lower = match after {
            Some(id) => Bound::Excluded(Term::from_field_u64(self.f.chunk_id, id.0)),
            None => Bound::Included(Term::from_field_u64(self.f.chunk_id, 0)),
        };
        self.count(Box::new(RangeQuery::new(lower, Bound::Unbounded)), visible)
    }

    pub fn num_chunks(&self, visible: &Visible) -> Result<usize> {
        self.count(self.kind_query(KIND_CHUNK), visible)
    }

    /// The filter that keeps a read inside `visible`; `None` when nothing is hidden.
    pub fn scope(&self, visible: &Visible) -> Option<Box<dyn Query>> {
        match (visible, self.f.marking) {
            (Visible::All, _) => None,
            (Visible::Markings(allowed), Some(field)) => Some(Box::new(TermSetQuery::new(
                allowed.iter().map(|m| Term::from_field_text(field, m)),
            ))),
            // Format 1: every record reads as UNCLASSIFIED.
            (Visible::Markings(allowed), None) => {
                if allowed.iter().any(|m| m == sextant_types::UNCLASSIFIED) {
                    None
                } else {
                    Some(Box::new(EmptyQuery))
                }
            }
        }
    }

    /// Every distinct marking in the index (of documents and chunks), from the term dictionary:
    /// the set a reader's clearance is checked against to build their filter.
    pub fn markings(&self) -> Result<Vec<String>> {
        let Some(field) = self.f.marking else {
            return Ok(vec![sextant_types::UNCLASSIFIED.to_string()]);
        };
        let mut out = std::collections::BTreeSet::new();
        for seg in self.searcher().segment_readers() {
            let inverted = seg.inverted_index(field)?;
            let mut stream = inverted.terms().stream()?;
            while stream.advance() {
                out.insert(String::from_utf8_lossy(stream.key()).into_owned());
            }
        }
        Ok(out.into_iter().collect())
    }

    /// `(chunk id, marking)` of every live chunk, from fast fields (no stored text is read):
    /// what the store's chunk -> marking table is built from.
    pub fn chunk_markings(&self) -> Result<Vec<(u64, String)>> {
        let s = self.searcher();
        let mut out = Vec::new();
        for seg in s.segment_readers() {
            let ids = seg.fast_fields().u64("chunk_id")?;
            let markings = match self.f.marking {
                Some(_) => seg.fast_fields().str("marking")?,
                None => None,
            };
            let mut buf = String::new();
            for doc in 0..seg.max_doc() {
                if seg.is_deleted(doc) {
                    continue;
                }
                let Some(id) = ids.first(doc) else { continue };
                let marking = match &markings {
                    Some(col) => {
                        let Some(ord) = col.term_ords(doc).next() else {
                            return Err(TextError::Corrupt(format!("chunk {id} has no marking")));
                        };
                        buf.clear();
                        col.ord_to_str(ord, &mut buf)?;
                        buf.clone()
                    }
                    None => sextant_types::UNCLASSIFIED.to_string(),
                };
                out.push((id, marking));
            }
        }
        Ok(out)
    }

    /// `(chunk id, geotags)` of every live chunk that has places, from the fast field (no stored
    /// document is read): what the store's spatial index is built from.
    pub fn chunk_geo(&self) -> Result<Vec<(u64, Vec<GeoTag>)>> {
        let mut out = Vec::new();
        if self.f.geo.is_none() {
            return Ok(out);
        }
        let s = self.searcher();
        let mut buf = String::new();
        for seg in s.segment_readers() {
            let ids = seg.fast_fields().u64("chunk_id")?;
            let Some(col) = seg.fast_fields().str("geo")? else {
                continue;
            };
            for doc in 0..seg.max_doc() {
                if seg.is_deleted(doc) {
                    continue;
                }
                let (Some(id), Some(ord)) = (ids.first(doc), col.term_ords(doc).next()) else {
                    continue;
                };
                buf.clear();
                col.ord_to_str(ord, &mut buf)?;
                let tags = serde_json::from_str(&buf)
                    .map_err(|e| TextError::Corrupt(format!("chunk {id} geotags: {e}")))?;
                out.push((id, tags));
            }
        }
        Ok(out)
    }

    /// `base` ANDed with the visibility filter, as a count.
    fn count(&self, base: Box<dyn Query>, visible: &Visible) -> Result<usize> {
        let q: Box<dyn Query> = match self.scope(visible) {
            None => base,
            Some(scope) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, base),
                (Occur::Must, scope),
            ])),
        };
        Ok(self.searcher().search(&*q, &Count)?)
    }

    /// BM25 over title, headings and body: `(chunk id, score)`, best first, over the chunks in
    /// `visible` only. `restrict`, when given, is ANDed into the query too, so filtering happens
    /// inside the index, never after top-k. When something is hidden, the BM25 statistics are
    /// those of the visible chunks (see [`VisibleStats`]). Query syntax errors never fail: the
    /// parser is lenient and a query with no usable term matches nothing.
    pub fn search(
        &self,
        query: &str,
        k: usize,
        restrict: Option<Box<dyn Query>>,
        visible: &Visible,
    ) -> Result<Vec<(u64, f32)>> {
        if k == 0 {
            return Ok(Vec::new());
        }
        let f = self.f;
        let mut parser = QueryParser::for_index(&self.index, vec![f.title, f.heading, f.body]);
        parser.set_field_boost(f.title, TITLE_BOOST);
        parser.set_field_boost(f.heading, HEADING_BOOST);
        let (parsed, _errors) = parser.parse_query_lenient(&without_stopwords(query));
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![
            (Occur::Must, parsed),
            (Occur::Must, filter(self.kind_query(KIND_CHUNK))),
        ];
        if let Some(r) = restrict {
            clauses.push((Occur::Must, filter(r)));
        }
        let s = self.searcher();
        let scope: Option<Box<dyn Query>> = match (visible, f.marking) {
            (Visible::Markings(allowed), Some(field)) => {
                let key = (s.generation().generation_id(), allowed.clone());
                let cached = self.df_cache.lock().sets.get(&key).cloned();
                let set = match cached {
                    Some(set) => set,
                    None => {
                        let set = ScopeSet::build(&s, field, allowed)?;
                        let mut cache = self.df_cache.lock();
                        if cache.sets.len() >= SCOPE_SETS_MAX {
                            cache.sets.clear();
                        }
                        cache.sets.insert(key, set.clone());
                        set
                    }
                };
                Some(Box::new(set))
            }
            _ => self.scope(visible),
        };
        if let Some(sc) = &scope {
            clauses.push((Occur::Must, filter(sc.box_clone())));
        }
        let q = BooleanQuery::new(clauses);
        // Statistics over the chunks that can match (never document records, never hidden ones).
        let mut population = vec![(Occur::Must, self.kind_query(KIND_CHUNK))];
        if let Some(sc) = scope {
            population.push((Occur::Must, sc));
        }
        let population: Box<dyn Query> = Box::new(BooleanQuery::new(population));
        // The cache key: this index generation and the scope (the visible markings).
        let scope_key = match visible {
            Visible::All => 0,
            Visible::Markings(m) => {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                m.hash(&mut h);
                h.finish() | 1
            }
        };
        let key = (s.generation().generation_id(), scope_key);
        let cached = self.df_cache.lock().population.get(&key).copied();
        let num_docs = match cached {
            Some(n) => n,
            None => {
                let n = s.search(&*population, &Count)? as u64;
                self.df_cache.lock().population.insert(key, n);
                n
            }
        };
        let stats = VisibleStats {
            searcher: &s,
            num_docs,
            scope: population,
            all_docs: s.num_docs(),
            cache: &self.df_cache,
            key,
        };
        let top = s.search_with_statistics_provider(
            &q,
            &TopDocs::with_limit(k).order_by_score(),
            &stats,
        )?;
        let mut columns = Vec::with_capacity(s.segment_readers().len());
        for seg in s.segment_readers() {
            columns.push(seg.fast_fields().u64("chunk_id")?);
        }
        Ok(top
            .into_iter()
            .filter_map(|(score, a)| {
                columns[a.segment_ord as usize]
                    .first(a.doc_id)
                    .map(|id| (id, score))
            })
            .collect())
    }

    /// Inverse document frequency over chunk bodies, `ln((N + 1) / (df + 1))`, of each word
    /// (analysed like the body field: lowercased and stemmed), counted over the visible chunks
    /// only. Used to weigh question terms.
    pub fn idf(&self, words: &[&str], visible: &Visible) -> Result<Vec<f32>> {
        let s = self.searcher();
        let n = self.count(self.kind_query(KIND_CHUNK), visible)? as f32;
        let mut analyzer = self
            .index
            .tokenizer_for_field(self.f.body)
            .map_err(TextError::from)?;
        let mut out = Vec::with_capacity(words.len());
        for w in words {
            let mut df = 0u64;
            let mut stream = analyzer.token_stream(w);
            let mut first = None;
            while stream.advance() {
                if first.is_none() {
                    first = Some(stream.token().text.clone());
                }
            }
            if let Some(t) = first {
                let term = tantivy::Term::from_field_text(self.f.body, &t);
                df = match visible {
                    Visible::All => s.doc_freq(&term)?,
                    _ => self.count(
                        Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
                        visible,
                    )? as u64,
                };
            }
            out.push(((n + 1.0) / (df as f32 + 1.0)).ln());
        }
        Ok(out)
    }

    /// A query matching every chunk; a starting point for callers that build restrictions.
    pub fn all_query() -> Box<dyn Query> {
        Box::new(AllQuery)
    }

    /// A restriction matching exactly the chunks with these ids (for [`TextIndex::search`]'s
    /// `restrict`: the chunks inside a search area).
    pub fn chunk_set_query(&self, ids: &[u64]) -> Box<dyn Query> {
        Box::new(TermSetQuery::new(
            ids.iter()
                .map(|id| Term::from_field_u64(self.f.chunk_id, *id)),
        ))
    }
}

#[cfg(test)]
mod stopword_tests {
    #[test]
    fn queries_lose_their_stopwords_but_not_their_syntax() {
        let check = |q: &str, want: &str| assert_eq!(super::without_stopwords(q), want, "{q}");
        check("What is the capital of Kenya?", "capital Kenya");
        check("Who is it?", "Who is it?");
        check("\"the capital\" of Kenya", "\"the capital\" of Kenya");
        check("Rhone River delta -2 m", "Rhone River delta 2 m");
        check("Kenya's population", "Kenya's population");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: &str, title: &str, texts: &[&str], first_chunk: u64) -> (Document, Vec<Chunk>) {
        marked(id, title, texts, first_chunk, "UNCLASSIFIED")
    }

    fn marked(
        id: &str,
        title: &str,
        texts: &[&str],
        first_chunk: u64,
        marking: &str,
    ) -> (Document, Vec<Chunk>) {
        let doc_id = DocId::parse(id).unwrap();
        let text = texts.join("\n\n");
        let meta = DocumentMeta {
            doc_id: doc_id.clone(),
            title: title.into(),
            source: format!("{title}.md"),
            format: "markdown".into(),
            content_hash: "00".into(),
            bytes: text.len() as u64,
            chunks: texts.len() as u32,
            ingested_at: 0,
            marking: marking.into(),
            feed: None,
            track: Vec::new(),
            owner: None,
        };
        let mut pos = 0;
        let chunks = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let start = pos;
                pos += t.chars().count() + 2;
                Chunk {
                    chunk_id: ChunkId(first_chunk + i as u64),
                    doc_id: doc_id.clone(),
                    ordinal: i as u32,
                    title: title.into(),
                    source: meta.source.clone(),
                    heading: vec![title.into(), "Section".into()],
                    text: t.to_string(),
                    page: (i == 1).then_some(2),
                    start,
                    end: start + t.chars().count(),
                    marking: marking.into(),
                    portions: Portions {
                        context: marking.into(),
                        spans: vec![Portion {
                            start,
                            end: start + t.chars().count(),
                            marking: marking.into(),
                        }],
                    },
                    geo: Vec::new(),
                }
            })
            .collect();
        (Document { meta, text }, chunks)
    }

    #[test]
    fn stage_commit_search_replace_delete() {
        let dir = tempfile::tempdir().unwrap();
        let idx = TextIndex::open(dir.path()).unwrap();
        let (d1, c1) = doc(
            "00000000000000a1",
            "Mongolia",
            &["The capital is Ulaanbaatar.", "Steppe and desert."],
            1,
        );
        let (d2, c2) = doc(
            "00000000000000b2",
            "France",
            &["The capital is Paris.", "Wine regions."],
            3,
        );
        idx.stage_document(&d1, &c1).unwrap();
        idx.stage_document(&d2, &c2).unwrap();
        assert_eq!(
            idx.num_chunks(&Visible::All).unwrap(),
            0,
            "nothing visible before commit"
        );
        idx.commit().unwrap();
        assert_eq!(idx.num_documents(&Visible::All).unwrap(), 2);
        assert_eq!(idx.num_chunks(&Visible::All).unwrap(), 4);

        let hits = idx
            .search("capital of mongolia", 10, None, &Visible::All)
            .unwrap();
        assert_eq!(hits[0].0, 1);
        let got = idx
            .chunks_by_ids(&[ChunkId(4), ChunkId(1), ChunkId(99)])
            .unwrap();
        assert_eq!(
            got.iter().map(|c| c.chunk_id.0).collect::<Vec<_>>(),
            vec![4, 1]
        );
        assert_eq!(got[1], c1[0]);
        assert_eq!(got[0].page, Some(2));
        assert_eq!(idx.document(&d1.meta.doc_id).unwrap().unwrap(), d1);
        assert_eq!(idx.chunks_after(Some(ChunkId(2)), 10).unwrap().len(), 2);
        assert_eq!(idx.max_chunk_id().unwrap(), Some(4));

        // Replacing a document swaps its chunks in one commit.
        let (d1b, c1b) = doc(
            "00000000000000a1",
            "Mongolia",
            &["The capital city is Ulan Bator."],
            5,
        );
        idx.stage_document(&d1b, &c1b).unwrap();
        idx.commit().unwrap();
        assert_eq!(idx.chunks_of(&d1.meta.doc_id).unwrap(), c1b);
        assert!(idx
            .search("steppe", 10, None, &Visible::All)
            .unwrap()
            .is_empty());

        idx.stage_delete(&d2.meta.doc_id).unwrap();
        idx.commit().unwrap();
        assert!(idx.document_meta(&d2.meta.doc_id).unwrap().is_none());
        let mut live = idx.live_chunk_ids().unwrap();
        live.sort();
        assert_eq!(live, vec![5]);
        assert!(idx
            .search("\"unbalanced AND (", 10, None, &Visible::All)
            .is_ok());
    }

    #[test]
    fn visibility_filters_inside_the_index_and_its_statistics() {
        let dir = tempfile::tempdir().unwrap();
        let idx = TextIndex::open(dir.path()).unwrap();
        let (d1, c1) = marked(
            "00000000000000a1",
            "Open",
            &["The harbour is quiet.", "Ships dock at dawn."],
            1,
            "UNCLASSIFIED",
        );
        let (d2, c2) = marked(
            "00000000000000b2",
            "Closed",
            &[
                "The harbour hides zorblax submarines.",
                "zorblax zorblax harbour",
            ],
            3,
            "SECRET//NOFORN",
        );
        idx.stage_document(&d1, &c1).unwrap();
        idx.stage_document(&d2, &c2).unwrap();
        idx.commit().unwrap();
        assert_eq!(
            idx.markings().unwrap(),
            vec!["SECRET//NOFORN".to_string(), "UNCLASSIFIED".to_string()]
        );
        let low = Visible::Markings(vec!["UNCLASSIFIED".into()]);
        assert!(idx.search("zorblax", 10, None, &low).unwrap().is_empty());
        assert_eq!(
            idx.search("zorblax", 10, None, &Visible::All)
                .unwrap()
                .len(),
            2
        );
        assert_eq!(idx.num_chunks(&low).unwrap(), 2);
        assert_eq!(idx.num_documents(&low).unwrap(), 1);
        assert_eq!(idx.count_chunks_after(None, &low).unwrap(), 2);
        // The score of a visible chunk does not depend on what hidden chunks contain: the same
        // index with the hidden document's words swapped for others of the same length scores
        // the visible chunk identically.
        let seen = idx.search("harbour", 10, None, &low).unwrap();
        let dir2 = tempfile::tempdir().unwrap();
        let other = TextIndex::open(dir2.path()).unwrap();
        let (d3, c3) = marked(
            "00000000000000b2",
            "Closed",
            &[
                "The cabbage hides zorblax submarines.",
                "zorblax zorblax cabbage",
            ],
            3,
            "SECRET//NOFORN",
        );
        other.stage_document(&d1, &c1).unwrap();
        other.stage_document(&d3, &c3).unwrap();
        other.commit().unwrap();
        let alone = other.search("harbour", 10, None, &low).unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen, alone);
        assert_ne!(
            idx.search("harbour", 10, None, &Visible::All).unwrap()[0].1,
            other.search("harbour", 10, None, &Visible::All).unwrap()[0].1,
            "without the filter the hidden chunks do move the score"
        );
        assert_eq!(
            idx.idf(&["zorblax", "harbour"], &low).unwrap(),
            other.idf(&["zorblax", "harbour"], &low).unwrap()
        );
        let mut table = idx.chunk_markings().unwrap();
        table.sort();
        assert_eq!(table[0], (1, "UNCLASSIFIED".to_string()));
        assert_eq!(table[3], (4, "SECRET//NOFORN".to_string()));
        assert_eq!(
            idx.chunks_by_ids(&[ChunkId(3)]).unwrap()[0].portions,
            c2[0].portions
        );
    }

    #[test]
    fn survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (d, c) = doc("00000000000000c3", "Chad", &["Lake Chad shrinks."], 7);
        {
            let idx = TextIndex::open(dir.path()).unwrap();
            idx.stage_document(&d, &c).unwrap();
            idx.commit().unwrap();
        }
        let idx = TextIndex::open(dir.path()).unwrap();
        assert_eq!(idx.document_meta(&d.meta.doc_id).unwrap().unwrap(), d.meta);
        assert_eq!(idx.search("lake", 5, None, &Visible::All).unwrap()[0].0, 7);
    }
}
