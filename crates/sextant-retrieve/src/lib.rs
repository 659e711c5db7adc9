//! Retrieval: BM25 (tantivy), dense (the vector index) and hybrid fusion of the two, plus the
//! IR metrics used by `sextant eval retrieval`.
//!
//! Access control and geo filters apply inside both indexes — a tantivy sub-query and a
//! vector-index filter — never as a post-filter on top-k: a search in an area first resolves
//! the chunks with a place in it (the store's R-tree, exact, inside the reader's scope), then
//! ranks only those.

pub mod metrics;

use sextant_models::Embedder;
use sextant_spatial::Area;
use sextant_store::{Scope, Store, Viewer};
use sextant_text::Visible;
use sextant_types::{ChunkId, DocId, Hit, SearchMode};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(thiserror::Error, Debug)]
pub enum RetrieveError {
    #[error(transparent)]
    Store(#[from] sextant_store::StoreError),
    #[error(transparent)]
    Text(#[from] sextant_text::TextError),
    #[error(transparent)]
    Vector(#[from] sextant_vector::VectorError),
    #[error(transparent)]
    Model(#[from] sextant_models::ModelError),
    #[error("dense search needs the embedding model, which is not loaded")]
    NoEmbedder,
}

pub type Result<T> = std::result::Result<T, RetrieveError>;

/// How BM25 and dense rankings are combined in hybrid mode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fusion {
    /// Reciprocal-rank fusion: score = sum over lists of 1 / (k + rank).
    Rrf { k: f32 },
    /// Min-max normalise each list's scores, then blend: w * bm25 + (1 - w) * dense.
    Blend { bm25_weight: f32 },
}

impl Default for Fusion {
    /// Measured on the BIG-bench retrieval set (docs/retrieval.md): a min-max blend with BM25 at
    /// 0.2 beat RRF (k = 10 and 60) and every other blend weight tried.
    fn default() -> Self {
        Fusion::Blend { bm25_weight: 0.2 }
    }
}

/// A search. `k` is the number of chunks returned.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub query: String,
    pub k: usize,
    pub mode: SearchMode,
    pub fusion: Fusion,
    /// Only chunks with a place in this area. With an empty query, the search lists what lies
    /// in the area: nearest first for a `Near` area, most recently ingested first otherwise.
    pub area: Option<Area>,
    /// Only chunks of these documents (a question that names what it is about).
    pub docs: Option<Vec<DocId>>,
}

impl SearchRequest {
    pub fn new(query: impl Into<String>, k: usize, mode: SearchMode) -> Self {
        SearchRequest {
            query: query.into(),
            k,
            mode,
            fusion: Fusion::default(),
            area: None,
            docs: None,
        }
    }

    pub fn in_docs(mut self, docs: Option<Vec<DocId>>) -> Self {
        self.docs = docs;
        self
    }

    pub fn in_area(mut self, area: Option<Area>) -> Self {
        self.area = area;
        self
    }
}

/// Upper bound on `k`: a request for more is clamped, never an allocation the client controls.
pub const MAX_K: usize = 1000;
/// Upper bound on `k` when listing an area (empty query): no ranking work, so a whole
/// country's records fit.
pub const MAX_LIST: usize = 100_000;
/// Each list feeding the fusion is this many times deeper than `k` (at least `FUSION_MIN_DEPTH`).
const FUSION_DEPTH: usize = 4;
const FUSION_MIN_DEPTH: usize = 50;

pub struct Retriever {
    store: Arc<Store>,
    embedder: Option<Embedder>,
}

impl Retriever {
    pub fn new(store: Arc<Store>, embedder: Option<Embedder>) -> Retriever {
        Retriever { store, embedder }
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn embedder(&self) -> Option<&Embedder> {
        self.embedder.as_ref()
    }

    /// Runs a search over what `viewer` may see and returns up to `k` chunk hits, best first.
    /// Blocking: call it from a blocking thread in async code.
    pub fn search(&self, req: &SearchRequest, viewer: &Viewer) -> Result<Vec<Hit>> {
        let scope = self.store.scope(viewer)?;
        self.search_in(req, &scope)
    }

    /// [`Retriever::search`] inside an already resolved scope (several searches for one request).
    pub fn search_in(&self, req: &SearchRequest, scope: &Scope) -> Result<Vec<Hit>> {
        let listing = req.query.trim().is_empty();
        let k = req.k.min(if listing { MAX_LIST } else { MAX_K });
        if k == 0 {
            return Ok(Vec::new());
        }
        let mut area = match &req.area {
            None if req.query.trim().is_empty() => return Ok(Vec::new()),
            None => None,
            Some(area) => Some((area, self.store.area_chunks(area, scope))),
        };
        let doc_keys = match &req.docs {
            Some(docs) => Some(self.store.doc_chunks(docs, scope)?),
            None => None,
        };
        let keys: Option<Vec<u64>> = match (&mut area, doc_keys) {
            (Some((_, a)), Some(d)) => {
                let d: std::collections::HashSet<u64> = d.into_iter().collect();
                a.retain(|k| d.contains(k));
                Some(a.clone())
            }
            (Some((_, a)), None) => Some(a.clone()),
            (None, d) => d,
        };
        let keys = keys.as_deref();
        if keys.is_some_and(|k| k.is_empty()) {
            return Ok(Vec::new());
        }
        let ranked = if listing {
            let (area, keys) = area
                .as_ref()
                .expect("an empty query without an area returned");
            self.list(area, keys, k, scope)
        } else {
            match req.mode {
                SearchMode::Bm25 => self.bm25(&req.query, k, scope, keys)?,
                SearchMode::Dense => self.dense(&req.query, k, scope, keys)?,
                SearchMode::Hybrid => {
                    let depth = (k * FUSION_DEPTH).max(FUSION_MIN_DEPTH);
                    // Both searches at once, the dense one (query embedding, then the vector
                    // index) on a thread of its own. Hybrid degrades to BM25 while no embedder
                    // is loaded; the status endpoints say so.
                    let (lexical, dense) = std::thread::scope(|s| {
                        let dense = self
                            .embedder
                            .as_ref()
                            .map(|_| s.spawn(|| self.dense(&req.query, depth, scope, keys)));
                        let lexical = self.bm25(&req.query, depth, scope, keys);
                        let dense = match dense {
                            Some(h) => h.join().expect("the dense search thread panicked"),
                            None => Ok(Vec::new()),
                        };
                        (lexical, dense)
                    });
                    let (lexical, dense) = (lexical?, dense?);
                    // A chunk still waiting for its vector cannot be in the dense list: it is
                    // fused on its BM25 evidence alone, at full weight, so that hybrid ranks
                    // it as fairly as a chunk with a vector (never below BM25's own order).
                    let vectors = self.store.vectors();
                    let has_vector = |id: u64| vectors.contains(id);
                    let mut fused = fuse_with(&lexical, &dense, req.fusion, &has_vector);
                    fused.truncate(k);
                    fused
                }
            }
        };
        let mut hits = self.hydrate(ranked, scope)?;
        if let Some(area) = &req.area {
            for h in &mut hits {
                place_in(h, area);
            }
        }
        Ok(hits)
    }

    /// Every chunk of `docs` that `scope` admits, in chunk-id order (reading order), or `None`
    /// when there are more than `limit` (a caller then searches inside them instead).
    pub fn chunks_of_docs(
        &self,
        docs: &[DocId],
        scope: &Scope,
        limit: usize,
    ) -> Result<Option<Vec<Hit>>> {
        let keys = self.store.doc_chunks(docs, scope)?;
        if keys.len() > limit {
            return Ok(None);
        }
        Ok(Some(self.hydrate(
            keys.into_iter().map(|k| (k, 0.0)).collect(),
            scope,
        )?))
    }

    /// What lies in an area, for an empty query: nearest first around a point (score: minus the
    /// distance in km), otherwise the most recently ingested first (score 0).
    fn list(&self, area: &Area, keys: &[u64], k: usize, scope: &Scope) -> Vec<(u64, f32)> {
        match area {
            Area::Near { .. } => self
                .store
                .nearest_chunks(area, scope, k)
                .into_iter()
                .map(|(id, km)| (id, -(km as f32)))
                .collect(),
            _ => keys.iter().rev().take(k).map(|id| (*id, 0.0)).collect(),
        }
    }

    fn bm25(
        &self,
        query: &str,
        k: usize,
        scope: &Scope,
        area: Option<&[u64]>,
    ) -> Result<Vec<(u64, f32)>> {
        let text = self.store.text();
        let restrict = area.map(|keys| text.chunk_set_query(keys));
        Ok(text.search(query, k, restrict, scope.visible())?)
    }

    fn dense(
        &self,
        query: &str,
        k: usize,
        scope: &Scope,
        area: Option<&[u64]>,
    ) -> Result<Vec<(u64, f32)>> {
        let embedder = self.embedder.as_ref().ok_or(RetrieveError::NoEmbedder)?;
        let q = embedder.embed_one(query)?;
        Ok(self.store.vector_search_in(&q, k, scope, area)?)
    }

    /// Loads the chunks behind ranked ids, keeping order and dropping ids no longer live. The
    /// ids come from searches filtered by `scope`; the marking of each loaded chunk is checked
    /// once more against it (a chunk re-marked between the two reads is dropped, never shown).
    fn hydrate(&self, ranked: Vec<(u64, f32)>, scope: &Scope) -> Result<Vec<Hit>> {
        let ids: Vec<ChunkId> = ranked.iter().map(|(id, _)| ChunkId(*id)).collect();
        let score: HashMap<u64, f32> = ranked.into_iter().collect();
        let chunks = self.store.text().chunks_by_ids(&ids)?;
        Ok(chunks
            .into_iter()
            .filter(|c| match scope.visible() {
                Visible::All => true,
                Visible::Markings(allowed) => allowed.contains(&c.marking),
            })
            .map(|c| {
                let s = score[&c.chunk_id.0];
                let mut hit = Hit::from_chunk(c, s);
                // Past this point only the public id exists (see `Store::public_chunk_id`).
                hit.chunk_id = ChunkId(self.store.public_chunk_id(hit.chunk_id.0));
                hit
            })
            .collect())
    }
}

/// Keeps, as the hit's geometry, only its places inside the area, and sets the distance from
/// the centre of a `Near` area.
fn place_in(hit: &mut Hit, area: &Area) {
    let inside: Vec<&sextant_types::Geometry> = hit
        .geo
        .iter()
        .map(|t| &t.geometry)
        .filter(|g| area.intersects(g))
        .collect();
    hit.distance_km = inside
        .iter()
        .filter_map(|g| area.distance_km(g))
        .min_by(|a, b| a.total_cmp(b));
    hit.geometry = sextant_types::Geometry::combine(inside);
}

/// Fuses two rankings (each best first) into one, best first.
pub fn fuse(lexical: &[(u64, f32)], dense: &[(u64, f32)], fusion: Fusion) -> Vec<(u64, f32)> {
    fuse_with(lexical, dense, fusion, &|_| true)
}

/// [`fuse`], where `has_vector(id)` says whether the dense list could have held `id`. A chunk
/// without a vector takes its BM25 contribution in place of the dense one it cannot have
/// (RRF: its BM25 rank counts twice; blend: its normalised BM25 score at full weight).
pub fn fuse_with(
    lexical: &[(u64, f32)],
    dense: &[(u64, f32)],
    fusion: Fusion,
    has_vector: &dyn Fn(u64) -> bool,
) -> Vec<(u64, f32)> {
    let mut acc: HashMap<u64, f32> = HashMap::with_capacity(lexical.len() + dense.len());
    // Without any dense list (no embedder, or nothing embedded yet) BM25 stands alone.
    let dense_present = !dense.is_empty();
    match fusion {
        Fusion::Rrf { k } => {
            for (rank, (id, _)) in lexical.iter().enumerate() {
                let share = if dense_present && has_vector(*id) {
                    1.0
                } else {
                    2.0
                };
                *acc.entry(*id).or_default() += share / (k + rank as f32 + 1.0);
            }
            for (rank, (id, _)) in dense.iter().enumerate() {
                *acc.entry(*id).or_default() += 1.0 / (k + rank as f32 + 1.0);
            }
        }
        Fusion::Blend { bm25_weight } => {
            let norm = |list: &[(u64, f32)]| {
                let (lo, hi) = list.iter().fold((f32::MAX, f32::MIN), |(lo, hi), (_, s)| {
                    (lo.min(*s), hi.max(*s))
                });
                (lo, (hi - lo).max(1e-9))
            };
            let (lo, span) = norm(lexical);
            for (id, s) in lexical {
                let w = if dense_present && has_vector(*id) {
                    bm25_weight
                } else {
                    1.0
                };
                *acc.entry(*id).or_default() += w * (s - lo) / span;
            }
            let (lo, span) = norm(dense);
            for (id, s) in dense {
                *acc.entry(*id).or_default() += (1.0 - bm25_weight) * (s - lo) / span;
            }
        }
    }
    let mut out: Vec<(u64, f32)> = acc.into_iter().collect();
    // Ties broken by id so results are deterministic.
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rrf_rewards_agreement() {
        let lex = [(1, 9.0), (2, 8.0), (3, 7.0)];
        let den = [(3, 0.9), (4, 0.8), (1, 0.7)];
        let f = fuse(&lex, &den, Fusion::Rrf { k: 60.0 });
        let ids: Vec<u64> = f.iter().map(|x| x.0).collect();
        assert_eq!(ids, vec![1, 3, 2, 4]);
    }

    #[test]
    fn blend_normalises_scales() {
        let lex = [(1, 100.0), (2, 0.0)];
        let den = [(2, 0.9), (1, 0.1)];
        let f = fuse(&lex, &den, Fusion::Blend { bm25_weight: 0.3 });
        assert_eq!(f[0].0, 2, "dense weighs more");
        assert!((f[0].1 - 0.7).abs() < 1e-6);
        let only_lex = fuse(&lex, &[], Fusion::Blend { bm25_weight: 0.5 });
        assert_eq!(only_lex[0].0, 1);
    }

    #[test]
    fn chunks_without_vectors_keep_their_bm25_standing() {
        // 1 and 2 have vectors; 3 (BM25's best) is still waiting for its vector.
        let lex = [(3, 10.0), (1, 8.0), (2, 1.0)];
        let den = [(1, 0.9), (2, 0.5)];
        let has = |id: u64| id != 3;
        for fusion in [Fusion::Rrf { k: 60.0 }, Fusion::Blend { bm25_weight: 0.2 }] {
            let f = fuse_with(&lex, &den, fusion, &has);
            assert_eq!(f[0].0, 3, "{fusion:?}: {f:?}");
            // Unfairly, as if it had a vector and missed the dense list, it would sink.
            let unfair = fuse(&lex, &den, fusion);
            assert_ne!(unfair[0].0, 3, "{fusion:?}");
        }
    }
}
