//! Connected systems: a connector is another system's API, described by its OpenAPI document,
//! that Sextant may call on a user's behalf (text-to-API).
//!
//! This crate reads connectors: the settings (`config/connectors/NAME.toml`, [`config`]), the
//! document ([`openapi`]) and the catalogue of operations the settings allow, each with one
//! JSON Schema for its arguments. It builds and sends calls ([`call`]: validated arguments,
//! the base URL only, no redirects, credentials added at the last moment) and keeps the call
//! records ([`record`]: pending calls and what every call did). Who may call what is decided
//! above it (sextant-app).
//!
//! Invariants:
//! * Only allowed operations are in a connector's catalogue; without an allowlist, only the
//!   read-only ones (GET, HEAD). An allowlist entry that names no operation is an error.
//! * Every error names the file and where in it (a line of the settings, a JSON pointer of the
//!   document); a bad connector never stops the others from loading.

pub mod call;
pub mod config;
pub mod openapi;
pub mod record;
pub mod swagger;

use std::path::{Path, PathBuf};

pub use config::{Auth, Settings, Tls};
pub use openapi::{In, Operation, Param};

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("{}{}: {message}", file.display(), line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Settings {
        file: PathBuf,
        line: Option<usize>,
        message: String,
    },
    #[error("{}{}: {message}", file.display(), if pointer.is_empty() { String::new() } else { format!(" at {pointer}") })]
    Spec {
        file: PathBuf,
        /// JSON pointer (RFC 6901) of what is wrong; empty for the whole document.
        pointer: String,
        message: String,
    },
}

pub type Result<T> = std::result::Result<T, ConnectError>;

/// A connector ready to use: its settings and the operations they allow.
#[derive(Debug, Clone)]
pub struct Connector {
    pub settings: Settings,
    pub operations: Vec<Operation>,
}

impl Connector {
    /// Reads the settings in `file` and the OpenAPI document they name.
    pub fn load(file: &Path) -> Result<Connector> {
        let settings = Settings::load(file)?;
        let mut all = openapi::read(&settings.spec)?;
        for entry in &settings.safe {
            let mut found = false;
            for o in all.iter_mut().filter(|o| o.named_by(entry)) {
                o.safe = true;
                found = true;
            }
            if !found {
                return Err(unknown_entry(file, &settings, "safe", entry));
            }
        }
        let operations = match &settings.allow {
            None => all.into_iter().filter(Operation::read_only).collect(),
            Some(allow) => {
                if let Some(unknown) = allow.iter().find(|e| !all.iter().any(|o| o.named_by(e))) {
                    return Err(unknown_entry(file, &settings, "allow", unknown));
                }
                all.into_iter()
                    .filter(|o| allow.iter().any(|e| o.named_by(e)))
                    .collect()
            }
        };
        let mut operations: Vec<Operation> = operations;
        for op in &mut operations {
            op.hide(&settings.hide);
        }
        for (entry, path) in &settings.bodies {
            let schema = read_schema(path)?;
            let mut found = false;
            for op in operations.iter_mut().filter(|o| o.named_by(entry)) {
                op.set_body_schema(schema.clone());
                found = true;
            }
            if !found {
                return Err(unknown_entry(file, &settings, "bodies", entry));
            }
        }
        Ok(Connector {
            settings,
            operations,
        })
    }

    pub fn name(&self) -> &str {
        &self.settings.name
    }

    pub fn operation(&self, id: &str) -> Option<&Operation> {
        self.operations.iter().find(|o| o.id == id)
    }
}

/// A JSON Schema file (for `bodies`), checked to be one.
fn read_schema(path: &Path) -> Result<serde_json::Value> {
    let spec_err = |message: String| ConnectError::Spec {
        file: path.to_path_buf(),
        pointer: String::new(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| spec_err(e.to_string()))?;
    let schema: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        spec_err(format!(
            "not JSON (line {} column {}): {e}",
            e.line(),
            e.column()
        ))
    })?;
    jsonschema::meta::validate(&schema).map_err(|e| spec_err(format!("not a JSON Schema: {e}")))?;
    Ok(schema)
}

/// The error for a `key` entry of the settings in `file` that names no operation.
fn unknown_entry(file: &Path, settings: &Settings, key: &str, entry: &str) -> ConnectError {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    ConnectError::Settings {
        file: file.to_path_buf(),
        line: text
            .find(&format!("\"{entry}\""))
            .map(|at| text[..at].matches('\n').count() + 1),
        message: format!(
            "{key}: {entry:?} names no operation of {} (give an operationId or \"METHOD /path\")",
            settings.spec.display()
        ),
    }
}

/// Every `*.toml` in `dir`, in name order: the connectors that load, and the errors of those
/// that do not (a missing directory holds no connectors).
pub fn load_dir(dir: &Path) -> (Vec<Connector>, Vec<ConnectError>) {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort_by_key(|p| p.file_stem().map(|s| s.to_os_string()));
    let (mut ok, mut bad) = (Vec::new(), Vec::new());
    for f in files {
        match Connector::load(&f) {
            Ok(c) => ok.push(c),
            Err(e) => bad.push(e),
        }
    }
    (ok, bad)
}

#[cfg(test)]
mod tests;
