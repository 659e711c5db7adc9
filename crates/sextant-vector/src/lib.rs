//! sextant-vector: a durable, filterable approximate-nearest-neighbour index over chunk ids.
//!
//! * Keys are `u64` chunk ids; vectors are `f32` of a fixed dimension, L2-normalised on the way
//!   in (so inner product = cosine similarity). Scores returned are cosine similarities, best
//!   first.
//! * The graph is a usearch HNSW index (f32, inner product). usearch also holds the only copy of
//!   the raw vectors; exact scans fetch them with `get` (see `docs/vector-index.md` for why).
//! * Durability: every `insert_batch` / `remove` appends one checksummed batch to `wal.log` and
//!   fsyncs it before touching the in-memory index. `checkpoint` saves the HNSW graph to a
//!   snapshot file and starts a fresh WAL, so reopening does not rebuild the graph.
//!
//! Files in the index directory:
//!
//! | file | content |
//! |------|---------|
//! | `CURRENT` | epoch, live keys, watermark, snapshot checksum, calibrated search settings (layout: `src/meta.rs`) |
//! | `snapshot-<epoch>.usearch` | usearch `save` output for that epoch |
//! | `wal.log` | mutations since the snapshot (layout: `src/wal.rs`) |
//! | `LOCK` | `flock`ed while a process has the index open |

mod math;
mod meta;
mod wal;

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use parking_lot::{Condvar, Mutex, RwLock};
use usearch::{Index, MetricKind, ScalarKind};

use crate::math::{dot, normalized, TopK};
use crate::meta::Meta;
use crate::wal::Op;

/// Errors from the vector index.
#[derive(thiserror::Error, Debug)]
pub enum VectorError {
    #[error("vector index I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("vector index file {path} is corrupt at offset {offset}: {reason}")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("dimension mismatch: index has {expected}, got {got}")]
    DimensionMismatch { expected: usize, got: usize },
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("vector index is read-only after an earlier failure; reopen it: {0}")]
    Poisoned(String),
    #[error("usearch: {0}")]
    Index(String),
}

pub type Result<T> = std::result::Result<T, VectorError>;

fn ux(e: impl std::fmt::Display) -> VectorError {
    VectorError::Index(e.to_string())
}

/// Which keys a search may return.
#[derive(Clone, Copy)]
pub enum Filter<'a> {
    /// Every live key.
    All,
    /// Keys for which the predicate returns true. It is called from the searching thread, possibly
    /// many times per key; keep it cheap.
    Predicate(&'a (dyn Fn(u64) -> bool + Sync)),
    /// Only these keys (duplicates and keys not in the index are ignored).
    Allowed(&'a [u64]),
}

impl std::fmt::Debug for Filter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Filter::All => write!(f, "All"),
            Filter::Predicate(_) => write!(f, "Predicate(..)"),
            Filter::Allowed(k) => write!(f, "Allowed({} keys)", k.len()),
        }
    }
}

/// Tuning knobs. The defaults are what `open` uses.
#[derive(Debug, Clone)]
pub struct IndexOptions {
    /// HNSW M (usearch `connectivity`; level 0 keeps 2·M links).
    pub connectivity: usize,
    /// Beam width while inserting (efConstruction).
    pub expansion_add: usize,
    /// Beam width while searching (ef) until `calibrate` picks one.
    pub expansion_search: usize,
    /// Unfiltered searches scan exactly while the index holds at most this many vectors.
    pub exact_below: usize,
    /// A filter whose estimated match count is at most `max(exact_filter_keys, len/50)` is
    /// answered by an exact scan over the matching keys instead of a filtered graph walk.
    pub exact_filter_keys: usize,
    /// Recall@10 the calibration must reach (against exact search) for a beam width to qualify.
    pub recall_target: f32,
    /// `checkpoint` re-calibrates when the index has at least this many vectors and its size
    /// changed by 2x since the last calibration (0 disables automatic calibration).
    pub calibrate_min: usize,
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions {
            connectivity: 16,
            expansion_add: 128,
            expansion_search: 128,
            exact_below: 2048,
            exact_filter_keys: 20_000,
            recall_target: 0.97,
            calibrate_min: 4096,
        }
    }
}

/// Result of [`VectorIndex::calibrate`].
#[derive(Debug, Clone)]
pub struct Calibration {
    /// Vectors in the index when measured.
    pub len: usize,
    /// Sample queries used (midpoints of pairs of stored vectors, the pair left out).
    pub queries: usize,
    /// (expansion_search, recall@10, mean latency in ms) for each beam width tried.
    pub trials: Vec<(usize, f32, f64)>,
    /// Mean latency of an exact scan, ms.
    pub exact_ms: f64,
    /// Beam width chosen.
    pub expansion_search: usize,
    /// True when no beam width reached the target faster than the exact scan, so unfiltered
    /// searches scan exactly.
    pub exact: bool,
}

/// Beam widths tried by calibration.
const EF_LADDER: [usize; 7] = [32, 64, 128, 256, 512, 1024, 2048];
const CALIBRATION_QUERIES: usize = 32;
const PREDICATE_SAMPLE: usize = 1024;
const PARALLEL_ADD_MIN: usize = 64;

// ---------------------------------------------------------------------------------------------
// Small utilities

/// Fibonacci hashing for u64 keys (std's SipHash is needlessly slow for integer ids).
#[derive(Default, Clone, Copy)]
struct KeyHasher(u64);
impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, k: u64) {
        let h = (k ^ self.0).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = h ^ (h >> 29);
    }
}
type KeyMap<V> = HashMap<u64, V, BuildHasherDefault<KeyHasher>>;
type KeySet = HashSet<u64, BuildHasherDefault<KeyHasher>>;

pub(crate) fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)?.sync_all()?;
    Ok(())
}

fn path_str(p: &Path) -> Result<&str> {
    p.to_str()
        .ok_or_else(|| VectorError::InvalidInput(format!("non-UTF-8 path {}", p.display())))
}

fn file_crc(path: &Path) -> Result<(u64, u32)> {
    let mut f = File::open(path)?;
    let mut h = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        len += n as u64;
    }
    Ok((len, h.finalize()))
}

/// Counting semaphore bounding concurrent usearch searches to the thread contexts reserved in
/// the index (usearch fails a search outright when none is free).
struct Slots {
    free: Mutex<usize>,
    cv: Condvar,
}
struct SlotGuard<'a>(&'a Slots);
impl Slots {
    fn acquire(&self) -> SlotGuard<'_> {
        let mut f = self.free.lock();
        while *f == 0 {
            self.cv.wait(&mut f);
        }
        *f -= 1;
        SlotGuard(self)
    }
}
impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        *self.0.free.lock() += 1;
        self.0.cv.notify_one();
    }
}

/// Exclusive lock (std's `File::try_lock`, `flock` on Linux) on `dir/LOCK` for the lifetime of
/// the index.
struct DirLock(#[allow(dead_code)] File);
impl DirLock {
    fn acquire(dir: &Path) -> Result<Self> {
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("LOCK"))?;
        // A flock is shared with children forked by this process until they exec, so a lock
        // released a moment ago can still look taken: retry briefly before giving up.
        for attempt in 0.. {
            match f.try_lock() {
                Ok(()) => return Ok(DirLock(f)),
                Err(std::fs::TryLockError::WouldBlock) if attempt < 10 => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(VectorError::Io(std::io::Error::new(
                        std::io::ErrorKind::WouldBlock,
                        format!("{} is locked by another open index", dir.display()),
                    )));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(VectorError::Io(e)),
            }
        }
        unreachable!()
    }
}

// ---------------------------------------------------------------------------------------------
// In-memory state

struct State {
    index: Index,
    /// Live keys, dense (order is arbitrary; swap-remove).
    keys: Vec<u64>,
    /// key -> position in `keys`.
    pos: KeyMap<u32>,
    /// Highest key ever inserted.
    max_key: Option<u64>,
    /// Removed usearch slots not yet reused (usearch reuses them on add).
    free_slots: usize,
    /// Beam width in force and whether unfiltered searches go exact (from calibration).
    ef_search: usize,
    exact_all: bool,
    /// `len` at the last calibration (0 = never).
    calibrated_at: usize,
}

impl State {
    fn live(&self) -> usize {
        self.keys.len()
    }

    fn ensure_capacity(&self, extra: usize, threads: usize) -> Result<()> {
        let need = self.index.size() + self.free_slots + extra;
        let cap = self.index.capacity();
        if need > cap {
            let new_cap = need.max(cap + cap / 2).max(1024);
            self.index
                .reserve_capacity_and_threads(new_cap, threads)
                .map_err(ux)?;
        }
        Ok(())
    }

    fn track_add(&mut self, key: u64) {
        if self.free_slots > 0 {
            self.free_slots -= 1;
        }
        if let std::collections::hash_map::Entry::Vacant(e) = self.pos.entry(key) {
            e.insert(self.keys.len() as u32);
            self.keys.push(key);
        }
        self.max_key = Some(self.max_key.map_or(key, |m| m.max(key)));
    }

    fn untrack(&mut self, key: u64) -> bool {
        match self.pos.remove(&key) {
            Some(p) => {
                let p = p as usize;
                self.keys.swap_remove(p);
                if p < self.keys.len() {
                    self.pos.insert(self.keys[p], p as u32);
                }
                true
            }
            None => false,
        }
    }

    /// Applies one deduplicated batch of ops (each key at most once).
    fn apply(&mut self, ops: &[Op], threads: usize) -> Result<()> {
        // Removals first: usearch refuses to add an existing key, so replaced keys go too.
        let mut adds: Vec<(u64, &[f32])> = Vec::new();
        for op in ops {
            let key = op.key();
            if self.pos.contains_key(&key) {
                let n = self.index.remove(key).map_err(ux)?;
                self.free_slots += n;
                if matches!(op, Op::Remove(_)) {
                    self.untrack(key);
                }
            }
            if let Op::Insert(k, v) = op {
                adds.push((*k, v));
            }
        }
        if adds.is_empty() {
            return Ok(());
        }
        self.ensure_capacity(adds.len(), threads)?;
        let workers = if adds.len() >= PARALLEL_ADD_MIN {
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(threads)
        } else {
            1
        };
        let index = &self.index;
        let failed: Vec<(u64, VectorError)> = if workers <= 1 {
            adds.iter()
                .filter_map(|(k, v)| index.add(*k, v).err().map(|e| (*k, ux(e))))
                .collect()
        } else {
            let chunk = adds.len().div_ceil(workers);
            std::thread::scope(|s| {
                let hs: Vec<_> = adds
                    .chunks(chunk)
                    .map(|part| {
                        s.spawn(move || {
                            part.iter()
                                .filter_map(|(k, v)| index.add(*k, v).err().map(|e| (*k, ux(e))))
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                hs.into_iter()
                    .flat_map(|h| h.join().expect("usearch add thread panicked"))
                    .collect()
            })
        };
        let bad: KeySet = failed.iter().map(|(k, _)| *k).collect();
        for (k, _) in &adds {
            if bad.contains(k) {
                self.untrack(*k);
            } else {
                self.track_add(*k);
            }
        }
        match failed.into_iter().next() {
            Some((k, e)) => Err(VectorError::Index(format!("adding key {k}: {e}"))),
            None => Ok(()),
        }
    }
}

struct Writer {
    wal: File,
    wal_len: u64,
    epoch: u64,
    poisoned: Option<String>,
}

// ---------------------------------------------------------------------------------------------

/// A durable, filterable ANN index over `u64` keys. `Send + Sync`; all methods take `&self`.
///
/// Concurrency: searches share a read lock; `insert_batch` / `remove` / `checkpoint` are
/// serialised by a writer mutex, write and fsync the WAL without blocking searches, then take
/// the write lock only to apply the batch to the graph.
pub struct VectorIndex {
    dim: usize,
    dir: PathBuf,
    opts: IndexOptions,
    threads: usize,
    state: RwLock<State>,
    writer: Mutex<Writer>,
    slots: Slots,
    _lock: DirLock,
}

impl std::fmt::Debug for VectorIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VectorIndex")
            .field("dir", &self.dir)
            .field("dim", &self.dim)
            .field("len", &self.len())
            .finish()
    }
}

impl VectorIndex {
    /// Opens (creating if missing) the index in `dir` with default [`IndexOptions`]: loads the
    /// snapshot named by `CURRENT`, replays `wal.log` (cutting off a torn last batch).
    pub fn open(dir: &Path, dim: usize) -> Result<Self> {
        Self::open_with(dir, dim, IndexOptions::default())
    }

    /// [`open`](Self::open) with explicit tuning. `connectivity` and `expansion_add` only
    /// matter for a new index (a snapshot keeps the graph it was built with).
    pub fn open_with(dir: &Path, dim: usize, opts: IndexOptions) -> Result<Self> {
        if dim == 0 {
            return Err(VectorError::InvalidInput("dimension must be > 0".into()));
        }
        std::fs::create_dir_all(dir)?;
        let lock = DirLock::acquire(dir)?;
        let threads = std::thread::available_parallelism()
            .map_or(4, |n| n.get())
            .saturating_mul(4)
            .clamp(16, 256);

        let usearch_opts = usearch::IndexOptions {
            dimensions: dim,
            metric: MetricKind::IP,
            quantization: ScalarKind::F32,
            connectivity: opts.connectivity,
            expansion_add: opts.expansion_add,
            expansion_search: opts.expansion_search,
            multi: false,
        };
        let index = Index::new(&usearch_opts).map_err(ux)?;

        // Snapshot.
        let meta_path = dir.join("CURRENT");
        let meta = match std::fs::read(&meta_path) {
            Ok(b) => Some(meta::decode(&b, &meta_path)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        let mut state = State {
            index,
            keys: Vec::new(),
            pos: KeyMap::default(),
            max_key: None,
            free_slots: 0,
            ef_search: opts.expansion_search,
            exact_all: false,
            calibrated_at: 0,
        };
        let epoch = match &meta {
            None => 0,
            Some(m) => {
                if m.dim != dim {
                    return Err(VectorError::DimensionMismatch {
                        expected: m.dim,
                        got: dim,
                    });
                }
                let snap = dir.join(meta::snapshot_name(m.epoch));
                let (len, crc) = match file_crc(&snap) {
                    Err(VectorError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                        return Err(VectorError::Corrupt {
                            path: snap,
                            offset: 0,
                            reason: "snapshot named by CURRENT is missing".into(),
                        })
                    }
                    r => r?,
                };
                if (len, crc) != (m.snapshot_len, m.snapshot_crc) {
                    return Err(VectorError::Corrupt {
                        path: snap,
                        offset: 0,
                        reason: format!(
                            "snapshot length/checksum {len}/{crc:08x}, CURRENT says {}/{:08x}",
                            m.snapshot_len, m.snapshot_crc
                        ),
                    });
                }
                let snap_str = path_str(&snap)?;
                let head = Index::metadata(snap_str).map_err(ux)?;
                state.index.load(snap_str).map_err(ux)?;
                if state.index.dimensions() != dim || state.index.size() != m.keys.len() {
                    return Err(VectorError::Corrupt {
                        path: snap,
                        offset: 0,
                        reason: format!(
                            "snapshot holds {} vectors of dim {}, CURRENT lists {} keys of dim {dim}",
                            state.index.size(),
                            state.index.dimensions(),
                            m.keys.len()
                        ),
                    });
                }
                state.free_slots = head.count_deleted as usize;
                state.keys = m.keys.clone();
                state.pos = m
                    .keys
                    .iter()
                    .enumerate()
                    .map(|(i, k)| (*k, i as u32))
                    .collect();
                state.max_key = m.max_key;
                if m.ef_search > 0 {
                    state.ef_search = m.ef_search;
                    state.exact_all = m.exact_all;
                    state.calibrated_at = m.keys.len().max(1);
                }
                m.epoch
            }
        };
        let cap = state.index.size() + state.free_slots;
        state
            .index
            .reserve_capacity_and_threads(cap.max(1024), threads)
            .map_err(ux)?;
        state.index.change_expansion_add(opts.expansion_add);
        state.index.change_expansion_search(state.ef_search);

        // WAL.
        let wal_path = dir.join("wal.log");
        let existing = match OpenOptions::new().read(true).write(true).open(&wal_path) {
            Ok(f) => Some(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        let (wal, wal_len) = match existing {
            Some(f) if f.metadata()?.len() > 0 => {
                let mut h = [0u8; wal::HEADER_LEN as usize];
                let n = f.read_at(&mut h, 0)?;
                let head = wal::decode_header(&h[..n], &wal_path)?;
                if head.dim != dim {
                    return Err(VectorError::DimensionMismatch {
                        expected: head.dim,
                        got: dim,
                    });
                }
                if head.epoch < epoch {
                    // Crash after a checkpoint committed but before the WAL was reset: the
                    // snapshot already holds all of it.
                    tracing::info!(
                        wal_epoch = head.epoch,
                        epoch,
                        "discarding WAL covered by snapshot"
                    );
                    (wal::create(dir, &wal_path, dim, epoch)?, wal::HEADER_LEN)
                } else if head.epoch > epoch {
                    return Err(VectorError::Corrupt {
                        path: wal_path,
                        offset: 0,
                        reason: format!(
                            "WAL epoch {} is newer than snapshot epoch {epoch} (CURRENT lost?)",
                            head.epoch
                        ),
                    });
                } else {
                    let t = Instant::now();
                    let mut n_ops = 0usize;
                    let replay = wal::scan(&f, &wal_path, dim, |batch| {
                        n_ops += batch.len();
                        state.apply(&dedup_last_wins(batch), threads)
                    })?;
                    if replay.torn_bytes > 0 {
                        tracing::warn!(
                            bytes = replay.torn_bytes,
                            at = replay.valid_len,
                            "cutting torn tail off vector WAL"
                        );
                        f.set_len(replay.valid_len)?;
                        f.sync_all()?;
                    }
                    if n_ops > 0 {
                        tracing::info!(
                            ops = n_ops,
                            ms = t.elapsed().as_millis() as u64,
                            "replayed vector WAL"
                        );
                    }
                    (f, replay.valid_len)
                }
            }
            _ => (wal::create(dir, &wal_path, dim, epoch)?, wal::HEADER_LEN),
        };

        // Leftovers of interrupted checkpoints.
        let live_snap = meta.as_ref().map(|m| meta::snapshot_name(m.epoch));
        for entry in std::fs::read_dir(dir)? {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            let stale_snap =
                name.starts_with("snapshot-") && Some(name.as_ref()) != live_snap.as_deref();
            if stale_snap || name.ends_with(".tmp") {
                let _ = std::fs::remove_file(dir.join(name.as_ref()));
            }
        }

        Ok(VectorIndex {
            dim,
            dir: dir.to_path_buf(),
            opts,
            threads,
            state: RwLock::new(state),
            writer: Mutex::new(Writer {
                wal,
                wal_len,
                epoch,
                poisoned: None,
            }),
            slots: Slots {
                free: Mutex::new(threads),
                cv: Condvar::new(),
            },
            _lock: lock,
        })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of live vectors.
    pub fn len(&self) -> usize {
        self.state.read().live()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, key: u64) -> bool {
        self.state.read().pos.contains_key(&key)
    }

    /// Highest key ever inserted, including keys removed since (a catch-up watermark).
    pub fn max_key(&self) -> Option<u64> {
        self.state.read().max_key
    }

    /// Live keys, ascending.
    pub fn keys(&self) -> Vec<u64> {
        let mut k = self.state.read().keys.clone();
        k.sort_unstable();
        k
    }

    /// Bytes in the WAL since the last checkpoint (a hint for when to call `checkpoint`).
    pub fn wal_bytes(&self) -> u64 {
        self.writer.lock().wal_len - wal::HEADER_LEN
    }

    /// Current beam width and whether unfiltered searches scan exactly.
    pub fn search_settings(&self) -> (usize, bool) {
        let s = self.state.read();
        (s.ef_search, s.exact_all)
    }

    /// Overrides the beam width and the unfiltered-search mode (as `calibrate` would set them;
    /// persisted by the next checkpoint).
    pub fn set_search_settings(&self, expansion_search: usize, exact: bool) {
        let _w = self.writer.lock();
        let mut s = self.state.write();
        let ef = expansion_search.max(1);
        s.index.change_expansion_search(ef);
        s.ef_search = ef;
        s.exact_all = exact;
        s.calibrated_at = s.live().max(1);
    }

    /// Approximate memory held: usearch's own estimate (graph + vectors) plus the key maps.
    pub fn memory_usage(&self) -> usize {
        let s = self.state.read();
        s.index.memory_usage() + s.keys.capacity() * 8 + s.pos.capacity() * 16
    }

    fn check_dim(&self, got: usize) -> Result<()> {
        if got != self.dim {
            return Err(VectorError::DimensionMismatch {
                expected: self.dim,
                got,
            });
        }
        Ok(())
    }

    /// Inserts or replaces vectors (normalised before storing). Durable when it returns: the
    /// batch is in the WAL and fsynced. Within one call a repeated key keeps its last vector.
    pub fn insert_batch(&self, items: &[(u64, Vec<f32>)]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let mut ops = Vec::with_capacity(items.len());
        for (key, v) in items {
            self.check_dim(v.len())?;
            if *key == u64::MAX {
                return Err(VectorError::InvalidInput(
                    "key u64::MAX is reserved by usearch".into(),
                ));
            }
            if let Some(x) = v.iter().find(|x| !x.is_finite()) {
                return Err(VectorError::InvalidInput(format!(
                    "vector for key {key} has a non-finite component ({x})"
                )));
            }
            ops.push(Op::Insert(*key, normalized(v)));
        }
        let ops = dedup_last_wins(ops);
        let mut w = self.writer.lock();
        self.append(&mut w, &ops)?;
        self.apply_locked(&mut w, &ops)
    }

    /// Removes keys; returns how many were present. Durable when it returns.
    pub fn remove(&self, keys: &[u64]) -> Result<usize> {
        let mut w = self.writer.lock();
        let ops: Vec<Op> = {
            let s = self.state.read();
            let mut seen = KeySet::default();
            keys.iter()
                .filter(|k| s.pos.contains_key(k) && seen.insert(**k))
                .map(|k| Op::Remove(*k))
                .collect()
        };
        if ops.is_empty() {
            return Ok(0);
        }
        self.append(&mut w, &ops)?;
        self.apply_locked(&mut w, &ops)?;
        Ok(ops.len())
    }

    fn append(&self, w: &mut Writer, ops: &[Op]) -> Result<()> {
        if let Some(why) = &w.poisoned {
            return Err(VectorError::Poisoned(why.clone()));
        }
        let buf = wal::encode_batch(ops, self.dim);
        let res = w
            .wal
            .write_all_at(&buf, w.wal_len)
            .and_then(|_| w.wal.sync_data());
        if let Err(e) = res {
            // Leave no partial batch behind for the next append to follow.
            if let Err(e2) = w.wal.set_len(w.wal_len).and_then(|_| w.wal.sync_all()) {
                w.poisoned = Some(format!(
                    "WAL append failed ({e}) and rollback failed ({e2})"
                ));
            }
            return Err(e.into());
        }
        w.wal_len += buf.len() as u64;
        Ok(())
    }

    fn apply_locked(&self, w: &mut Writer, ops: &[Op]) -> Result<()> {
        let mut s = self.state.write();
        if let Err(e) = s.apply(ops, self.threads) {
            // The WAL has the batch but memory does not: refuse further writes; reopening
            // replays it.
            w.poisoned = Some(format!("applying a logged batch failed: {e}"));
            return Err(e);
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Search

    fn prepare_query(&self, query: &[f32]) -> Result<Vec<f32>> {
        self.check_dim(query.len())?;
        if query.iter().any(|x| !x.is_finite()) {
            return Err(VectorError::InvalidInput(
                "query has a non-finite component".into(),
            ));
        }
        Ok(normalized(query))
    }

    fn exact_filter_limit(&self, live: usize) -> usize {
        self.opts.exact_filter_keys.max(live / 50)
    }

    /// Top-`k` keys by cosine similarity, best first. `All` walks the HNSW graph (or scans
    /// exactly for small indexes / when calibration chose to); `Allowed` and `Predicate` scan
    /// exactly over the matching keys when few match, else walk the graph with the filter and
    /// fall back to an exact scan if that returns fewer than `k`.
    pub fn search(&self, query: &[f32], k: usize, filter: Filter<'_>) -> Result<Vec<(u64, f32)>> {
        let q = self.prepare_query(query)?;
        let s = self.state.read();
        let live = s.live();
        if k == 0 || live == 0 {
            return Ok(Vec::new());
        }
        let k = k.min(live);
        match filter {
            Filter::All => {
                if live <= self.opts.exact_below.max(k) || s.exact_all {
                    return self.exact_all(&s, &q, k);
                }
                let m = {
                    let _slot = self.slots.acquire();
                    s.index.search(&q, k).map_err(ux)?
                };
                if m.keys.len() < k.min(live) {
                    return self.exact_all(&s, &q, k);
                }
                Ok(to_hits(&m))
            }
            Filter::Allowed(allowed) => {
                // Sorted and deduplicated: an exact scan then walks usearch's vector storage
                // roughly in insertion order instead of hash order (measured ~2x faster).
                let mut keys = allowed.to_vec();
                keys.sort_unstable();
                keys.dedup();
                keys.retain(|key| s.pos.contains_key(key));
                if keys.len() <= self.exact_filter_limit(live).max(k) || s.exact_all {
                    return Ok(self.exact_keys(&s, &q, k, keys.iter().copied()));
                }
                let set: KeySet = keys.iter().copied().collect();
                let m = {
                    let _slot = self.slots.acquire();
                    s.index
                        .filtered_search(&q, k, |key| set.contains(&key))
                        .map_err(ux)?
                };
                if m.keys.len() < k {
                    return Ok(self.exact_keys(&s, &q, k, keys.iter().copied()));
                }
                Ok(to_hits(&m))
            }
            Filter::Predicate(pred) => {
                let est = estimate_matches(&s.keys, pred);
                if est <= self.exact_filter_limit(live).max(k) || s.exact_all {
                    return Ok(self.exact_predicate(&s, &q, k, pred));
                }
                let m = {
                    let _slot = self.slots.acquire();
                    s.index.filtered_search(&q, k, pred).map_err(ux)?
                };
                if m.keys.len() < k {
                    return Ok(self.exact_predicate(&s, &q, k, pred));
                }
                Ok(to_hits(&m))
            }
        }
    }

    /// Exact top-`k` by cosine similarity (brute force), best first.
    pub fn exact_search(
        &self,
        query: &[f32],
        k: usize,
        filter: Filter<'_>,
    ) -> Result<Vec<(u64, f32)>> {
        let q = self.prepare_query(query)?;
        let s = self.state.read();
        if k == 0 || s.live() == 0 {
            return Ok(Vec::new());
        }
        let k = k.min(s.live());
        match filter {
            Filter::All => self.exact_all(&s, &q, k),
            Filter::Allowed(allowed) => {
                let mut keys = allowed.to_vec();
                keys.sort_unstable();
                keys.dedup();
                Ok(self.exact_keys(&s, &q, k, keys.into_iter()))
            }
            Filter::Predicate(pred) => Ok(self.exact_predicate(&s, &q, k, pred)),
        }
    }

    fn exact_all(&self, s: &State, q: &[f32], k: usize) -> Result<Vec<(u64, f32)>> {
        let m = {
            let _slot = self.slots.acquire();
            s.index.exact_search(q, k).map_err(ux)?
        };
        // usearch's scan and ours agree on order but may differ in the last float bits; keep
        // ties deterministic by re-sorting with the key as tie-breaker.
        let mut hits = to_hits(&m);
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(hits)
    }

    /// Exact scan over `keys` (must be live or absent; absent keys are skipped).
    fn exact_keys(
        &self,
        s: &State,
        q: &[f32],
        k: usize,
        keys: impl Iterator<Item = u64>,
    ) -> Vec<(u64, f32)> {
        let mut top = TopK::new(k);
        let mut buf = vec![0f32; self.dim];
        for key in keys {
            if let Ok(1) = s.index.get(key, &mut buf) {
                top.push(key, dot(q, &buf));
            }
        }
        top.into_sorted()
    }

    fn exact_predicate(
        &self,
        s: &State,
        q: &[f32],
        k: usize,
        pred: &(dyn Fn(u64) -> bool + Sync),
    ) -> Vec<(u64, f32)> {
        self.exact_keys(s, q, k, s.keys.iter().copied().filter(|key| pred(*key)))
    }

    // -----------------------------------------------------------------------------------------
    // Checkpoint and calibration

    /// Writes the graph to a new snapshot (temp file, fsync, rename, fsync dir), commits it by
    /// atomically replacing `CURRENT`, then starts an empty WAL. Writers wait meanwhile;
    /// searches continue. Re-calibrates the search beam first when the index size changed 2x
    /// since the last calibration (see [`IndexOptions::calibrate_min`]).
    pub fn checkpoint(&self) -> Result<()> {
        let mut w = self.writer.lock();
        if let Some(why) = &w.poisoned {
            return Err(VectorError::Poisoned(why.clone()));
        }
        {
            let s = self.state.read();
            let live = s.live();
            let due = self.opts.calibrate_min > 0
                && live >= self.opts.calibrate_min
                && (s.calibrated_at == 0
                    || live >= 2 * s.calibrated_at
                    || 2 * live <= s.calibrated_at);
            drop(s);
            if due {
                let c = self.calibrate_locked()?;
                tracing::info!(?c, "calibrated vector search");
            }
        }
        let new_epoch = w.epoch + 1;
        let snap = self.dir.join(meta::snapshot_name(new_epoch));
        let tmp = self
            .dir
            .join(format!("{}.tmp", meta::snapshot_name(new_epoch)));
        let s = self.state.read();
        let result = (|| -> Result<Meta> {
            s.index.save(path_str(&tmp)?).map_err(ux)?;
            File::open(&tmp)?.sync_all()?;
            std::fs::rename(&tmp, &snap)?;
            fsync_dir(&self.dir)?;
            let (snapshot_len, snapshot_crc) = file_crc(&snap)?;
            let m = Meta {
                dim: self.dim,
                epoch: new_epoch,
                max_key: s.max_key,
                snapshot_len,
                snapshot_crc,
                ef_search: if s.calibrated_at > 0 { s.ef_search } else { 0 },
                exact_all: s.exact_all,
                keys: s.keys.clone(),
            };
            let mtmp = self.dir.join("CURRENT.tmp");
            {
                let f = File::create(&mtmp)?;
                f.write_all_at(&meta::encode(&m), 0)?;
                f.sync_all()?;
            }
            std::fs::rename(&mtmp, self.dir.join("CURRENT"))?;
            fsync_dir(&self.dir)?;
            Ok(m)
        })();
        drop(s);
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            let _ = std::fs::remove_file(&snap);
            return Err(e);
        }
        // Committed. From here the old WAL is obsolete: a failure to replace it must stop
        // further appends to it (reopening would discard them as covered by the snapshot).
        let wal_path = self.dir.join("wal.log");
        match wal::create(&self.dir, &wal_path, self.dim, new_epoch) {
            Ok(f) => {
                w.wal = f;
                w.wal_len = wal::HEADER_LEN;
            }
            Err(e) => {
                w.poisoned = Some(format!("checkpoint committed but WAL reset failed: {e}"));
                return Err(e);
            }
        }
        let old = self.dir.join(meta::snapshot_name(w.epoch));
        w.epoch = new_epoch;
        if old.exists() {
            let _ = std::fs::remove_file(old);
        }
        Ok(())
    }

    /// Measures recall@10 of the HNSW search against exact search for a ladder of beam widths
    /// (queries: midpoints of pairs of stored vectors, the pair itself left out), and keeps the fastest setting that reaches
    /// [`IndexOptions::recall_target`] (an exact scan always qualifies). The choice persists
    /// with the next checkpoint. Blocks writers; blocks searches only while trying beam widths.
    pub fn calibrate(&self) -> Result<Calibration> {
        let w = self.writer.lock();
        if let Some(why) = &w.poisoned {
            return Err(VectorError::Poisoned(why.clone()));
        }
        self.calibrate_locked()
    }

    fn calibrate_locked(&self) -> Result<Calibration> {
        const K: usize = 10;
        // Phase 1 (read lock): sample queries and exact answers. A query is the normalised
        // midpoint of two stored vectors, and both are left out of the answers. (Querying with a
        // stored vector itself is far too easy: the graph links it to its own neighbours. A
        // midpoint sits between stored points like a real query does, and is if anything
        // harder, so the estimate errs on the side of a wider beam.)
        let (queries, truth, exact_ms, len) = {
            let s = self.state.read();
            let len = s.live();
            let nq = CALIBRATION_QUERIES.min(len / 4);
            let mut queries = Vec::with_capacity(nq);
            let (mut va, mut vb) = (vec![0f32; self.dim], vec![0f32; self.dim]);
            for i in 0..nq {
                let a = s.keys[i * len / nq];
                let b = s.keys[(i * len / nq + len / 2 + 7 * i + 1) % len];
                if a == b {
                    continue;
                }
                if let (Ok(1), Ok(1)) = (s.index.get(a, &mut va), s.index.get(b, &mut vb)) {
                    let mid: Vec<f32> = va.iter().zip(&vb).map(|(x, y)| x + y).collect();
                    let q = normalized(&mid);
                    if q.iter().any(|x| *x != 0.0) {
                        queries.push(([a, b], q));
                    }
                }
            }
            let t = Instant::now();
            let mut truth = Vec::with_capacity(queries.len());
            for (skip, q) in &queries {
                let _slot = self.slots.acquire();
                let m = s.index.exact_search(q, K + 2).map_err(ux)?;
                let mut set: Vec<u64> = m.keys.into_iter().filter(|k| !skip.contains(k)).collect();
                set.truncate(K);
                truth.push(set);
            }
            let exact_ms = t.elapsed().as_secs_f64() * 1e3 / queries.len().max(1) as f64;
            (queries, truth, exact_ms, len)
        };
        let mut cal = Calibration {
            len,
            queries: queries.len(),
            trials: Vec::new(),
            exact_ms,
            expansion_search: self.opts.expansion_search,
            exact: false,
        };
        if queries.is_empty() {
            return Ok(cal);
        }
        // Phase 2 (write lock: the beam width is index-global): try the ladder.
        let mut s = self.state.write();
        let mut best: Option<(usize, f64)> = None;
        for &ef in EF_LADDER.iter() {
            s.index.change_expansion_search(ef);
            let t = Instant::now();
            let mut hits = 0usize;
            let mut total = 0usize;
            for ((skip, q), tr) in queries.iter().zip(&truth) {
                let m = s.index.search(q, K + 2).map_err(ux)?;
                hits += m
                    .keys
                    .iter()
                    .filter(|k| !skip.contains(k))
                    .take(K)
                    .filter(|k| tr.contains(k))
                    .count();
                total += tr.len();
            }
            let ms = t.elapsed().as_secs_f64() * 1e3 / queries.len() as f64;
            let recall = hits as f32 / total.max(1) as f32;
            cal.trials.push((ef, recall, ms));
            if recall >= self.opts.recall_target {
                best = Some((ef, ms));
                break; // larger beams are only slower
            }
            if ms > 2.0 * exact_ms {
                break; // already well past the cost of an exact scan
            }
        }
        match best {
            Some((ef, ms)) if ms < exact_ms => {
                cal.expansion_search = ef;
                cal.exact = false;
            }
            _ => {
                cal.expansion_search = best.map_or(*EF_LADDER.last().unwrap(), |b| b.0);
                cal.exact = true;
            }
        }
        s.index.change_expansion_search(cal.expansion_search);
        s.ef_search = cal.expansion_search;
        s.exact_all = cal.exact;
        s.calibrated_at = len.max(1);
        Ok(cal)
    }
}

fn to_hits(m: &usearch::ffi::Matches) -> Vec<(u64, f32)> {
    m.keys
        .iter()
        .zip(&m.distances)
        .map(|(k, d)| (*k, 1.0 - d))
        .collect()
}

/// Estimated number of live keys a predicate accepts, from an evenly strided sample.
fn estimate_matches(keys: &[u64], pred: &(dyn Fn(u64) -> bool + Sync)) -> usize {
    let n = keys.len();
    if n <= PREDICATE_SAMPLE {
        return keys.iter().filter(|k| pred(**k)).count();
    }
    let hits = (0..PREDICATE_SAMPLE)
        .filter(|i| pred(keys[i * n / PREDICATE_SAMPLE]))
        .count();
    // Upper end of the estimate: an extra hit of slack so a rare filter is not judged empty.
    (hits + 1) * n / PREDICATE_SAMPLE
}

/// Keeps the last op for each key, in order of those last occurrences.
fn dedup_last_wins(ops: Vec<Op>) -> Vec<Op> {
    let mut last: KeyMap<usize> = KeyMap::default();
    for (i, op) in ops.iter().enumerate() {
        last.insert(op.key(), i);
    }
    if last.len() == ops.len() {
        return ops;
    }
    ops.into_iter()
        .enumerate()
        .filter(|(i, op)| last[&op.key()] == *i)
        .map(|(_, op)| op)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_keeps_last() {
        let ops = vec![
            Op::Insert(1, vec![1.0]),
            Op::Remove(2),
            Op::Insert(1, vec![2.0]),
            Op::Insert(2, vec![3.0]),
        ];
        assert_eq!(
            dedup_last_wins(ops),
            vec![Op::Insert(1, vec![2.0]), Op::Insert(2, vec![3.0])]
        );
    }

    #[test]
    fn key_hasher_spreads_sequential_keys() {
        let set: KeySet = (0..10_000u64).collect();
        assert_eq!(set.len(), 10_000);
        assert!(set.contains(&9_999));
    }

    #[test]
    fn estimate_counts_small_sets_exactly() {
        let keys: Vec<u64> = (0..100).collect();
        assert_eq!(estimate_matches(&keys, &|k| k % 10 == 0), 10);
        let keys: Vec<u64> = (0..100_000).collect();
        let est = estimate_matches(&keys, &|k| k % 100 == 0);
        assert!((500..2_000).contains(&est), "{est}");
    }
}
