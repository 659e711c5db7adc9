//! Principals and authentication: the users file, API tokens and client-certificate mapping.
//!
//! The users file (TOML, `[[user]]` tables; see `config/users.example.toml`) holds, per user,
//! a clearance (level, SCI/SAP grants, citizenship), roles, and for authentication a token id
//! with a salted SHA-256 of the token's secret, and optionally the SHA-256 fingerprints of
//! client certificates. Tokens are `sxt_<id>_<secret>`: the id finds the user, the secret is
//! checked against the salted hash in constant time. A token is shown once, by
//! [`add_user`], and never stored. Tokens carry 256 random bits, so a fast hash is enough:
//! there is nothing to brute-force that a slow hash would protect.
//!
//! The server keeps a [`Users`] and re-reads the file when it changes, so `sextant users add`
//! and `remove` take effect on the next request without a restart.

use parking_lot::RwLock;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sextant_access::{Access, Level};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;
use subtle::ConstantTimeEq;

#[derive(thiserror::Error, Debug)]
pub enum AuthError {
    #[error("users file {path}: {msg}")]
    File { path: PathBuf, msg: String },
    #[error("user {0:?} already exists")]
    Exists(String),
    #[error("invalid user: {0}")]
    Invalid(String),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T> = std::result::Result<T, AuthError>;

/// What a user may do (what they may *see* is their clearance).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Search, ask, chat, read documents.
    Reader,
    /// Upload and delete documents (at or below their clearance).
    Ingester,
    /// Read the audit log and operational metrics.
    Admin,
}

impl std::str::FromStr for Role {
    type Err = AuthError;
    fn from_str(s: &str) -> Result<Role> {
        match s.trim().to_ascii_lowercase().as_str() {
            "reader" => Ok(Role::Reader),
            "ingester" => Ok(Role::Ingester),
            "admin" => Ok(Role::Admin),
            other => Err(AuthError::Invalid(format!(
                "unknown role {other:?}: expected reader, ingester or admin"
            ))),
        }
    }
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Ingester => "ingester",
            Role::Admin => "admin",
        }
    }
}

/// One `[[user]]` of the users file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRecord {
    pub name: String,
    /// Level name or abbreviation: UNCLASSIFIED, CUI, CONFIDENTIAL, SECRET, TOP SECRET.
    pub clearance: String,
    /// SCI control systems / compartments and SAP programs the user is read into.
    #[serde(default)]
    pub sci: Vec<String>,
    /// ISO 3166 trigraph, for REL TO and NOFORN.
    pub citizenship: String,
    pub roles: Vec<Role>,
    #[serde(default)]
    pub token_id: String,
    #[serde(default)]
    pub token_salt: String,
    #[serde(default)]
    pub token_sha256: String,
    /// SHA-256 fingerprints (hex) of client certificates that authenticate as this user.
    #[serde(default)]
    pub cert_sha256: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct UsersFile {
    #[serde(default, rename = "user")]
    users: Vec<UserRecord>,
}

/// An authenticated person: who, what they may see, what they may do.
#[derive(Debug, Clone)]
pub struct Principal {
    pub name: String,
    pub access: Access,
    pub roles: BTreeSet<Role>,
}

impl Principal {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

impl UserRecord {
    /// Validates the record and makes its principal.
    pub fn principal(&self) -> Result<Principal> {
        validate_name(&self.name)?;
        let level: Level = self
            .clearance
            .parse()
            .map_err(|e| AuthError::Invalid(format!("user {}: clearance: {e}", self.name)))?;
        let access = Access::new(level, &self.sci, &self.citizenship)
            .map_err(|e| AuthError::Invalid(format!("user {}: {e}", self.name)))?;
        Ok(Principal {
            name: self.name.clone(),
            access,
            roles: self.roles.iter().copied().collect(),
        })
    }
}

fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(AuthError::Invalid(format!(
            "user name {name:?}: use 1-64 letters, digits, '.', '_' or '-'"
        )))
    }
}

fn read_file(path: &Path) -> Result<UsersFile> {
    let raw = match std::fs::read_to_string(path) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(UsersFile::default()),
        Err(e) => return Err(e.into()),
    };
    toml::from_str(&raw).map_err(|e| AuthError::File {
        path: path.to_path_buf(),
        msg: e.to_string(),
    })
}

fn write_file(path: &Path, file: &UsersFile) -> Result<()> {
    let body = toml::to_string_pretty(file).map_err(|e| AuthError::File {
        path: path.to_path_buf(),
        msg: e.to_string(),
    })?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension("tmp");
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp)?;
        f.write_all(
            b"# Sextant users: managed by `sextant users add/remove`. Tokens are stored as salted hashes.\n",
        )?;
        f.write_all(body.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn hash_secret(salt: &[u8], secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(secret.as_bytes());
    hex::encode(h.finalize())
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// A user to add.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub name: String,
    pub clearance: String,
    pub sci: Vec<String>,
    pub citizenship: String,
    pub roles: Vec<Role>,
    pub cert_sha256: Vec<String>,
}

/// Adds a user to the users file and returns their API token (shown once; only a salted hash
/// is kept).
pub fn add_user(path: &Path, user: NewUser) -> Result<String> {
    let mut file = read_file(path)?;
    if file.users.iter().any(|u| u.name == user.name) {
        return Err(AuthError::Exists(user.name));
    }
    let token_id = random_hex(6);
    let secret = random_hex(32);
    let salt = random_hex(16);
    let salt_bytes = hex::decode(&salt).map_err(|e| AuthError::Invalid(e.to_string()))?;
    let mut roles = user.roles.clone();
    roles.sort();
    roles.dedup();
    let record = UserRecord {
        name: user.name,
        clearance: user.clearance,
        sci: user.sci,
        citizenship: user.citizenship.to_ascii_uppercase(),
        roles,
        token_id: token_id.clone(),
        token_salt: salt,
        token_sha256: hash_secret(&salt_bytes, &secret),
        cert_sha256: user
            .cert_sha256
            .iter()
            .map(|f| f.to_ascii_lowercase().replace(':', ""))
            .collect(),
    };
    record.principal()?;
    file.users.push(record);
    write_file(path, &file)?;
    Ok(format!("sxt_{token_id}_{secret}"))
}

/// Removes a user; `false` when there was none by that name.
pub fn remove_user(path: &Path, name: &str) -> Result<bool> {
    let mut file = read_file(path)?;
    let before = file.users.len();
    file.users.retain(|u| u.name != name);
    if file.users.len() == before {
        return Ok(false);
    }
    write_file(path, &file)?;
    Ok(true)
}

/// Every user in the file (a malformed one is an error naming it).
pub fn list_users(path: &Path) -> Result<Vec<UserRecord>> {
    let file = read_file(path)?;
    for u in &file.users {
        u.principal()?;
    }
    Ok(file.users)
}

/// What identifies one version of the users file on disk: modification time and length (a
/// rewrite within the clock's resolution still changes the length, or the time).
type Version = Option<(SystemTime, u64)>;

fn version_of(path: &Path) -> Version {
    std::fs::metadata(path)
        .and_then(|m| Ok((m.modified()?, m.len())))
        .ok()
}

struct Loaded {
    modified: Version,
    users: Arc<Vec<(UserRecord, Principal)>>,
}

/// The users file as the server sees it, re-read whenever it changes on disk.
pub struct Users {
    path: PathBuf,
    loaded: RwLock<Loaded>,
}

impl Users {
    /// Loads the users file (a missing file means no users). A malformed file is an error here.
    ///
    /// The file's version is checked on every authentication, so a change (a revocation)
    /// takes effect from the first request after it is written. A change that breaks the file
    /// fails closed: nobody authenticates until it loads again (logged as an error each time
    /// it is re-read), because keeping the previous users would keep a revoked one in.
    pub fn open(path: &Path) -> Result<Users> {
        let modified = version_of(path);
        let users = Self::load(path)?;
        Ok(Users {
            path: path.to_path_buf(),
            loaded: RwLock::new(Loaded {
                modified,
                users: Arc::new(users),
            }),
        })
    }

    fn load(path: &Path) -> Result<Vec<(UserRecord, Principal)>> {
        read_file(path)?
            .users
            .into_iter()
            .map(|u| u.principal().map(|p| (u, p)))
            .collect()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn current(&self) -> Arc<Vec<(UserRecord, Principal)>> {
        let modified = version_of(&self.path);
        {
            let l = self.loaded.read();
            if l.modified == modified {
                return l.users.clone();
            }
        }
        let mut l = self.loaded.write();
        if l.modified != modified {
            match Self::load(&self.path) {
                Ok(users) => {
                    tracing::info!(users = users.len(), "users file reloaded");
                    l.users = Arc::new(users);
                }
                Err(e) => {
                    tracing::error!(error = %e, path = %self.path.display(), "USERS FILE DOES NOT LOAD: every request is refused until it is fixed");
                    l.users = Arc::new(Vec::new());
                }
            }
            l.modified = modified;
        }
        l.users.clone()
    }

    /// The principal a bearer token belongs to, if any.
    pub fn authenticate(&self, token: &str) -> Option<Principal> {
        let rest = token.strip_prefix("sxt_")?;
        let (id, secret) = rest.split_once('_')?;
        let users = self.current();
        let (record, principal) = users
            .iter()
            .find(|(u, _)| !u.token_id.is_empty() && u.token_id == id)?;
        let salt = hex::decode(&record.token_salt).ok()?;
        // Constant time (subtle): how much of a guess matched must not show in the timing.
        bool::from(
            hash_secret(&salt, secret)
                .as_bytes()
                .ct_eq(record.token_sha256.as_bytes()),
        )
        .then(|| principal.clone())
    }

    /// The principal a verified client certificate (by SHA-256 fingerprint) belongs to.
    pub fn by_certificate(&self, fingerprint: &str) -> Option<Principal> {
        let fp = fingerprint.to_ascii_lowercase();
        self.current()
            .iter()
            .find(|(u, _)| u.cert_sha256.iter().any(|c| c == &fp))
            .map(|(_, p)| p.clone())
    }

    /// A user by name (the CLI's `--as`).
    pub fn get(&self, name: &str) -> Option<Principal> {
        self.current()
            .iter()
            .find(|(u, _)| u.name == name)
            .map(|(_, p)| p.clone())
    }

    pub fn len(&self) -> usize {
        self.current().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_user(name: &str, clearance: &str, roles: &[Role]) -> NewUser {
        NewUser {
            name: name.into(),
            clearance: clearance.into(),
            sci: vec!["SI".into()],
            citizenship: "usa".into(),
            roles: roles.to_vec(),
            cert_sha256: vec!["AB:CD".into()],
        }
    }

    #[test]
    fn add_authenticate_reload_remove() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.toml");
        let users = Users::open(&path).unwrap();
        assert!(users.is_empty());
        let token = add_user(&path, new_user("alice", "SECRET", &[Role::Reader])).unwrap();
        assert!(token.starts_with("sxt_"));
        let stored = std::fs::read_to_string(&path).unwrap();
        let secret = token.rsplit('_').next().unwrap();
        assert!(
            !stored.contains(secret),
            "only a hash of the token is stored"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Picked up without reopening (mtime granularity: make sure it moved).
        let later = SystemTime::now() + std::time::Duration::from_secs(2);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(later)
            .unwrap();
        let p = users.authenticate(&token).expect("token authenticates");
        assert_eq!(p.name, "alice");
        assert!(p.has(Role::Reader) && !p.has(Role::Admin));
        assert_eq!(p.access.citizenship(), "USA");
        assert!(users.by_certificate("abcd").is_some());
        // Wrong secret, unknown id, malformed tokens.
        let mut bad = token.clone();
        bad.pop();
        bad.push(if token.ends_with('0') { '1' } else { '0' });
        for t in [bad.as_str(), "sxt_000000000000_00", "Bearer x", "", "sxt_"] {
            assert!(users.authenticate(t).is_none(), "{t}");
        }
        assert!(matches!(
            add_user(&path, new_user("alice", "SECRET", &[])),
            Err(AuthError::Exists(_))
        ));
        for (name, clearance) in [("bad name", "SECRET"), ("bob", "SECRT")] {
            let err = add_user(&path, new_user(name, clearance, &[])).unwrap_err();
            assert!(matches!(err, AuthError::Invalid(_)), "{err}");
        }
        assert_eq!(list_users(&path).unwrap().len(), 1);
        assert!(remove_user(&path, "alice").unwrap());
        assert!(!remove_user(&path, "alice").unwrap());
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(later + std::time::Duration::from_secs(2))
            .unwrap();
        assert!(
            users.authenticate(&token).is_none(),
            "removed users lose access"
        );
    }

    /// A users file broken by an edit locks everyone out (instead of keeping the old users,
    /// a revoked one among them); fixing it lets them back in. No mtime games: the length of
    /// the file changes with each edit.
    #[test]
    fn a_broken_users_file_fails_closed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.toml");
        let token = add_user(&path, new_user("alice", "SECRET", &[Role::Reader])).unwrap();
        let users = Users::open(&path).unwrap();
        assert!(users.authenticate(&token).is_some());
        let good = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{good}\n[[users]\nbroken")).unwrap();
        assert!(users.authenticate(&token).is_none(), "broken file: nobody");
        assert!(users.get("alice").is_none());
        std::fs::write(&path, &good).unwrap();
        assert!(users.authenticate(&token).is_some(), "fixed file: back in");
    }

    #[test]
    fn example_users_file_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/users.example.toml");
        let users = list_users(&path).unwrap();
        assert!(users.len() >= 3);
        for r in ["reader", "ingester", "admin"] {
            let role: Role = r.parse().unwrap();
            assert!(users.iter().any(|u| u.roles.contains(&role)), "{r}");
        }
    }
}
