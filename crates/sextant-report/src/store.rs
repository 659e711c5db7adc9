//! The report store: `DATA_DIR/reports/ID/` holds `meta.json` and one `vN.json` per version.
//!
//! Invariants:
//! * A report appears whole or not at all: it is written in a hidden directory, synced, and
//!   renamed into place (then the parent directory is synced).
//! * A version is written whole or not at all (temporary file, fsync, rename, directory fsync)
//!   and never rewritten; versions are numbered 1, 2, … without gaps, under one lock.
//! * Ids are 128 random bits; anything that is not 32 lowercase hex digits names no report.

use parking_lot::Mutex;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::report::{ReportMeta, Version};

pub struct ReportStore {
    dir: PathBuf,
    lock: Mutex<()>,
}

/// Unix seconds now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A fresh report id: 32 hex digits from the OS's CSPRNG.
pub fn new_id() -> String {
    let b: [u8; 16] = rand::random();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn valid_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

fn json<T: serde::Serialize>(v: &T) -> std::io::Result<Vec<u8>> {
    serde_json::to_vec_pretty(v).map_err(std::io::Error::other)
}

impl ReportStore {
    pub fn open(dir: &Path) -> std::io::Result<ReportStore> {
        std::fs::create_dir_all(dir)?;
        // Reports whose creation a crash interrupted never became visible: remove them.
        for e in std::fs::read_dir(dir)?.flatten() {
            if e.file_name().to_string_lossy().starts_with('.') {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        Ok(ReportStore {
            dir: dir.to_path_buf(),
            lock: Mutex::new(()),
        })
    }

    fn report_dir(&self, id: &str) -> Option<PathBuf> {
        valid_id(id).then(|| self.dir.join(id))
    }

    /// Stores a new report with its first version.
    pub fn create(&self, meta: &ReportMeta, first: &Version) -> std::io::Result<()> {
        let dir = self
            .report_dir(&meta.id)
            .ok_or_else(|| std::io::Error::other("bad report id"))?;
        if first.n != 1 {
            return Err(std::io::Error::other("a report starts at version 1"));
        }
        let _g = self.lock.lock();
        let tmp = self.dir.join(format!(".{}", meta.id));
        std::fs::create_dir_all(&tmp)?;
        write_synced(&tmp.join("meta.json"), &json(meta)?)?;
        write_synced(&tmp.join("v1.json"), &json(first)?)?;
        std::fs::rename(&tmp, &dir)?;
        std::fs::File::open(&self.dir)?.sync_all()
    }

    /// Adds the next version of report `id` (`v.n` must be the latest plus one).
    pub fn add_version(&self, id: &str, v: &Version) -> std::io::Result<()> {
        let dir = self
            .report_dir(id)
            .filter(|d| d.is_dir())
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such report"))?;
        let _g = self.lock.lock();
        let latest = self.version_numbers(id).last().copied().unwrap_or(0);
        if v.n != latest + 1 {
            return Err(std::io::Error::other(format!(
                "version {} does not follow version {latest}",
                v.n
            )));
        }
        write_synced(&dir.join(format!("v{}.json", v.n)), &json(v)?)
    }

    pub fn meta(&self, id: &str) -> Option<ReportMeta> {
        let bytes = std::fs::read(self.report_dir(id)?.join("meta.json")).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The version numbers of report `id`, ascending (empty for no report).
    pub fn version_numbers(&self, id: &str) -> Vec<u32> {
        let Some(dir) = self.report_dir(id) else {
            return Vec::new();
        };
        let mut out: Vec<u32> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.strip_prefix('v')?.strip_suffix(".json")?.parse().ok()
            })
            .collect();
        out.sort_unstable();
        out
    }

    pub fn version(&self, id: &str, n: u32) -> Option<Version> {
        let bytes = std::fs::read(self.report_dir(id)?.join(format!("v{n}.json"))).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Every report's id, in name order.
    pub fn ids(&self) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| valid_id(n))
            .collect();
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Authority;
    use std::collections::BTreeMap;

    fn version(n: u32) -> Version {
        Version {
            n,
            created: 1,
            author: "ana".into(),
            change: "generated".into(),
            title: "t".into(),
            model: "m".into(),
            sections: Vec::new(),
            citations: Vec::new(),
            banner: "UNCLASSIFIED".into(),
            authority: Authority {
                classified_by: "ana".into(),
                derived_from: "multiple sources".into(),
                declassify_on: "25X1".into(),
            },
        }
    }

    #[test]
    fn reports_are_created_whole_and_versions_follow_each_other() {
        let tmp = tempfile::tempdir().unwrap();
        let s = ReportStore::open(tmp.path()).unwrap();
        let meta = ReportMeta {
            id: new_id(),
            template: "country-brief".into(),
            params: BTreeMap::from([("country".into(), "Kenya".into())]),
            owner: "ana".into(),
            created: 1,
        };
        s.create(&meta, &version(1)).unwrap();
        assert_eq!(s.meta(&meta.id).unwrap(), meta);
        assert!(s.add_version(&meta.id, &version(3)).is_err());
        s.add_version(&meta.id, &version(2)).unwrap();
        assert!(s.add_version(&meta.id, &version(2)).is_err());
        assert_eq!(s.version_numbers(&meta.id), [1, 2]);
        assert_eq!(s.version(&meta.id, 2).unwrap().n, 2);
        assert_eq!(s.ids(), [meta.id.clone()]);
        // Ids that are not ids name nothing, and never escape the directory.
        for bad in ["../x", "ABCDEF00000000000000000000000000", ""] {
            assert!(s.meta(bad).is_none());
            assert!(s.version_numbers(bad).is_empty());
            assert!(s.add_version(bad, &version(1)).is_err());
        }
        // A creation a crash interrupted (the hidden directory) is gone on the next open.
        std::fs::create_dir_all(tmp.path().join(format!(".{}", new_id()))).unwrap();
        let s = ReportStore::open(tmp.path()).unwrap();
        assert_eq!(s.ids().len(), 1);
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
    }
}
