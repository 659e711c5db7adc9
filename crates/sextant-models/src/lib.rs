//! Local models: the model manifest and its offline provisioning, and the candle-backed
//! embedder. Everything here runs in-process; nothing touches the network except
//! [`fetch::fetch_model`], which an operator runs once.

pub mod cancel;
pub mod embed;
pub mod fetch;
pub mod generate;
pub mod kernels;
pub mod manifest;
pub mod priority;

pub use embed::Embedder;
pub use generate::{ChatMessage, ChatModel, GenParams, Generation, WeightFormat};
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
    Busy(String),
    #[error("the request was cancelled (the client went away or its time ran out)")]
    Cancelled,
    #[error("the prompt has {prompt} tokens; the model's context window is {context}")]
    ContextOverflow { prompt: usize, context: usize },
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

/// Checks every file of `spec` against its pin, so that a truncated or replaced file is a clear
/// error, not a confusing load failure.
pub fn verify_installed(spec: &ModelSpec, models_dir: &std::path::Path) -> Result<()> {
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
                    "model {} file {name} does not match its pinned sha256 (truncated or replaced): run `sextant models fetch` again",
                    spec.id
                )))
            }
        }
    }
    Ok(())
}

/// Loads the default embedding model from `models_dir`.
pub fn load_default_embedder(models_dir: &std::path::Path) -> Result<Embedder> {
    let manifest = Manifest::builtin();
    let spec = manifest
        .default_embedding()
        .ok_or_else(|| ModelError::Manifest("no embedding model".into()))?;
    verify_installed(spec, models_dir)?;
    Embedder::load(&models_dir.join(&spec.id), &spec.id)
}

/// Loads chat model `id` as an [`generate::Engine`] on the default device, with its pinned
/// weight format unless `format` overrides it.
pub fn load_chat_engine(
    models_dir: &std::path::Path,
    id: &str,
    format: Option<generate::WeightFormat>,
) -> Result<generate::Engine> {
    let manifest = Manifest::builtin();
    let spec = manifest
        .get(id)
        .filter(|s| s.kind == ModelKind::Chat)
        .ok_or_else(|| {
            ModelError::Load(format!(
                "no chat model {id:?} (chat models: {})",
                manifest.chat_ids().join(", ")
            ))
        })?;
    verify_installed(spec, models_dir)?;
    let dir = models_dir.join(&spec.id);
    let weights = spec
        .files
        .iter()
        .find(|f| f.name.ends_with(".gguf"))
        .ok_or_else(|| ModelError::Manifest(format!("model {id} has no .gguf file")))?;
    let tokenizer = spec.tokenizer.as_ref().map(|t| dir.join(t));
    Ok(generate::Engine::load(
        id,
        &dir.join(&weights.name),
        tokenizer.as_deref(),
        format
            .or(spec.weights)
            .unwrap_or(generate::WeightFormat::Native),
        &embed::device(),
    )?
    .with_reader_agreement(spec.reader_agreement))
}
