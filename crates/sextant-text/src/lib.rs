//! The full-text side of the store: one tantivy index holding a record per document (metadata and
//! extracted text) and a record per chunk (BM25-searchable text with its citation coordinates).
//!
//! Documents and their chunks live in the same index on purpose: one tantivy commit makes a
//! document, its chunks and the removal of its previous version visible atomically, which is what
//! the store's crash-safety rests on.

use parking_lot::Mutex;
use sextant_types::{Chunk, ChunkId, DocId, Document, DocumentMeta};
use std::ops::Bound;
use std::path::Path;
use tantivy::collector::{Count, DocSetCollector, TopDocs};
use tantivy::query::{
    AllQuery, BooleanQuery, ConstScoreQuery, Occur, Query, QueryParser, RangeQuery, TermQuery,
    TermSetQuery,
};
use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions, Value,
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
    };
    (b.build(), f)
}

/// A clause that restricts without scoring (tantivy has no FILTER occurrence).
fn filter(q: Box<dyn Query>) -> Box<dyn Query> {
    Box::new(ConstScoreQuery::new(q, 0.0))
}

/// Field weights for BM25: a match in the title or a heading says more than one in the body.
const TITLE_BOOST: f32 = 2.0;
const HEADING_BOOST: f32 = 1.5;

pub struct TextIndex {
    index: Index,
    reader: IndexReader,
    /// Taken on the first write, so read-only users (a CLI search beside a running server) never
    /// contend for tantivy's single-writer lock.
    writer: Mutex<Option<IndexWriter>>,
    f: Fields,
}

impl TextIndex {
    /// Opens the index in `dir`, creating it when the directory holds none.
    pub fn open(dir: &Path) -> Result<TextIndex> {
        std::fs::create_dir_all(dir)?;
        let (schema, f) = schema();
        let index = if dir.join("meta.json").exists() {
            Index::open_in_dir(dir)?
        } else {
            Index::create_in_dir(dir, schema)?
        };
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(TextIndex {
            index,
            reader,
            writer: Mutex::new(None),
            f,
        })
    }

    fn with_writer<T>(&self, op: impl FnOnce(&mut IndexWriter) -> Result<T>) -> Result<T> {
        let mut guard = self.writer.lock();
        if guard.is_none() {
            *guard = Some(self.index.writer_with_num_threads(1, WRITER_HEAP)?);
        }
        op(guard.as_mut().expect("just set"))
    }

    /// Sees commits made by another process (or handle) on the same directory.
    pub fn refresh(&self) -> Result<()> {
        self.reader.reload()?;
        Ok(())
    }

    fn searcher(&self) -> Searcher {
        self.reader.searcher()
    }

    /// Adds (or replaces) a document and its chunks; visible after [`TextIndex::commit`].
    pub fn stage_document(&self, doc: &Document, chunks: &[Chunk]) -> Result<()> {
        let f = self.f;
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
                );
                if let Some(p) = c.page {
                    d.add_u64(f.page, p as u64);
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
        serde_json::from_str(&raw)
            .map_err(|e| TextError::Corrupt(format!("document metadata: {e}")))
    }

    fn chunk_of(&self, d: &TantivyDocument) -> Result<Chunk> {
        let f = self.f;
        let doc_id = self.str_field(d, f.doc_id)?;
        let heading = self.str_field(d, f.heading)?;
        let get = |field| {
            self.u64_field(d, field)
                .ok_or_else(|| TextError::Corrupt("chunk without offsets".into()))
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
            start: get(f.start)? as usize,
            end: get(f.end)? as usize,
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

    pub fn num_documents(&self) -> Result<usize> {
        Ok(self
            .searcher()
            .search(&*self.kind_query(KIND_DOC), &Count)?)
    }

    /// How many live chunks have ids above `after` (chunks still waiting for a vector).
    pub fn count_chunks_after(&self, after: Option<ChunkId>) -> Result<usize> {
        let lower = match after {
            Some(id) => Bound::Excluded(Term::from_field_u64(self.f.chunk_id, id.0)),
            None => Bound::Included(Term::from_field_u64(self.f.chunk_id, 0)),
        };
        Ok(self
            .searcher()
            .search(&RangeQuery::new(lower, Bound::Unbounded), &Count)?)
    }

    pub fn num_chunks(&self) -> Result<usize> {
        Ok(self
            .searcher()
            .search(&*self.kind_query(KIND_CHUNK), &Count)?)
    }

    /// BM25 over title, headings and body: `(chunk id, score)`, best first. `restrict`, when
    /// given, is ANDed into the query so filtering happens inside the index, not after top-k.
    /// Query syntax errors never fail: the parser is lenient and a query with no usable term
    /// matches nothing.
    pub fn search(
        &self,
        query: &str,
        k: usize,
        restrict: Option<Box<dyn Query>>,
    ) -> Result<Vec<(u64, f32)>> {
        if k == 0 {
            return Ok(Vec::new());
        }
        let f = self.f;
        let mut parser = QueryParser::for_index(&self.index, vec![f.title, f.heading, f.body]);
        parser.set_field_boost(f.title, TITLE_BOOST);
        parser.set_field_boost(f.heading, HEADING_BOOST);
        let (parsed, _errors) = parser.parse_query_lenient(query);
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![
            (Occur::Must, parsed),
            (Occur::Must, filter(self.kind_query(KIND_CHUNK))),
        ];
        if let Some(r) = restrict {
            clauses.push((Occur::Must, filter(r)));
        }
        let q = BooleanQuery::new(clauses);
        let s = self.searcher();
        let top = s.search(&q, &TopDocs::with_limit(k).order_by_score())?;
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
    /// (analysed like the body field: lowercased and stemmed). Used to weigh question terms.
    pub fn idf(&self, words: &[&str]) -> Result<Vec<f32>> {
        let s = self.searcher();
        let n = s.search(&*self.kind_query(KIND_CHUNK), &Count)? as f32;
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
                df = s.doc_freq(&term)?;
            }
            out.push(((n + 1.0) / (df as f32 + 1.0)).ln());
        }
        Ok(out)
    }

    /// A query matching every chunk; a starting point for callers that build restrictions.
    pub fn all_query() -> Box<dyn Query> {
        Box::new(AllQuery)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: &str, title: &str, texts: &[&str], first_chunk: u64) -> (Document, Vec<Chunk>) {
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
            idx.num_chunks().unwrap(),
            0,
            "nothing visible before commit"
        );
        idx.commit().unwrap();
        assert_eq!(idx.num_documents().unwrap(), 2);
        assert_eq!(idx.num_chunks().unwrap(), 4);

        let hits = idx.search("capital of mongolia", 10, None).unwrap();
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
        assert!(idx.search("steppe", 10, None).unwrap().is_empty());

        idx.stage_delete(&d2.meta.doc_id).unwrap();
        idx.commit().unwrap();
        assert!(idx.document_meta(&d2.meta.doc_id).unwrap().is_none());
        let mut live = idx.live_chunk_ids().unwrap();
        live.sort();
        assert_eq!(live, vec![5]);
        assert!(idx.search("\"unbalanced AND (", 10, None).is_ok());
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
        assert_eq!(idx.search("lake", 5, None).unwrap()[0].0, 7);
    }
}
