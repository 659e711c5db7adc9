//! Local models: the model manifest and its offline provisioning, and the candle-backed
//! embedder. Everything here runs in-process; nothing touches the network except
//! [`fetch::fetch_model`], which an operator runs once.

pub mod embed;
pub mod fetch;
pub mod manifest;

pub use embed::Embedder;
pub use manifest::{Manifest, ModelKind, ModelSpec};

#[derive(thiserror::Error, Debug)]
pub enum ModelError {
    #[error("model manifest: {0}")]
    Manifest(String),
    #[error("fetching models: {0}")]
    Fetch(String),
    #[error("loading model: {0}")]
    Load(String),
    #[error("model inference: {0}")]
    Inference(String),
    #[error("model worker: {0}")]
    Worker(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T> = std::result::Result<T, ModelError>;

/// Where models are installed: `$SEXTANT_MODELS`, else `models/` (relative to the working
/// directory, i.e. the repository's `models/` when run from a checkout).
pub fn default_models_dir() -> std::path::PathBuf {
    std::env::var_os("SEXTANT_MODELS")
        .map(Into::into)
        .unwrap_or_else(|| "models".into())
}

/// Loads the default embedding model from `models_dir`, checking its files against their pins
/// first so that a truncated or replaced file is a clear error, not a confusing load failure.
pub fn load_default_embedder(models_dir: &std::path::Path) -> Result<Embedder> {
    let manifest = Manifest::builtin();
    let spec = manifest
        .default_embedding()
        .ok_or_else(|| ModelError::Manifest("no embedding model".into()))?;
    for (name, state) in fetch::model_state(spec, models_dir)? {
        match state {
            fetch::FileState::Verified => {}
            fetch::FileState::Missing => {
                return Err(ModelError::Load(format!(
                    "model {} is not installed ({name} missing in {}): run `sextant models fetch`",
                    spec.id,
                    models_dir.display()
                )))
            }
            fetch::FileState::Mismatch => {
                return Err(ModelError::Load(format!(
                    "model {} file {name} does not match its pinned sha256: run `sextant models fetch` again",
                    spec.id
                )))
            }
        }
    }
    Embedder::load(&models_dir.join(&spec.id), &spec.id)
}
