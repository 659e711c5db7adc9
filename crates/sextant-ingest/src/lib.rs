//! Ingest: files and uploads -> parsed blocks -> structure-aware chunks -> one atomic store
//! commit per batch; then, separately, embeddings for the committed chunks.
//!
//! Text becomes BM25-searchable as soon as its batch commits; [`embed_pending`] fills in vectors
//! afterwards (in a background thread during `sextant ingest` and `sextant serve`).

pub mod chunk;
pub mod feeds;
pub mod marks;

pub use chunk::{chunk, ChunkConfig, Chunked, DraftChunk};
pub use feeds::{feed_format, ingest_features, parse_feed, FeatureRead, FeedFailure, FeedReport};
pub use marks::MarkingPolicy;
pub use sextant_feeds::{CsvColumns, FeedFormat};
pub use sextant_geodata::gazetteer::GeoData;
pub use sextant_parse::{Format, ParseError};

use sextant_models::Embedder;
use sextant_store::{Committed, Store, Viewer};
use sextant_types::{Chunk, ChunkId, DocId, Document, DocumentMeta};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(thiserror::Error, Debug)]
pub enum IngestError {
    #[error("{0}")]
    Parse(#[from] ParseError),
    #[error("{0}")]
    Store(#[from] sextant_store::StoreError),
    #[error("{0}")]
    Model(#[from] sextant_models::ModelError),
    #[error("unsupported file type {0:?}: expected .txt, .md, .html, .htm, .pdf or .docx, or a feed: .geojson, .ndjson, .kml, .gpx, .csv, .tsv, .cot (.json and .xml when their content is one)")]
    Unsupported(String),
    #[error("feed: {0}")]
    Feed(String),
    #[error("document has no text")]
    Empty,
    #[error("classification marking: {0}")]
    Marking(String),
    #[error("the document is marked {0}, which is above what you may see; it was not ingested")]
    AboveAccess(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T> = std::result::Result<T, IngestError>;

/// What a delete did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deleted {
    /// Gone; the document's marking (for the audit record).
    Deleted { marking: String },
    /// No such document, or one the caller may not see: the same answer for both.
    NotFound,
    /// The caller sees it but did not ingest it (and is no administrator).
    NotOwner { marking: String },
}

/// Deletes a document for a caller: an administrator deletes anything they may see; anyone
/// else only what they ingested (`namespace` equals the document's owner). Shared feed
/// records and the local administrator's documents have no owner: administrators only.
pub fn delete_document(
    store: &Store,
    id: &DocId,
    viewer: &Viewer,
    namespace: Option<&str>,
    admin: bool,
) -> Result<Deleted> {
    let Some(meta) = store.document_meta(id, viewer)? else {
        return Ok(Deleted::NotFound);
    };
    if !admin && (meta.owner.is_none() || meta.owner.as_deref() != namespace) {
        return Ok(Deleted::NotOwner {
            marking: meta.marking,
        });
    }
    Ok(if store.delete_document(id, viewer)? {
        Deleted::Deleted {
            marking: meta.marking,
        }
    } else {
        Deleted::NotFound
    })
}

impl IngestError {
    /// What a remote uploader is told: the reason when it is about their file, else a
    /// generic line (store, model and I/O errors name paths and internals; they are logged).
    pub fn for_user(&self) -> String {
        match self {
            IngestError::Parse(_)
            | IngestError::Unsupported(_)
            | IngestError::Feed(_)
            | IngestError::Empty
            | IngestError::Marking(_)
            | IngestError::AboveAccess(_) => self.to_string(),
            IngestError::Store(_) | IngestError::Model(_) | IngestError::Io(_) => {
                "the server could not store this file (the error is in its log)".into()
            }
        }
    }
}

/// Tuning of the ingest pipeline.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub chunking: ChunkConfig,
    /// Documents per atomic commit.
    pub batch_docs: usize,
    /// Chunks per atomic commit (whichever limit is reached first).
    pub batch_chunks: usize,
    pub marking: MarkingPolicy,
    /// Prefix of every document identity: a named user's documents live in their own namespace
    /// (`user:<name>`), so ingesting never replaces, nor reveals, a document someone else made.
    /// `None` for the local administrator.
    pub namespace: Option<String>,
    /// Gazetteer and country polygons: when present, documents are geotagged (place names and
    /// coordinates in their text become their chunks' geotags).
    pub geo: Option<Arc<GeoData>>,
    /// Feed name for feed files (default: the file stem).
    pub feed: Option<String>,
    /// Latitude/longitude columns of CSV feeds (default: detected from the header).
    pub csv: CsvColumns,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            chunking: ChunkConfig::default(),
            batch_docs: 64,
            batch_chunks: 4096,
            marking: MarkingPolicy::default(),
            namespace: None,
            geo: None,
            feed: None,
            csv: CsvColumns::default(),
        }
    }
}

impl IngestOptions {
    fn origin(&self, origin: &str) -> String {
        namespaced(self.namespace.as_deref(), origin)
    }

    /// The content hash a document gets under these options: its bytes, the marking policy,
    /// and whether it was geotagged (so that installing the gazetteer re-tags on re-ingest).
    fn hash(&self, bytes: &[u8]) -> String {
        let h = content_hash(bytes, &self.marking);
        match self.geo {
            None => h,
            Some(_) => hex::encode(Sha256::digest(format!("{h}\0geotag:1"))),
        }
    }

    /// Parses, marks, chunks and (with the gazetteer) geotags one document.
    fn prepare(
        &self,
        origin: &str,
        source: &str,
        format: Format,
        bytes: &[u8],
    ) -> Result<(Document, Vec<Chunk>)> {
        let (mut doc, mut chunks) =
            prepare(origin, source, format, bytes, self.chunking, &self.marking)?;
        doc.meta.owner = self.namespace.clone();
        if let Some(geo) = &self.geo {
            geotag(geo, &doc, &mut chunks);
            doc.meta.content_hash = self.hash(bytes);
        }
        Ok((doc, chunks))
    }
}

/// Resolves the places of a document's text (with the whole document as context) and gives
/// each chunk those inside its span, offsets into the document's text.
pub fn geotag(geo: &GeoData, doc: &Document, chunks: &mut [Chunk]) {
    let places = geo.tag(&doc.text);
    for c in chunks.iter_mut() {
        c.geo = places
            .iter()
            .filter(|p| p.start >= c.start && p.end <= c.end)
            .map(|p| sextant_types::GeoTag {
                geometry: sextant_types::Geometry::Point([p.lon, p.lat]),
                start: p.start,
                end: p.end,
                name: p.name.clone(),
                source: match p.kind {
                    sextant_geodata::gazetteer::PlaceKind::Coordinates => {
                        sextant_types::GeoSource::Coordinates
                    }
                    _ => sextant_types::GeoSource::Gazetteer,
                },
            })
            .collect();
    }
}

/// The identity origin of `origin` inside `namespace` (see [`IngestOptions::namespace`]).
pub fn namespaced(namespace: Option<&str>, origin: &str) -> String {
    match namespace {
        Some(ns) => format!("{ns}:{origin}"),
        None => origin.to_string(),
    }
}

/// What decides whether re-ingesting a source changes anything: its bytes and the marking it
/// would get when it carries none (so re-ingesting with another `--marking` re-marks it).
fn content_hash(bytes: &[u8], policy: &MarkingPolicy) -> String {
    let mut h = Sha256::new();
    h.update(bytes);
    h.update(b"\0explicit:");
    if let Some(m) = &policy.explicit {
        h.update(m.banner().as_bytes());
    }
    h.update(b"\0default:");
    h.update(policy.default.banner().as_bytes());
    hex::encode(h.finalize())
}

/// The id of the document that comes from `origin` (a canonical path, or `upload:<name>`).
pub fn doc_id_for(origin: &str) -> DocId {
    DocId::from_digest(&Sha256::digest(origin.as_bytes()))
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Parses, marks and chunks one document. `origin` fixes its id; `source` is what citations
/// show.
pub fn prepare(
    origin: &str,
    source: &str,
    format: Format,
    bytes: &[u8],
    cfg: ChunkConfig,
    policy: &MarkingPolicy,
) -> Result<(Document, Vec<Chunk>)> {
    let mut parsed = sextant_parse::parse_bytes(format, bytes)?;
    let marks = marks::mark(&mut parsed, policy).map_err(IngestError::Marking)?;
    let fallback_title = Path::new(source)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let title = parsed
        .title
        .clone()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or(fallback_title);
    let chunked = chunk(&parsed, cfg);
    if chunked.chunks.is_empty() {
        return Err(IngestError::Empty);
    }
    let doc_id = doc_id_for(origin);
    let meta = DocumentMeta {
        doc_id: doc_id.clone(),
        title: title.clone(),
        source: source.to_string(),
        format: format.as_str().to_string(),
        content_hash: content_hash(bytes, policy),
        bytes: bytes.len() as u64,
        chunks: chunked.chunks.len() as u32,
        ingested_at: now_secs(),
        marking: marks.document.banner(),
        feed: None,
        track: Vec::new(),
        owner: None,
    };
    let chunks = chunked
        .chunks
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let (marking, portions) = marks::chunk_marks(&parsed, &marks, &chunked, d);
            Chunk {
                chunk_id: ChunkId(0),
                doc_id: doc_id.clone(),
                ordinal: i as u32,
                title: title.clone(),
                source: source.to_string(),
                heading: d.heading.clone(),
                text: d.text.clone(),
                page: d.page,
                start: d.start,
                end: d.end,
                marking: marking.banner(),
                portions,
                geo: Vec::new(),
            }
        })
        .collect();
    Ok((
        Document {
            meta,
            text: chunked.text,
        },
        chunks,
    ))
}

/// What happened to one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    New { doc_id: DocId, chunks: usize },
    Replaced { doc_id: DocId, chunks: usize },
    Unchanged { doc_id: DocId },
}

impl Outcome {
    pub fn doc_id(&self) -> &DocId {
        match self {
            Outcome::New { doc_id, .. }
            | Outcome::Replaced { doc_id, .. }
            | Outcome::Unchanged { doc_id } => doc_id,
        }
    }
}

/// Summary of an ingest run.
#[derive(Debug, Clone, Default)]
pub struct IngestReport {
    pub files: usize,
    pub new: usize,
    pub replaced: usize,
    pub unchanged: usize,
    pub chunks: usize,
    pub bytes: u64,
    /// Files found while walking directories whose type Sextant does not read.
    pub skipped: Vec<PathBuf>,
    pub failed: Vec<(PathBuf, String)>,
    pub outcomes: Vec<(PathBuf, Outcome)>,
    pub seconds: f64,
}

/// The name a file is ingested under, shown to readers as `source`: its path relative to the
/// directory named on the command line, prefixed by that directory's own name
/// (`factbook/ke.md`), or a named file's own name — never the server's absolute path.
pub fn source_name(root: &Path, file: &Path) -> String {
    let base = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match file.strip_prefix(root) {
        Ok(rel) if !rel.as_os_str().is_empty() => {
            let rel = rel.to_string_lossy().replace('\\', "/");
            if base.is_empty() {
                rel
            } else {
                format!("{base}/{rel}")
            }
        }
        _ => file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or(base),
    }
}

/// Expands files and directories (recursively, in a stable order) into the files to ingest,
/// each with the name it is ingested under ([`source_name`]). Unsupported files inside
/// directories are returned as skipped; a named file that is unsupported or missing is a
/// failure.
pub fn collect_files(
    paths: &[PathBuf],
) -> (Vec<(PathBuf, String)>, Vec<PathBuf>, Vec<(PathBuf, String)>) {
    let (mut files, mut skipped, mut failed) = (Vec::new(), Vec::new(), Vec::new());
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = walkdir::WalkDir::new(p)
                .follow_links(true)
                .into_iter()
                .filter_map(|e| match e {
                    Ok(e) if e.file_type().is_file() => Some(e.into_path()),
                    Ok(_) => None,
                    Err(err) => {
                        failed.push((
                            err.path()
                                .map(Path::to_path_buf)
                                .unwrap_or_else(|| p.clone()),
                            err.to_string(),
                        ));
                        None
                    }
                })
                .collect();
            found.sort();
            for f in found {
                if Format::from_path(&f).is_some() || feed_format(&f).is_some() {
                    let name = source_name(p, &f);
                    files.push((f, name));
                } else {
                    skipped.push(f);
                }
            }
        } else if !p.exists() {
            failed.push((p.clone(), "no such file or directory".into()));
        } else if Format::from_path(p).is_none() && feed_format(p).is_none() {
            failed.push((
                p.clone(),
                IngestError::Unsupported(
                    p.extension()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned(),
                )
                .to_string(),
            ));
        } else {
            files.push((p.clone(), source_name(p, p)));
        }
    }
    (files, skipped, failed)
}

/// Ingests files in batches, each committed atomically. One bad file never stops the run: it is
/// recorded in `failed`. A document marked above what `viewer` may see is refused (a person
/// cannot put into the store what they could not read back). `progress(done, total, path)` is
/// called after each file.
pub fn ingest_files(
    store: &Store,
    paths: &[PathBuf],
    opts: &IngestOptions,
    viewer: &Viewer,
    progress: &mut dyn FnMut(usize, usize, &Path),
) -> Result<IngestReport> {
    let t0 = Instant::now();
    let (files, skipped, failed) = collect_files(paths);
    let mut report = IngestReport {
        files: files.len(),
        skipped,
        failed,
        ..Default::default()
    };
    let mut batch: Vec<(PathBuf, Document, Vec<Chunk>)> = Vec::new();
    let mut batch_chunks = 0;
    let total = files.len();
    for (i, (path, name)) in files.iter().enumerate() {
        if let Some(format) = feed_format(path) {
            match prepare_feed_file(store, path, name, format, opts, viewer) {
                Ok(records) => {
                    for r in records {
                        match r {
                            Ok(feeds::Record::Ready(b)) => {
                                let (doc, chunks) = *b;
                                batch_chunks += chunks.len();
                                batch.push((path.clone(), doc, chunks));
                                if batch.len() >= opts.batch_docs.max(FEED_BATCH)
                                    || batch_chunks >= opts.batch_chunks.max(FEED_BATCH)
                                {
                                    commit_batch(store, &mut batch, &mut report)?;
                                    batch_chunks = 0;
                                }
                            }
                            Ok(r) => report
                                .outcomes
                                .push((path.clone(), r.outcome().expect("unchanged"))),
                            Err((n, e)) => report.failed.push((
                                PathBuf::from(format!("{}#{n}", path.display())),
                                e.to_string(),
                            )),
                        }
                    }
                }
                Err(e) => report.failed.push((path.clone(), e.to_string())),
            }
            progress(i + 1, total, path);
            continue;
        }
        match prepare_file(store, path, name, opts, viewer) {
            Ok(Prepared::Unchanged(doc_id)) => report
                .outcomes
                .push((path.clone(), Outcome::Unchanged { doc_id })),
            Ok(Prepared::Ready(doc, chunks)) => {
                batch_chunks += chunks.len();
                batch.push((path.clone(), doc, chunks));
            }
            Err(e) => report.failed.push((path.clone(), e.to_string())),
        }
        if batch.len() >= opts.batch_docs || batch_chunks >= opts.batch_chunks {
            commit_batch(store, &mut batch, &mut report)?;
            batch_chunks = 0;
        }
        progress(i + 1, total, path);
    }
    commit_batch(store, &mut batch, &mut report)?;
    for (_, o) in &report.outcomes {
        match o {
            Outcome::New { chunks, .. } => {
                report.new += 1;
                report.chunks += chunks;
            }
            Outcome::Replaced { chunks, .. } => {
                report.replaced += 1;
                report.chunks += chunks;
            }
            Outcome::Unchanged { .. } => report.unchanged += 1,
        }
    }
    report.seconds = t0.elapsed().as_secs_f64();
    Ok(report)
}

/// Feed records per atomic commit: records are tiny, so commits are batched wider than
/// documents.
const FEED_BATCH: usize = 4096;

fn prepare_feed_file(
    store: &Store,
    path: &Path,
    name: &str,
    format: FeedFormat,
    opts: &IngestOptions,
    viewer: &Viewer,
) -> Result<Vec<std::result::Result<feeds::Record, (usize, IngestError)>>> {
    let canonical = std::fs::canonicalize(path)?;
    let bytes = std::fs::read(path)?;
    let features = parse_feed(format, &bytes, &opts.csv)?;
    let feed = feeds::feed_name(opts, path);
    Ok(feeds::prepare_features(
        store,
        &feed,
        &canonical.to_string_lossy(),
        name,
        format,
        features,
        opts,
        viewer,
    ))
}

enum Prepared {
    Unchanged(DocId),
    Ready(Document, Vec<Chunk>),
}

fn prepare_file(
    store: &Store,
    path: &Path,
    name: &str,
    opts: &IngestOptions,
    viewer: &Viewer,
) -> Result<Prepared> {
    let format = Format::from_path(path).ok_or_else(|| {
        IngestError::Unsupported(
            path.extension()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
        )
    })?;
    // Identity from the canonical path (re-ingesting a file replaces it wherever it is named
    // from); what readers see is the name it was ingested under.
    let canonical = std::fs::canonicalize(path)?;
    let origin = opts.origin(&canonical.to_string_lossy());
    let source = name.to_string();
    let bytes = std::fs::read(path)?;
    let doc_id = doc_id_for(&origin);
    // The namespace keeps a named user to their own documents, so this lookup sees only those.
    if let Some(meta) = store.document_meta(&doc_id, &Viewer::Unrestricted)? {
        if meta.content_hash == opts.hash(&bytes) {
            return Ok(Prepared::Unchanged(doc_id));
        }
    }
    let (doc, chunks) = opts.prepare(&origin, &source, format, &bytes)?;
    if !viewer.may_see(&doc.meta.marking) {
        return Err(IngestError::AboveAccess(doc.meta.marking));
    }
    Ok(Prepared::Ready(doc, chunks))
}

fn commit_batch(
    store: &Store,
    batch: &mut Vec<(PathBuf, Document, Vec<Chunk>)>,
    report: &mut IngestReport,
) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let items: Vec<(PathBuf, Document, Vec<Chunk>)> = std::mem::take(batch);
    let paths: Vec<PathBuf> = items.iter().map(|(p, _, _)| p.clone()).collect();
    let sizes: Vec<(DocId, usize, u64)> = items
        .iter()
        .map(|(_, d, c)| (d.meta.doc_id.clone(), c.len(), d.meta.bytes))
        .collect();
    let committed = store.commit_documents(items.into_iter().map(|(_, d, c)| (d, c)).collect())?;
    tracing::info!(documents = committed.len(), "ingest batch committed");
    for ((path, (doc_id, chunks, bytes)), c) in paths.into_iter().zip(sizes).zip(committed) {
        report.bytes += bytes;
        let o = match c {
            Committed::New => Outcome::New { doc_id, chunks },
            Committed::Replaced => Outcome::Replaced { doc_id, chunks },
        };
        report.outcomes.push((path, o));
    }
    Ok(())
}

/// Ingests one uploaded document (`name` gives its type and, inside the uploader's namespace,
/// its identity: uploading the same name again replaces it, or does nothing when the bytes are
/// unchanged). Refused when marked above what `viewer` may see.
pub fn ingest_upload(
    store: &Store,
    name: &str,
    bytes: &[u8],
    opts: &IngestOptions,
    viewer: &Viewer,
) -> Result<Outcome> {
    let format = Format::from_path(Path::new(name)).ok_or_else(|| {
        IngestError::Unsupported(
            Path::new(name)
                .extension()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
        )
    })?;
    let origin = opts.origin(&format!("upload:{name}"));
    let doc_id = doc_id_for(&origin);
    if let Some(meta) = store.document_meta(&doc_id, &Viewer::Unrestricted)? {
        if meta.content_hash == opts.hash(bytes) {
            return Ok(Outcome::Unchanged { doc_id });
        }
    }
    let (doc, chunks) = opts.prepare(&origin, name, format, bytes)?;
    if !viewer.may_see(&doc.meta.marking) {
        return Err(IngestError::AboveAccess(doc.meta.marking));
    }
    let n = chunks.len();
    let c = store.commit_documents(vec![(doc, chunks)])?;
    Ok(match c[0] {
        Committed::New => Outcome::New { doc_id, chunks: n },
        Committed::Replaced => Outcome::Replaced { doc_id, chunks: n },
    })
}

/// Chunks embedded per round trip to the embedder (and per durable vector batch). Small enough
/// that a stop request (server shutdown) waits for at most a few seconds of embedding.
const EMBED_BATCH: usize = 64;
/// Snapshot the vector index after this many new vectors, so its WAL stays short.
const CHECKPOINT_EVERY: usize = 50_000;

/// Embeds every committed chunk that has no vector yet, until none is left or `stop` is set.
/// Returns how many vectors were added. Safe to interrupt at any point: what was added is
/// durable, and the next run continues from there. The vector index is snapshotted every
/// `CHECKPOINT_EVERY` vectors; callers snapshot once more when they finish a long run.
pub fn embed_pending(store: &Store, embedder: &Embedder, stop: &AtomicBool) -> Result<usize> {
    let mut added = 0;
    let mut since_checkpoint = 0;
    while !stop.load(Ordering::Relaxed) {
        let pending = store.pending_chunks(EMBED_BATCH)?;
        if pending.is_empty() {
            break;
        }
        let texts: Vec<String> = pending.iter().map(Chunk::embedding_text).collect();
        let vectors = embedder.embed_background(&texts)?;
        let items: Vec<(u64, Vec<f32>)> =
            pending.iter().map(|c| c.chunk_id.0).zip(vectors).collect();
        store.add_vectors(&items)?;
        added += items.len();
        since_checkpoint += items.len();
        if since_checkpoint >= CHECKPOINT_EVERY {
            store
                .vectors()
                .checkpoint()
                .map_err(sextant_store::StoreError::from)?;
            since_checkpoint = 0;
        }
    }
    Ok(added)
}

/// Runs [`embed_pending`] on its own thread beside an ingest: it keeps embedding what each batch
/// commits, and returns (with the number of vectors added) once `text_done` is set and nothing
/// is left. While `stop` is set it embeds nothing more (`--no-embed`), and still returns once
/// `text_done` is set.
pub fn spawn_catch_up(
    store: Arc<Store>,
    embedder: Embedder,
    text_done: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Result<usize>> {
    std::thread::spawn(move || {
        let mut total = 0;
        loop {
            let finished = text_done.load(Ordering::SeqCst);
            let n = embed_pending(&store, &embedder, &stop)?;
            total += n;
            if n == 0 {
                if finished {
                    return Ok(total);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    })
}
