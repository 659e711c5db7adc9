//! Tamper-evident, append-only audit log of JSON lines (NIST SP 800-53 AU-2, AU-3, AU-9, AU-10).
//!
//! The log lives at `<data-dir>/audit.jsonl` ([`default_path`]). Each line is one record:
//!
//! ```text
//! {"seq":1,"time":"2026-11-22T14:03:07.123Z","user":"alice","client":"127.0.0.1:5050","action":"search","outcome":"success","docs":[],"chunks":[],"cited":[],"query":"…","detail":null,"prev":"000…0","hash":"…"}
//! ```
//!
//! # The chain
//!
//! * `seq` starts at 1 and increases by one per record.
//! * `prev` is the `hash` of the record before (64 zeros for the first record).
//! * `hash` is the hex SHA-256 of the line's exact bytes up to (not including) `,"hash":"`,
//!   followed by `}`; that is, of the record as it was before its hash was appended.
//!   [`verify`] recomputes it from the bytes on disk, never from a re-serialisation, so any
//!   altered byte is caught.
//! * Strings are escaped by serde_json, so a newline or quote in a query cannot end a line early
//!   or forge a record.
//!
//! [`verify`] reports the first broken record and why: unparseable, hash mismatch (content
//! altered), seq gap or out of order (a record deleted, inserted or reordered), prev mismatch
//! (the record before replaced), or a torn final line.
//!
//! # What the chain cannot detect on its own
//!
//! * **Truncation of the newest records.** Cutting the file after any complete line leaves a
//!   valid, shorter chain; deleting the whole file leaves nothing to check.
//! * **Rewriting from some record onwards.** The hash is not keyed: whoever can write the file
//!   can alter record k and recompute every hash after it into a consistent chain.
//!
//! Both are caught by anchoring: [`Verification::head`], the hash of the last good record
//! (printed by `sextant audit verify`), should be copied somewhere the log's writers cannot
//! change (a ticket, a write-once store, a printout) at regular intervals. A later verification
//! whose chain no longer contains an anchored head at its seq shows truncation or rewriting.
//! Record times come from the local clock and are not checked for order, since clocks step.
//!
//! # Concurrency and durability
//!
//! Several processes may append to one log (the server and a CLI beside it). Each append takes
//! an exclusive `flock` on the file, reads the last record's `seq` and `hash` to chain to it,
//! writes the line with `O_APPEND`, `fdatasync`s and unlocks; threads sharing one [`AuditLog`]
//! are serialised by a mutex first. `flock` is advisory and may not be honoured on network
//! filesystems, so the data directory should be local.
//!
//! [`AuditLog::record`] returns only after its line is on stable storage (`fdatasync`, and the
//! parent directory is fsynced when the file is created), so **no acknowledged event is lost**
//! to a crash or power failure, given storage that honours flushes. An event whose `record` did
//! not return may be missing, or left as a torn final line (no newline). The next append or open
//! moves a torn line aside, appending it to `<path>.torn`, truncates the log back to its last
//! complete record and records the repair as an `audit.repair` event (whose detail carries the
//! fragment's length and SHA-256). A crash during a repair can leave the fragment in `.torn`
//! twice; it is never lost.
//!
//! If the last complete line is not a record (it was altered or garbled), there is nothing to
//! chain to: [`AuditLog::open`] and [`AuditLog::record`] fail with [`AuditError::Corrupt`] rather
//! than start a chain that would hide the damage. Move the file aside as evidence; the next
//! append starts a new log (an open handle notices that its path now names another file).

mod chain;
mod fsutil;
mod time;

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use time::format_utc_millis;

use fsutil::Flock;

/// File name of the log inside the data directory.
pub const FILE_NAME: &str = "audit.jsonl";

/// Longest line the log writes or reads. Far beyond any real event; it bounds the memory that
/// reading a damaged or hostile file can take.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// `<data_dir>/audit.jsonl`.
pub fn default_path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}

/// Errors of the audit log.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit log I/O: {0}")]
    Io(#[from] io::Error),
    /// The log's last complete line is not a record, so there is nothing to chain a new one to.
    #[error("audit log {path} is corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    /// The event would encode to a line longer than [`MAX_LINE_BYTES`].
    #[error("audit record of {0} bytes exceeds the {MAX_LINE_BYTES}-byte line limit")]
    TooLarge(usize),
    #[error("audit record encoding: {0}")]
    Encode(#[from] serde_json::Error),
}

pub type Result<T> = std::result::Result<T, AuditError>;

/// How an audited action ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    #[default]
    Success,
    Failure,
    /// Refused by authentication or authorisation.
    Denied,
}

/// One event, as the caller describes it. `seq`, `time`, `prev` and `hash` are added by the log.
///
/// Missing fields deserialise to their defaults, so callers can read events back leniently;
/// [`verify`] is the strict reader.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Event {
    /// Principal name, or `-` when unauthenticated.
    pub user: String,
    /// Client address `ip:port`, or `cli`.
    pub client: Option<String>,
    /// e.g. `auth`, `search`, `ask`, `chat`, `compare`, `document.read`, `ingest`, `delete`,
    /// `user.add`, `user.remove`, `config`, `audit.read`.
    pub action: String,
    pub outcome: Outcome,
    /// Document ids involved or returned.
    pub docs: Vec<String>,
    /// Chunk ids returned.
    pub chunks: Vec<u64>,
    /// Chunk ids cited in an answer.
    pub cited: Vec<u64>,
    /// Query or question text.
    pub query: Option<String>,
    /// Free text: the reason for a failure, and the like.
    pub detail: Option<String>,
    /// Roll-up marking of everything the record names (documents, chunks, query, detail):
    /// an administrator reads those fields only when they may see it ([`redact`]). `None`
    /// (a record that names something whose marking is unknown) is read redacted by anyone
    /// but an unrestricted reader.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marking: Option<String>,
}

impl Event {
    /// A successful event with nothing but a user and an action.
    pub fn new(user: impl Into<String>, action: impl Into<String>) -> Event {
        Event {
            user: user.into(),
            action: action.into(),
            ..Event::default()
        }
    }

    pub fn client(mut self, client: impl Into<String>) -> Event {
        self.client = Some(client.into());
        self
    }

    pub fn outcome(mut self, outcome: Outcome) -> Event {
        self.outcome = outcome;
        self
    }

    pub fn docs<I, S>(mut self, docs: I) -> Event
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.docs = docs.into_iter().map(Into::into).collect();
        self
    }

    pub fn chunks(mut self, chunks: impl IntoIterator<Item = u64>) -> Event {
        self.chunks = chunks.into_iter().collect();
        self
    }

    pub fn cited(mut self, cited: impl IntoIterator<Item = u64>) -> Event {
        self.cited = cited.into_iter().collect();
        self
    }

    pub fn query(mut self, query: impl Into<String>) -> Event {
        self.query = Some(query.into());
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Event {
        self.detail = Some(detail.into());
        self
    }

    /// The roll-up marking of what the record names (see [`Event::marking`]).
    pub fn marking(mut self, marking: impl Into<String>) -> Event {
        self.marking = Some(marking.into());
        self
    }
}

/// Fields of a record that name objects (and so carry the record's marking).
const NAMING_FIELDS: [&str; 5] = ["docs", "chunks", "cited", "query", "detail"];

/// A record as a reader with access `may_see` reads it: when the record names anything and its
/// marking is unknown or above the reader's access, the naming fields are emptied, the marking
/// dropped, and `"redacted": true` set; who did what, when and how it ended stay. A role
/// never widens what a person sees: an administrator's view of the log is bounded by their own
/// clearance like everything else.
pub fn redact(record: &mut serde_json::Value, may_see: impl Fn(&str) -> bool) {
    use serde_json::Value;
    let Some(obj) = record.as_object_mut() else {
        return;
    };
    let names_something = NAMING_FIELDS.iter().any(|f| match obj.get(*f) {
        None | Some(Value::Null) => false,
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    });
    if !names_something && !obj.contains_key("unparseable") {
        return;
    }
    let visible = obj
        .get("marking")
        .and_then(Value::as_str)
        .is_some_and(&may_see);
    if visible {
        return;
    }
    for f in ["docs", "chunks", "cited"] {
        obj.insert(f.into(), Value::Array(Vec::new()));
    }
    for f in ["query", "detail", "marking", "unparseable"] {
        obj.remove(f);
    }
    obj.insert("redacted".into(), Value::Bool(true));
}

/// Handle on an audit log file. Cheap to share behind an `Arc`; all methods take `&self`.
#[derive(Debug)]
pub struct AuditLog {
    inner: Option<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    /// The mutex serialises this handle's threads: `flock` does not exclude holders of the same
    /// open file, so it only guards against other handles and processes.
    file: Mutex<File>,
}

/// Where the next record goes, read under the exclusive lock.
struct Head {
    next_seq: u64,
    prev: String,
    /// File length, to roll a failed append back to.
    len: u64,
}

const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<AuditLog>()
};

impl AuditLog {
    /// Opens (creating with mode 0600; the parent directory must exist) the log at `path`.
    ///
    /// Repairs a torn tail left by a crash mid-append (a last line with no newline): it is moved
    /// aside (appended to `<path>.torn`) and the repair is recorded as an `audit.repair` event.
    /// Fails with [`AuditError::Corrupt`] when the last complete line is not a record.
    pub fn open(path: &Path) -> Result<AuditLog> {
        let file = fsutil::open_append(path)?;
        warn_if_exposed(path, &file);
        {
            let _lock = Flock::exclusive(&file)?;
            let (mut head, repair) = prepare(&file, path)?;
            if let Some(ev) = repair {
                append(&file, &mut head, &ev)?;
            }
        }
        Ok(AuditLog {
            inner: Some(Inner {
                path: path.to_path_buf(),
                file: Mutex::new(file),
            }),
        })
    }

    /// A log that records nothing (for in-process tests and benches that measure other things).
    /// [`record`](Self::record) returns `Ok(0)`.
    pub fn disabled() -> AuditLog {
        AuditLog { inner: None }
    }

    /// Appends one record durably: `flock(LOCK_EX)`, read the last record's hash and seq, write
    /// the line, `fdatasync`, unlock. Returns the record's seq.
    pub fn record(&self, ev: &Event) -> Result<u64> {
        let Some(inner) = &self.inner else {
            return Ok(0);
        };
        // A panic while holding the mutex leaves nothing half-done in memory: the state that
        // matters is on disk and re-read under the lock, so a poisoned mutex is still usable.
        let mut file = inner.file.lock().unwrap_or_else(PoisonError::into_inner);
        inner.reopen_if_replaced(&mut file)?;
        let file = &*file;
        let _lock = Flock::exclusive(file)?;
        let (mut head, repair) = prepare(file, &inner.path)?;
        if let Some(repair) = repair {
            append(file, &mut head, &repair)?;
        }
        append(file, &mut head, ev)
    }

    /// The log's path; `None` for a disabled log.
    pub fn path(&self) -> Option<&Path> {
        self.inner.as_ref().map(|i| i.path.as_path())
    }
}

impl Inner {
    /// Follows the path when the file it names is no longer the one this handle has open (moved
    /// aside or deleted): otherwise records would go on into a file nobody reads.
    fn reopen_if_replaced(&self, file: &mut File) -> Result<()> {
        let open = file.metadata()?;
        let same = match std::fs::metadata(&self.path) {
            Ok(m) => m.dev() == open.dev() && m.ino() == open.ino(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => return Err(e.into()),
        };
        if !same {
            tracing::warn!(path = %self.path.display(), "audit log was moved or deleted; reopening it");
            *file = fsutil::open_append(&self.path)?;
            warn_if_exposed(&self.path, file);
        }
        Ok(())
    }
}

fn warn_if_exposed(path: &Path, file: &File) {
    if let Ok(meta) = file.metadata() {
        let mode = meta.mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{mode:o}"),
                "audit log is readable or writable by group or others; it should be 0600 (AU-9)"
            );
        }
    }
}

/// Under the exclusive lock: moves a torn tail aside, then reads the last record to chain to.
/// Returns where the next record goes and, when a repair was made, the event recording it.
fn prepare(file: &File, path: &Path) -> Result<(Head, Option<Event>)> {
    let len = file.metadata()?.len();
    let end = fsutil::complete_end(file, len)?;
    let repair = if end < len {
        Some(move_torn_tail(file, path, end, len)?)
    } else {
        None
    };
    let head = match fsutil::line_before(file, end)? {
        None => Head {
            next_seq: 1,
            prev: chain::GENESIS.to_string(),
            len: end,
        },
        Some((start, line_len)) => {
            let corrupt = |reason: String| AuditError::Corrupt {
                path: path.to_path_buf(),
                reason,
            };
            if line_len > MAX_LINE_BYTES as u64 {
                return Err(corrupt(format!("last line is {line_len} bytes long")));
            }
            let line = fsutil::read_at(file, start, line_len)?;
            let rec = chain::parse(&line).map_err(|r| corrupt(format!("last line: {r}")))?;
            if !chain::is_hash(rec.hash.as_bytes()) {
                return Err(corrupt("last record's hash is not 64 lowercase hex".into()));
            }
            let next_seq = rec
                .seq
                .checked_add(1)
                .ok_or_else(|| corrupt("last record's seq is at its maximum".into()))?;
            Head {
                next_seq,
                prev: rec.hash,
                len: end,
            }
        }
    };
    Ok((head, repair))
}

/// Appends the bytes `[end, len)` (a last line without newline) to `<path>.torn`, truncates the
/// log to `end`, and returns the event that records the repair.
fn move_torn_tail(file: &File, path: &Path, end: u64, len: u64) -> Result<Event> {
    let torn_path = torn_path(path);
    let mut torn = fsutil::open_append(&torn_path)?;
    let mut digest = Sha256::new();
    let mut reader = file_at(file, end).take(len - end);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        digest.update(&buf[..n]);
        torn.write_all(&buf[..n])?;
    }
    // The newline keeps successive fragments apart in the side file.
    torn.write_all(b"\n")?;
    torn.sync_data()?;
    // Only now that the fragment is safe elsewhere may it leave the log.
    file.set_len(end)?;
    file.sync_data()?;
    let bytes = len - end;
    let sha = hex::encode(digest.finalize());
    tracing::warn!(
        path = %path.display(),
        torn = %torn_path.display(),
        bytes,
        "moved a torn final line left by an interrupted append aside"
    );
    Ok(Event::new("-", "audit.repair").detail(format!(
        "moved a torn final line ({bytes} bytes, sha256 {sha}) left by an interrupted append to {}",
        torn_path.display()
    )))
}

/// A reader over `file` starting at `offset`, without moving the shared file offset.
fn file_at(file: &File, offset: u64) -> impl Read + '_ {
    struct At<'a> {
        file: &'a File,
        pos: u64,
    }
    impl Read for At<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = std::os::unix::fs::FileExt::read_at(self.file, buf, self.pos)?;
            self.pos += n as u64;
            Ok(n)
        }
    }
    At { file, pos: offset }
}

/// `<path>.torn`.
fn torn_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".torn");
    PathBuf::from(s)
}

/// Writes one record at `head` and makes it durable; advances `head`.
fn append(file: &File, head: &mut Head, ev: &Event) -> Result<u64> {
    let time = format_utc_millis(time::now_millis());
    let (line, hash) = chain::encode(head.next_seq, &time, ev, &head.prev)?;
    if line.len() > MAX_LINE_BYTES {
        return Err(AuditError::TooLarge(line.len()));
    }
    // One write_all of the whole line with O_APPEND; the lock keeps other writers out meanwhile.
    let written = (&*file).write_all(&line).and_then(|()| file.sync_data());
    if let Err(e) = written {
        // Leave no torn or unacknowledged line behind when we can help it; if even this fails,
        // the next append or open moves a torn line aside.
        let _ = file.set_len(head.len).and_then(|()| file.sync_data());
        return Err(e.into());
    }
    let seq = head.next_seq;
    head.len += line.len() as u64;
    head.prev = hash;
    head.next_seq += 1;
    Ok(seq)
}

/// Length of the file once no writer is mid-append: readers work on that prefix, which holds
/// only whole records (or a torn line from a crash), while appends carry on after it.
fn settled_len(file: &File) -> io::Result<u64> {
    let _lock = Flock::shared(file)?;
    Ok(file.metadata()?.len())
}

/// Reads the last `n` records (as JSON values), oldest first, for an admin endpoint.
///
/// A torn final line is not a record and is skipped. A complete line that is not JSON is
/// returned as `{"unparseable": <error>, "offset": <byte offset>}` so that damage stays visible;
/// [`verify`] says what is wrong in full.
pub fn tail(path: &Path, n: usize) -> Result<Vec<serde_json::Value>> {
    let file = File::open(path)?;
    // Held throughout: n lines are quick to read, and a repair must not truncate under us.
    let _lock = Flock::shared(&file)?;
    let len = file.metadata()?.len();
    let mut end = fsutil::complete_end(&file, len)?;
    let mut out = Vec::with_capacity(n.min(1024));
    while out.len() < n {
        let Some((start, line_len)) = fsutil::line_before(&file, end)? else {
            break;
        };
        let value = if line_len > MAX_LINE_BYTES as u64 {
            serde_json::json!({ "unparseable": format!("line of {line_len} bytes"), "offset": start })
        } else {
            let line = fsutil::read_at(&file, start, line_len)?;
            serde_json::from_slice(&line).unwrap_or_else(
                |e| serde_json::json!({ "unparseable": e.to_string(), "offset": start }),
            )
        };
        out.push(value);
        end = start;
    }
    out.reverse();
    Ok(out)
}

/// Result of checking a whole log.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// Good records before the first broken one (all of them when nothing is broken).
    pub records: usize,
    /// Hash of the last good record: the value to anchor outside the log.
    pub head: Option<String>,
    /// The first broken record, if any.
    pub broken: Option<Broken>,
}

/// Where and why the chain first breaks.
#[derive(Debug, Clone, Serialize)]
pub struct Broken {
    /// 1-based line number.
    pub line: usize,
    /// The record's seq as written, when the line could be parsed.
    pub seq: Option<u64>,
    pub reason: String,
}

/// Checks the whole chain, up to the end of the file as it is when verification starts (records
/// appended meanwhile are left for the next run). Errors only on I/O; damage is reported in
/// [`Verification::broken`].
pub fn verify(path: &Path) -> Result<Verification> {
    let file = File::open(path)?;
    // Only the length is taken under the lock, so writers are not held up for a long read.
    let len = settled_len(&file)?;
    let mut reader = BufReader::with_capacity(256 * 1024, file_at(&file, 0).take(len));
    let mut buf = Vec::new();
    let mut records = 0usize;
    let mut prev = chain::GENESIS.to_string();
    let mut head = None;
    let mut line_no = 0usize;
    let mut broken = None;
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if buf.last() != Some(&b'\n') {
            let reason = if buf.len() > MAX_LINE_BYTES {
                format!("line longer than {MAX_LINE_BYTES} bytes")
            } else {
                format!(
                    "torn final line: {} bytes with no newline (an append was interrupted; \
                     opening the log moves it aside)",
                    buf.len()
                )
            };
            broken = Some(Broken {
                line: line_no,
                seq: None,
                reason,
            });
            break;
        }
        buf.pop();
        // The chain so far is unbroken, so the expected seq is one past the good records.
        match chain::check(&buf, records as u64 + 1, &prev) {
            Ok(hash) => {
                records += 1;
                prev.clone_from(&hash);
                head = Some(hash);
            }
            Err((seq, reason)) => {
                broken = Some(Broken {
                    line: line_no,
                    seq,
                    reason,
                });
                break;
            }
        }
    }
    Ok(Verification {
        records,
        head,
        broken,
    })
}
