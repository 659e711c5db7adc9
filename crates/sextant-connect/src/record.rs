//! The call records: every call a user made or was proposed, one JSON file per call under
//! `DATA_DIR/calls/`, so that a pending call survives a restart and its owner can confirm it,
//! deny it or read what it did.
//!
//! Invariants:
//! * A record is written whole or not at all (temporary file, fsync, rename, fsync of the
//!   directory): a crash leaves the previous version or the new one.
//! * State changes go through [`CallStore::update`], which reads, checks and writes under
//!   one lock: a pending call is confirmed (and so runs) at most once.
//! * Ids are 128 random bits: knowing one's own ids says nothing of anyone else's.

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::call::{Request, Response};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallState {
    /// A changing call waiting for its user's confirmation.
    Pending,
    /// Confirmed and being sent.
    Running,
    Executed,
    Failed,
    Denied,
    Expired,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CallRecord {
    pub id: String,
    pub user: String,
    pub request: Request,
    /// The validated arguments the request was built from.
    #[serde(default)]
    pub arguments: serde_json::Value,
    /// What the call does, in plain words.
    pub summary: String,
    /// The connector's marking (the least marking of what the call returns).
    pub marking: String,
    pub state: CallState,
    /// Unix seconds.
    pub created: u64,
    /// When a pending call stops being confirmable, unix seconds.
    pub expires: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Response>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A fresh call id: 32 hex digits from a CSPRNG seeded by the OS.
pub fn new_id() -> String {
    let b: [u8; 16] = rand::random();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Why [`CallStore::update`] changed nothing.
#[derive(Debug)]
pub enum UpdateError<E> {
    /// The change was refused (by the closure).
    Refused(E),
    /// The change could not be written.
    Io(std::io::Error),
}

pub struct CallStore {
    dir: PathBuf,
    lock: Mutex<()>,
}

impl CallStore {
    pub fn open(dir: &Path) -> std::io::Result<CallStore> {
        std::fs::create_dir_all(dir)?;
        Ok(CallStore {
            dir: dir.to_path_buf(),
            lock: Mutex::new(()),
        })
    }

    fn path(&self, id: &str) -> Option<PathBuf> {
        (id.len() == 32
            && id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
        .then(|| self.dir.join(format!("{id}.json")))
    }

    /// The record `id`, with a pending call past its time read as expired.
    pub fn get(&self, id: &str) -> Option<CallRecord> {
        let text = std::fs::read(self.path(id)?).ok()?;
        let mut r: CallRecord = serde_json::from_slice(&text).ok()?;
        if r.state == CallState::Pending && now() >= r.expires {
            r.state = CallState::Expired;
        }
        Some(r)
    }

    /// Writes `r` (a new record or a new version of one).
    pub fn put(&self, r: &CallRecord) -> std::io::Result<()> {
        let _g = self.lock.lock();
        self.write(r)
    }

    fn write(&self, r: &CallRecord) -> std::io::Result<()> {
        let path = self
            .path(&r.id)
            .ok_or_else(|| std::io::Error::other("bad call id"))?;
        let tmp = self.dir.join(format!(".{}.tmp", r.id));
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec_pretty(r).map_err(std::io::Error::other)?)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(&self.dir)?.sync_all()
    }

    /// Reads `id`, lets `f` change it (or refuse, with its error), and writes the change, all
    /// under the store's lock. A change that cannot be written is an error, never reported as
    /// made (a confirmation not on disk could be confirmed again after a restart).
    pub fn update<E>(
        &self,
        id: &str,
        f: impl FnOnce(&mut CallRecord) -> Result<(), E>,
    ) -> Option<Result<CallRecord, UpdateError<E>>> {
        let _g = self.lock.lock();
        let mut r = self.get(id)?;
        if let Err(e) = f(&mut r) {
            return Some(Err(UpdateError::Refused(e)));
        }
        Some(self.write(&r).map(|_| r).map_err(UpdateError::Io))
    }

    /// The records of `user`, newest first.
    pub fn of_user(&self, user: &str) -> Vec<CallRecord> {
        let mut out: Vec<CallRecord> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                self.get(name.strip_suffix(".json")?)
            })
            .filter(|r| r.user == user)
            .collect();
        out.sort_by(|a, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, expires: u64) -> CallRecord {
        CallRecord {
            id: id.into(),
            user: "ana".into(),
            request: Request {
                connector: "geo".into(),
                operation: "del".into(),
                method: "DELETE".into(),
                url: "http://127.0.0.1:1/items/1".into(),
                headers: vec![],
                body: None,
                content_type: None,
            },
            arguments: serde_json::json!({"featureId": "1"}),
            summary: "Delete item 1".into(),
            marking: "UNCLASSIFIED".into(),
            state: CallState::Pending,
            created: now(),
            expires,
            decided: None,
            response: None,
            error: None,
        }
    }

    #[test]
    fn records_survive_reopening_expire_and_change_state_once() {
        let dir = tempfile::tempdir().unwrap();
        let s = CallStore::open(dir.path()).unwrap();
        let id = new_id();
        s.put(&record(&id, now() + 60)).unwrap();
        let old = new_id();
        s.put(&record(&old, now() - 1)).unwrap();
        let s = CallStore::open(dir.path()).unwrap();
        assert_eq!(s.get(&id).unwrap().state, CallState::Pending);
        assert_eq!(s.get(&old).unwrap().state, CallState::Expired);
        let confirm = |r: &mut CallRecord| {
            if r.state != CallState::Pending {
                return Err(r.state);
            }
            r.state = CallState::Running;
            Ok(())
        };
        assert!(s.update(&id, confirm).unwrap().is_ok());
        assert!(matches!(
            s.update(&id, confirm).unwrap().unwrap_err(),
            UpdateError::Refused(CallState::Running)
        ));
        assert!(s.update(&old, confirm).unwrap().is_err());
        assert!(s.get("../../etc/passwd").is_none());
        assert!(s.get(&new_id()).is_none());
        assert_eq!(s.of_user("ana").len(), 2);
        assert!(s.of_user("bob").is_empty());
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
