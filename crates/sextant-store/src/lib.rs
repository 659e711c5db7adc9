//! One data directory holding everything Sextant knows: a versioned manifest, the full-text
//! index (documents, their extracted text and their chunks) and the vector index.
//!
//! Layout of `<data-dir>`:
//! - `manifest.json` — format version, embedding model id and dimension (written atomically);
//! - `text/` — tantivy: the source of truth for which documents and chunks exist;
//! - `vectors/` — WAL + snapshot of the ANN index, keyed by chunk id.
//!
//! In memory beside them: the chunk -> marking table (the vector index's access predicate) and
//! the spatial index (rstar over every chunk's geotags), both built from the text index's fast
//! fields when the store opens and kept in step by every commit, delete and refresh.
//!
//! Invariants:
//! - A document and its chunks become visible in one tantivy commit; a replaced document's old
//!   chunks disappear in that same commit. A crash therefore leaves each document either fully
//!   old or fully new.
//! - Chunk ids are allocated under the store's write lock and committed in increasing order, so
//!   "every live chunk with an id above the vector index's highest key" is exactly the set still
//!   waiting for an embedding. Vectors catch up asynchronously; BM25 never waits for them.
//! - Vectors for chunks that are no longer live (a crash between a text commit and the vector
//!   removal) are dropped when the store opens.

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use sextant_access::{Access, Marking};
use sextant_spatial::{Area, SpatialIndex};
use sextant_text::{TextIndex, Visible};
use sextant_types::{Chunk, ChunkId, DocId, Document, DocumentMeta};
use sextant_vector::{Filter, VectorIndex};
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Version of the on-disk layout. Bump on any incompatible change, and keep a frozen copy of the
/// old layout under `tests/data/compat/` with a test that it still opens (or is refused clearly).
/// Format 2 added classification markings; format 1 directories open read-only, every record
/// reading as UNCLASSIFIED. Format 3 added chunk geotags (the spatial index is built from them);
/// format 2 directories open read-only, their chunks without places.
pub const FORMAT_VERSION: u32 = 3;
/// Formats this build can read.
const READABLE: [u32; 3] = [1, 2, 3];

/// Who is reading: the local administrator (whoever can read the data directory can read all of
/// it anyway), or a person with a clearance. Every read path of the store takes one; there is no
/// default, so a new path cannot forget it.
#[derive(Debug, Clone)]
pub enum Viewer {
    Unrestricted,
    Cleared(Access),
}

impl Viewer {
    /// Whether the reader may see something with this canonical marking. A marking that does not
    /// parse is seen by nobody but the administrator.
    pub fn may_see(&self, marking: &str) -> bool {
        match self {
            Viewer::Unrestricted => true,
            Viewer::Cleared(a) => Marking::parse(marking).is_ok_and(|m| a.may_see(&m)),
        }
    }
}

/// Chunk id -> marking, interned: the vector index's access predicate. Built from the text
/// index's fast fields when the store opens and kept in step by every commit. Chunk ids are
/// allocated in increasing order from 1 and never reused, so the table is paged by id: a page
/// holds [`PAGE`] consecutive ids and is freed when its last live chunk is replaced or deleted.
/// Memory follows the live chunks (plus 8 bytes per page of ids ever allocated), not every id
/// ever allocated — a feed whose records update all day does not grow it — and the predicate
/// stays three array reads.
#[derive(Default)]
struct MarkingTable {
    pages: Vec<Option<Box<Page>>>,
    names: Vec<String>,
    ids: HashMap<String, u32>,
}

const PAGE: usize = 4096;

struct Page {
    live: u32,
    by_chunk: [u32; PAGE],
}

const NO_MARKING: u32 = u32::MAX;

impl MarkingTable {
    /// The table of every live chunk in `text`.
    fn build(text: &TextIndex) -> Result<MarkingTable> {
        let mut table = MarkingTable::default();
        for (id, marking) in text.chunk_markings()? {
            let m = table.intern(&marking);
            table.set(id, m);
        }
        Ok(table)
    }

    fn set(&mut self, chunk: u64, marking: u32) {
        let (p, o) = (chunk as usize / PAGE, chunk as usize % PAGE);
        if p >= self.pages.len() {
            self.pages.resize_with(p + 1, || None);
        }
        let page = self.pages[p].get_or_insert_with(|| {
            Box::new(Page {
                live: 0,
                by_chunk: [NO_MARKING; PAGE],
            })
        });
        if page.by_chunk[o] == NO_MARKING {
            page.live += 1;
        }
        page.by_chunk[o] = marking;
    }

    fn clear(&mut self, chunk: u64) {
        let (p, o) = (chunk as usize / PAGE, chunk as usize % PAGE);
        let Some(slot) = self.pages.get_mut(p) else {
            return;
        };
        let Some(page) = slot else {
            return;
        };
        if page.by_chunk[o] != NO_MARKING {
            page.by_chunk[o] = NO_MARKING;
            page.live -= 1;
            if page.live == 0 {
                *slot = None;
            }
        }
    }

    fn get(&self, chunk: u64) -> Option<u32> {
        let (p, o) = (chunk as usize / PAGE, chunk as usize % PAGE);
        let page = self.pages.get(p)?.as_ref()?;
        Some(page.by_chunk[o]).filter(|m| *m != NO_MARKING)
    }

    fn intern(&mut self, marking: &str) -> u32 {
        if let Some(id) = self.ids.get(marking) {
            return *id;
        }
        let id = self.names.len() as u32;
        self.names.push(marking.to_string());
        self.ids.insert(marking.to_string(), id);
        id
    }
}

/// What one reader may touch, resolved once per request: the text-index filter and the set of
/// interned markings the vector predicate accepts (`None`: everything).
pub struct Scope {
    visible: Visible,
    /// Indexed by interned marking id.
    allowed: Option<Vec<bool>>,
}

impl Scope {
    pub fn visible(&self) -> &Visible {
        &self.visible
    }

    pub fn is_unrestricted(&self) -> bool {
        self.allowed.is_none()
    }
}

#[derive(thiserror::Error, Debug)]
pub enum StoreError {
    #[error(transparent)]
    Text(#[from] sextant_text::TextError),
    #[error(transparent)]
    Vector(#[from] sextant_vector::VectorError),
    #[error("data directory {dir}: {msg}")]
    Manifest { dir: PathBuf, msg: String },
    #[error("data directory {dir} was built with embedding model {found} (dim {found_dim}); this build uses {expected} (dim {expected_dim}). Re-ingest into a new data directory.")]
    ModelMismatch {
        dir: PathBuf,
        found: String,
        found_dim: usize,
        expected: String,
        expected_dim: usize,
    },
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// `manifest.json`: what a data directory was built with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreManifest {
    pub format_version: u32,
    pub embedding_model: String,
    pub embedding_dim: usize,
}

/// Counts for status pages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreStatus {
    pub documents: usize,
    pub chunks: usize,
    pub vectors: usize,
    /// Live chunks that have no vector yet.
    pub vectors_pending: usize,
}

impl StoreStatus {
    pub fn vectors_complete(&self) -> bool {
        self.vectors_pending == 0
    }
}

/// What committing a document did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    New,
    Replaced,
}

pub struct Store {
    dir: PathBuf,
    manifest: StoreManifest,
    text: TextIndex,
    vectors: VectorIndex,
    next_chunk: AtomicU64,
    /// Serialises chunk-id allocation with the text commit that publishes those ids.
    write: Mutex<()>,
    markings: RwLock<MarkingTable>,
    spatial: RwLock<SpatialIndex>,
    /// Key of the chunk ids shown to readers (see [`Store::public_chunk_id`]).
    id_key: [u8; 32],
}

/// The key of public chunk ids: `<dir>/id.key`, made once with random bytes. A directory that
/// cannot be written (an old format opened read-only) gets a key for this process only.
fn id_key(dir: &Path) -> [u8; 32] {
    let path = dir.join("id.key");
    if let Ok(bytes) = std::fs::read(&path) {
        if let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice()) {
            return key;
        }
    }
    let key: [u8; 32] = rand::random();
    if let Err(e) = write_atomic(&path, &key) {
        tracing::warn!(
            "cannot keep {}: {e}; chunk ids shown to readers change on restart",
            path.display()
        );
    }
    key
}

/// Builds the spatial index over every live chunk's geotags.
fn build_spatial(text: &TextIndex) -> Result<SpatialIndex> {
    let mut items = Vec::new();
    for (id, tags) in text.chunk_geo()? {
        items.extend(tags.into_iter().map(|t| (id, t.geometry)));
    }
    Ok(SpatialIndex::bulk_load(items))
}

/// Writes `bytes` to `path` so that a crash leaves either the old or the new content.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(parent) = path.parent() {
        std::fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}

impl Store {
    /// Opens the data directory, creating it for `embedding_model`/`dim` when it is new. An
    /// existing directory built with another embedding model is refused.
    pub fn open(dir: &Path, embedding_model: &str, dim: usize) -> Result<Store> {
        std::fs::create_dir_all(dir)?;
        let manifest_path = dir.join("manifest.json");
        let manifest = if manifest_path.exists() {
            let m = read_manifest(dir)?;
            if m.format_version != FORMAT_VERSION {
                return Err(StoreError::Manifest {
                    dir: dir.to_path_buf(),
                    msg: format!(
                        "format version {} predates {} and is read-only in this build: re-ingest into a new data directory",
                        m.format_version,
                        if m.format_version < 2 { "classification markings" } else { "geotags" }
                    ),
                });
            }
            if m.embedding_model != embedding_model || m.embedding_dim != dim {
                return Err(StoreError::ModelMismatch {
                    dir: dir.to_path_buf(),
                    found: m.embedding_model,
                    found_dim: m.embedding_dim,
                    expected: embedding_model.to_string(),
                    expected_dim: dim,
                });
            }
            m
        } else {
            let m = StoreManifest {
                format_version: FORMAT_VERSION,
                embedding_model: embedding_model.to_string(),
                embedding_dim: dim,
            };
            let json = serde_json::to_vec_pretty(&m).expect("manifest serialises");
            write_atomic(&manifest_path, &json)?;
            m
        };
        Self::open_with(dir, manifest)
    }

    /// Opens an existing data directory with whatever model it was built with.
    pub fn open_existing(dir: &Path) -> Result<Store> {
        let m = read_manifest(dir)?;
        Self::open_with(dir, m)
    }

    fn open_with(dir: &Path, manifest: StoreManifest) -> Result<Store> {
        let text = TextIndex::open(&dir.join("text"))?;
        let vectors = VectorIndex::open(&dir.join("vectors"), manifest.embedding_dim)?;
        let next = text
            .max_chunk_id()?
            .max(vectors.max_key())
            .map_or(1, |m| m + 1);
        let table = MarkingTable::build(&text)?;
        let spatial = build_spatial(&text)?;
        let store = Store {
            dir: dir.to_path_buf(),
            manifest,
            text,
            vectors,
            next_chunk: AtomicU64::new(next),
            write: Mutex::new(()),
            markings: RwLock::new(table),
            spatial: RwLock::new(spatial),
            id_key: id_key(dir),
        };
        Ok(store)
    }

    /// Resolves what `viewer` may touch: the markings present in the store that their access
    /// admits. Cheap (the distinct markings are few); call once per request.
    pub fn scope(&self, viewer: &Viewer) -> Result<Scope> {
        if let Viewer::Unrestricted = viewer {
            return Ok(Scope {
                visible: Visible::All,
                allowed: None,
            });
        }
        let mut names = self.text.markings()?;
        names.retain(|m| viewer.may_see(m));
        let table = self.markings.read();
        let mut allowed = vec![false; table.names.len()];
        for n in &names {
            if let Some(id) = table.ids.get(n) {
                allowed[*id as usize] = true;
            }
        }
        Ok(Scope {
            visible: Visible::Markings(names),
            allowed: Some(allowed),
        })
    }

    /// Nearest chunks to `query` among those in `scope`: the access check is the vector index's
    /// own filter (an exact scan over few allowed keys, a filtered graph walk over many), never a
    /// cut of an unfiltered top-k.
    pub fn vector_search(&self, query: &[f32], k: usize, scope: &Scope) -> Result<Vec<(u64, f32)>> {
        self.vector_search_in(query, k, scope, None)
    }

    /// [`Store::vector_search`] restricted to chunks in `area` (keys from
    /// [`Store::area_chunks`], already inside `scope`): the vector index scans exactly those.
    pub fn vector_search_in(
        &self,
        query: &[f32],
        k: usize,
        scope: &Scope,
        area: Option<&[u64]>,
    ) -> Result<Vec<(u64, f32)>> {
        if let Some(keys) = area {
            return Ok(self.vectors.search(query, k, Filter::Allowed(keys))?);
        }
        match &scope.allowed {
            None => Ok(self.vectors.search(query, k, Filter::All)?),
            Some(_) => {
                let table = self.markings.read();
                let pred = |key: u64| self.admits(&table, scope, key);
                Ok(self.vectors.search(query, k, Filter::Predicate(&pred))?)
            }
        }
    }

    /// Whether `scope` admits the chunk (by the marking table; the administrator's scope admits
    /// every live chunk).
    fn admits(&self, table: &MarkingTable, scope: &Scope, chunk: u64) -> bool {
        match (&scope.allowed, table.get(chunk)) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(allowed), Some(m)) => allowed.get(m as usize).copied().unwrap_or(false),
        }
    }

    /// Ids of the live chunks inside `scope` with a place in `area`, ascending. Exact: the
    /// R-tree's candidates are refined against the area's geometry.
    pub fn area_chunks(&self, area: &Area, scope: &Scope) -> Vec<u64> {
        let mut keys = self.spatial.read().query(area);
        let table = self.markings.read();
        keys.retain(|k| self.admits(&table, scope, *k));
        keys
    }

    /// Ids of the live chunks of `docs` inside `scope`, ascending.
    pub fn doc_chunks(&self, docs: &[DocId], scope: &Scope) -> Result<Vec<u64>> {
        let mut keys = Vec::new();
        for d in docs {
            keys.extend(self.text.chunk_ids_of(d)?);
        }
        let table = self.markings.read();
        keys.retain(|k| self.admits(&table, scope, *k));
        keys.sort_unstable();
        keys.dedup();
        Ok(keys)
    }

    /// `(chunk id, km)` of the chunks inside `scope` nearest to the centre of a `Near` area,
    /// within its radius, nearest first.
    pub fn nearest_chunks(&self, area: &Area, scope: &Scope, limit: usize) -> Vec<(u64, f64)> {
        let spatial = self.spatial.read();
        let table = self.markings.read();
        // Hidden chunks are skipped, not counted: ask for all within the radius, then cut.
        let mut out = spatial.nearest(area, usize::MAX);
        out.retain(|(k, _)| self.admits(&table, scope, *k));
        out.truncate(limit);
        out
    }

    /// Number of chunks with places (all of them: for the administrator's status).
    pub fn geotagged_chunks(&self) -> usize {
        self.spatial.read().len()
    }

    /// Drops vectors whose chunk is no longer live (left by a crash between a text commit and
    /// the matching vector removal). Returns how many were dropped. Needs the writer role.
    pub fn reconcile(&self) -> Result<usize> {
        let live: HashSet<u64> = self.text.live_chunk_ids()?.into_iter().collect();
        let stale: Vec<u64> = self
            .vectors
            .keys()
            .into_iter()
            .filter(|k| !live.contains(k))
            .collect();
        if stale.is_empty() {
            return Ok(0);
        }
        tracing::info!(
            stale = stale.len(),
            "dropping vectors of chunks that are gone"
        );
        Ok(self.vectors.remove(&stale)?)
    }

    /// The id chunk `id` is shown under, everywhere outside the store: a keyed hash of it, 53
    /// bits (exact as a JSON number in every client). Internal ids come from one counter, so
    /// showing them would tell a reader how many chunks, hidden ones included, were committed
    /// between two they see; a keyed hash tells nothing, and is stable for the directory.
    pub fn public_chunk_id(&self, id: u64) -> u64 {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(self.id_key);
        h.update(id.to_le_bytes());
        let d = h.finalize();
        u64::from_le_bytes(d[..8].try_into().expect("8 bytes")) & ((1 << 53) - 1)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn manifest(&self) -> &StoreManifest {
        &self.manifest
    }

    pub fn text(&self) -> &TextIndex {
        &self.text
    }

    pub fn vectors(&self) -> &VectorIndex {
        &self.vectors
    }

    /// A document's metadata, if it exists and `viewer` may see all of it (its roll-up marking).
    /// A document the viewer may not see is reported exactly like one that does not exist.
    pub fn document_meta(&self, id: &DocId, viewer: &Viewer) -> Result<Option<DocumentMeta>> {
        Ok(self
            .text
            .document_meta(id)?
            .filter(|m| viewer.may_see(&m.marking)))
    }

    /// Metadata of every document `viewer` may see all of (the rule of
    /// [`Store::document_meta`]), in no particular order.
    pub fn documents(&self, viewer: &Viewer) -> Result<Vec<DocumentMeta>> {
        let mut all = self.text.documents()?;
        all.retain(|m| viewer.may_see(&m.marking));
        Ok(all)
    }

    /// A document with its text, under the same rule as [`Store::document_meta`].
    pub fn document(&self, id: &DocId, viewer: &Viewer) -> Result<Option<Document>> {
        Ok(self
            .text
            .document(id)?
            .filter(|d| viewer.may_see(&d.meta.marking)))
    }

    /// Commits documents with their chunks in one atomic text commit. Chunk ids are assigned
    /// here (the ids in `chunks` are ignored); the ids of the chunks they replace lose their
    /// vectors right after. Returns, per document, whether it was new or replaced one.
    pub fn commit_documents(
        &self,
        mut docs: Vec<(Document, Vec<Chunk>)>,
    ) -> Result<Vec<Committed>> {
        let _guard = self.write.lock();
        let mut outcome = Vec::with_capacity(docs.len());
        let mut replaced_chunks = Vec::new();
        for (doc, chunks) in &mut docs {
            let old = self.text.chunk_ids_of(&doc.meta.doc_id)?;
            outcome.push(
                if old.is_empty() && self.text.document_meta(&doc.meta.doc_id)?.is_none() {
                    Committed::New
                } else {
                    Committed::Replaced
                },
            );
            replaced_chunks.extend(old);
            let first = self
                .next_chunk
                .fetch_add(chunks.len() as u64, Ordering::SeqCst);
            for (i, c) in chunks.iter_mut().enumerate() {
                c.chunk_id = ChunkId(first + i as u64);
                c.doc_id = doc.meta.doc_id.clone();
                c.ordinal = i as u32;
            }
            doc.meta.chunks = chunks.len() as u32;
            if let Err(e) = self.text.stage_document(doc, chunks) {
                self.text.rollback()?;
                return Err(e.into());
            }
        }
        self.text.commit()?;
        {
            let mut table = self.markings.write();
            for old in &replaced_chunks {
                table.clear(*old);
            }
            for (_, chunks) in &docs {
                for c in chunks {
                    let m = table.intern(&c.marking);
                    table.set(c.chunk_id.0, m);
                }
            }
        }
        {
            let mut spatial = self.spatial.write();
            for old in &replaced_chunks {
                spatial.remove(*old);
            }
            for (_, chunks) in &docs {
                for c in chunks {
                    for t in &c.geo {
                        spatial.insert(c.chunk_id.0, t.geometry.clone());
                    }
                }
            }
        }
        if !replaced_chunks.is_empty() {
            self.vectors.remove(&replaced_chunks)?;
        }
        Ok(outcome)
    }

    /// Removes a document, its chunks and their vectors. `false` when there was none, or when
    /// `viewer` may not see it (the two are indistinguishable to the caller).
    pub fn delete_document(&self, id: &DocId, viewer: &Viewer) -> Result<bool> {
        let _guard = self.write.lock();
        if self.document_meta(id, viewer)?.is_none() {
            return Ok(false);
        }
        let old = self.text.chunk_ids_of(id)?;
        self.text.stage_delete(id)?;
        self.text.commit()?;
        {
            let mut table = self.markings.write();
            for c in &old {
                table.clear(*c);
            }
        }
        {
            let mut spatial = self.spatial.write();
            for c in &old {
                spatial.remove(*c);
            }
        }
        self.vectors.remove(&old)?;
        Ok(true)
    }

    /// Ids of a document's live chunks (whatever their marking: for the local administrator and
    /// for deletion after an access check).
    pub fn chunk_ids_of(&self, id: &DocId) -> Result<Vec<u64>> {
        Ok(self.text.chunk_ids_of(id)?)
    }

    /// Up to `limit` live chunks that still need a vector, lowest id first.
    pub fn pending_chunks(&self, limit: usize) -> Result<Vec<Chunk>> {
        Ok(self
            .text
            .chunks_after(self.vectors.max_key().map(ChunkId), limit)?)
    }

    /// Stores vectors for chunks (durable when it returns).
    pub fn add_vectors(&self, items: &[(u64, Vec<f32>)]) -> Result<()> {
        Ok(self.vectors.insert_batch(items)?)
    }

    /// Counts of what `viewer` may see. Vectors are counted as the visible chunks that are not
    /// pending (chunks at or below the vector index's highest key have their vector).
    pub fn status(&self, viewer: &Viewer) -> Result<StoreStatus> {
        let scope = self.scope(viewer)?;
        let v = scope.visible();
        let chunks = self.text.num_chunks(v)?;
        let pending = self
            .text
            .count_chunks_after(self.vectors.max_key().map(ChunkId), v)?;
        Ok(StoreStatus {
            documents: self.text.num_documents(v)?,
            chunks,
            vectors: if scope.is_unrestricted() {
                self.vectors.len()
            } else {
                chunks - pending.min(chunks)
            },
            vectors_pending: pending,
        })
    }

    /// Sees commits made by another process on the same directory (a CLI beside a server), and
    /// rebuilds the chunk -> marking table from them.
    pub fn refresh(&self) -> Result<()> {
        let _guard = self.write.lock();
        if !self.text.refresh()? {
            return Ok(());
        }
        *self.markings.write() = MarkingTable::build(&self.text)?;
        *self.spatial.write() = build_spatial(&self.text)?;
        Ok(())
    }
}

/// Reads `<dir>/manifest.json`, refusing formats this build does not know.
pub fn read_manifest(dir: &Path) -> Result<StoreManifest> {
    let path = dir.join("manifest.json");
    let raw = std::fs::read(&path).map_err(|e| StoreError::Manifest {
        dir: dir.to_path_buf(),
        msg: if e.kind() == std::io::ErrorKind::NotFound {
            "no manifest.json: not a Sextant data directory (ingest something first)".into()
        } else {
            format!("cannot read manifest.json: {e}")
        },
    })?;
    let m: StoreManifest = serde_json::from_slice(&raw).map_err(|e| StoreError::Manifest {
        dir: dir.to_path_buf(),
        msg: format!("manifest.json is malformed: {e}"),
    })?;
    if !READABLE.contains(&m.format_version) {
        return Err(StoreError::Manifest {
            dir: dir.to_path_buf(),
            msg: format!(
                "format version {} is not supported by this build (it reads version {FORMAT_VERSION})",
                m.format_version
            ),
        });
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pages held (each [`PAGE`] × 4 bytes).
    fn pages_held(t: &MarkingTable) -> usize {
        t.pages.iter().filter(|p| p.is_some()).count()
    }

    /// Records replaced all day (new chunk ids each time) leave the table no larger than its
    /// live chunks need.
    #[test]
    fn the_marking_table_compacts_as_chunks_are_replaced() {
        let mut t = MarkingTable::default();
        let s = t.intern("SECRET");
        let u = t.intern("UNCLASSIFIED");
        // 100 records, each replaced 1,000 times: 100,000 chunk ids allocated in order.
        let mut live: Vec<u64> = (1..=100).collect();
        for &c in &live {
            t.set(c, u);
        }
        let mut next = 101;
        for _ in 0..1000 {
            for c in live.iter_mut() {
                t.clear(*c);
                *c = next;
                t.set(next, s);
                next += 1;
            }
        }
        assert!(pages_held(&t) <= 2, "{} pages held", pages_held(&t));
        for &c in &live {
            assert_eq!(t.get(c), Some(s));
        }
        assert_eq!(t.get(1), None);
        assert_eq!(t.get(next + 10_000), None);
        for &c in &live {
            t.clear(c);
        }
        assert_eq!(pages_held(&t), 0);
        assert_eq!(t.names.len(), 2);
    }
}
