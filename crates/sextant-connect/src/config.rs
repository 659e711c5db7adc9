//! `config/connectors/NAME.toml`: one connected system.
//!
//! ```toml
//! spec = "geo.openapi.json"          # OpenAPI 3.0/3.1 document, relative to this file
//! base_url = "http://127.0.0.1:5000"  # every call goes here and nowhere else
//! marking = "UNCLASSIFIED"            # the least marking of everything it returns
//! roles = ["reader"]                  # who may use it (default: readers)
//! allow = ["getCollections", "GET /collections/{collectionId}/items"]  # default: read-only
//! hide = ["f", "lang"]                # optional parameters never offered to the model
//! safe = ["search"]                   # change nothing despite their method (POST searches)
//! timeout_secs = 10
//! max_response_bytes = 4194304
//!
//! [tls]                               # optional: private CA, client certificate (mutual TLS)
//! ca_file = "ca.pem"
//! client_cert = "sextant.pem"
//! client_key = "sextant.key"
//!
//! [auth]                              # optional: how Sextant authenticates to the system
//! header = "Authorization"
//! value_prefix = "Bearer "
//! secret_env = "GEO_TOKEN"            # or secret_file = "/run/secrets/geo"
//! ```

use serde::Deserialize;
use sextant_access::Marking;
use sextant_auth::Role;
use std::path::{Path, PathBuf};

use crate::{ConnectError, Result};

/// A connector's settings as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    spec: PathBuf,
    base_url: String,
    marking: String,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    allow: Option<Vec<String>>,
    #[serde(default)]
    hide: Vec<String>,
    #[serde(default)]
    safe: Vec<String>,
    #[serde(default = "default_timeout")]
    timeout_secs: u64,
    #[serde(default = "default_max_response")]
    max_response_bytes: usize,
    #[serde(default)]
    auth: Option<Auth>,
    #[serde(default)]
    tls: Option<Tls>,
    #[serde(default)]
    bodies: std::collections::BTreeMap<String, PathBuf>,
}

/// TLS to the connected system: the CA that signs its certificate (instead of the public
/// roots), and Sextant's client certificate when the system wants one (mutual TLS). Paths are
/// relative to the settings file; the files are read when a call runs.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    #[serde(default)]
    pub client_key: Option<PathBuf>,
}

fn default_timeout() -> u64 {
    10
}

fn default_max_response() -> usize {
    4 << 20
}

/// How Sextant authenticates to the connected system: a static header whose secret comes
/// from the environment or a file (never from the settings file itself).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    pub header: String,
    #[serde(default)]
    pub value_prefix: String,
    #[serde(default)]
    pub secret_env: Option<String>,
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
}

/// A connector's settings, checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub name: String,
    /// The settings file, for messages.
    pub file: PathBuf,
    pub spec: PathBuf,
    /// Scheme, host and optional port and path prefix, without a trailing slash.
    pub base_url: String,
    pub marking: Marking,
    pub roles: Vec<Role>,
    /// `None`: the read-only operations (GET and HEAD).
    pub allow: Option<Vec<String>>,
    /// Optional parameters never offered to the model (the system's defaults apply): output
    /// formats, languages, vendor switches that only lengthen the prompt.
    pub hide: Vec<String>,
    /// TLS trust and client certificate for https:// base URLs.
    pub tls: Option<Tls>,
    /// Operations that change nothing although their method could (a search by POST): they
    /// run without confirmation and are allowed by default like GET. Same forms as `allow`.
    pub safe: Vec<String>,
    pub timeout_secs: u64,
    pub max_response_bytes: usize,
    pub auth: Option<Auth>,
    /// JSON Schemas for request bodies the document leaves open (pygeoapi's `{}`), by
    /// operation (same forms as `allow`): the model then writes a body valid against it.
    pub bodies: Vec<(String, PathBuf)>,
}

/// Connector names: 1-64 lowercase letters, digits, '-' and '_' (they appear in URLs and ids).
fn check_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

impl Settings {
    /// Reads `file` (its stem is the connector's name).
    pub fn load(file: &Path) -> Result<Settings> {
        let err = |line: Option<usize>, message: String| ConnectError::Settings {
            file: file.to_path_buf(),
            line,
            message,
        };
        let name = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !check_name(&name) {
            return Err(err(
                None,
                format!("connector name {name:?}: use 1-64 of a-z, 0-9, '-' and '_'"),
            ));
        }
        let text = std::fs::read_to_string(file).map_err(|e| err(None, e.to_string()))?;
        let raw: Raw = toml::from_str(&text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            err(line, e.message().to_string())
        })?;
        let line_of = |needle: &str| {
            text.find(needle)
                .map(|at| text[..at].matches('\n').count() + 1)
        };
        let base_url = raw.base_url.trim_end_matches('/').to_string();
        let scheme_ok = base_url.starts_with("http://") || base_url.starts_with("https://");
        if !scheme_ok || base_url.contains(['?', '#']) || base_url.contains(char::is_whitespace) {
            return Err(err(
                line_of("base_url"),
                format!(
                    "base_url {:?}: an http:// or https:// URL without query or fragment",
                    raw.base_url
                ),
            ));
        }
        let marking = Marking::parse(&raw.marking).map_err(|e| {
            err(
                line_of("marking"),
                format!("marking {:?}: {e}", raw.marking),
            )
        })?;
        let roles = if raw.roles.is_empty() {
            vec![Role::Reader]
        } else {
            raw.roles
                .iter()
                .map(|r| {
                    r.parse::<Role>()
                        .map_err(|e| err(line_of("roles"), format!("role {r:?}: {e}")))
                })
                .collect::<Result<Vec<_>>>()?
        };
        if let Some(a) = &raw.auth {
            if a.secret_env.is_some() == a.secret_file.is_some() {
                return Err(err(
                    line_of("[auth]"),
                    "auth: give exactly one of secret_env and secret_file".into(),
                ));
            }
        }
        let mut tls = raw.tls.clone();
        if let Some(t) = &mut tls {
            if t.client_cert.is_some() != t.client_key.is_some() {
                return Err(err(
                    line_of("[tls]"),
                    "tls: give client_cert and client_key together".into(),
                ));
            }
            let dir = file.parent().unwrap_or(Path::new("."));
            for p in [&mut t.ca_file, &mut t.client_cert, &mut t.client_key]
                .into_iter()
                .flatten()
            {
                *p = dir.join(&*p);
                if !p.is_file() {
                    return Err(err(
                        line_of("[tls]"),
                        format!("tls: {} is not a readable file", p.display()),
                    ));
                }
            }
        }
        if raw.timeout_secs == 0 || raw.max_response_bytes == 0 {
            return Err(err(
                None,
                "timeout_secs and max_response_bytes must be positive".into(),
            ));
        }
        let dir = file.parent().unwrap_or(Path::new("."));
        let mut bodies = Vec::new();
        for (entry, path) in raw.bodies {
            let path = dir.join(path);
            if !path.is_file() {
                return Err(err(
                    line_of(&format!("\"{entry}\"")),
                    format!("bodies: {} is not a readable file", path.display()),
                ));
            }
            bodies.push((entry, path));
        }
        Ok(Settings {
            bodies,
            name,
            file: file.to_path_buf(),
            spec: dir.join(raw.spec),
            base_url,
            marking,
            roles,
            allow: raw.allow,
            hide: raw.hide,
            tls,
            safe: raw.safe,
            timeout_secs: raw.timeout_secs,
            max_response_bytes: raw.max_response_bytes,
            auth: raw.auth.map(|mut a| {
                a.secret_file = a.secret_file.map(|f| dir.join(f));
                a
            }),
        })
    }
}

/// The secret `auth` names, read now (it may be rotated while Sextant runs). Errors name
/// where the secret should be, never any of its content.
pub(crate) fn read_secret(auth: &Auth) -> std::result::Result<String, String> {
    let raw = match (&auth.secret_env, &auth.secret_file) {
        (Some(var), _) => {
            std::env::var(var).map_err(|_| format!("the secret variable ${var} is not set"))?
        }
        (None, Some(file)) => std::fs::read_to_string(file)
            .map_err(|e| format!("the secret file {} cannot be read: {e}", file.display()))?,
        (None, None) => return Err("auth names no secret".into()),
    };
    let s = raw.trim();
    if s.is_empty() || s.contains(['\r', '\n']) {
        return Err("the secret is empty or spans lines".into());
    }
    Ok(s.to_string())
}
