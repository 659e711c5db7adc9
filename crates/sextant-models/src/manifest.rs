//! The model manifest (`models/manifest.toml`, compiled into the binary): which models exist,
//! which registry packages carry them, and the sha256 of everything involved.

use crate::{ModelError, Result};
use serde::Deserialize;

const BUILTIN: &str = include_str!("../../../models/manifest.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    Embedding,
    Chat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Registry {
    Pypi,
    Npm,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub registry: Registry,
    pub package: String,
    pub version: String,
    /// File name the registry client saves the archive under.
    pub archive: String,
    pub archive_sha256: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    pub name: String,
    pub sha256: String,
    /// `"<source index>:<path inside that archive>"`, concatenated in this order.
    pub parts: Vec<String>,
}

impl ModelFile {
    /// The parts as (source index, member path).
    pub fn part_list(&self) -> Result<Vec<(usize, &str)>> {
        self.parts
            .iter()
            .map(|p| {
                let (i, path) = p.split_once(':').ok_or_else(|| {
                    ModelError::Manifest(format!("part {p:?} is not \"<source>:<path>\""))
                })?;
                let i = i
                    .parse()
                    .map_err(|_| ModelError::Manifest(format!("part {p:?}: bad source index")))?;
                Ok((i, path))
            })
            .collect()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub id: String,
    pub kind: ModelKind,
    pub license: String,
    pub description: String,
    pub sources: Vec<Source>,
    pub files: Vec<ModelFile>,
    /// Chat models: what tensor types without fast kernels become at load (measured per
    /// model; see docs/generation.md). Absent: keep the file's types.
    #[serde(default)]
    pub weights: Option<crate::generate::WeightFormat>,
    /// Chat models: a tokenizer.json (one of `files`) to use instead of rebuilding the
    /// tokenizer from the GGUF metadata.
    #[serde(default)]
    pub tokenizer: Option<String>,
    /// Chat models too small to choose an answer among distractors: an answer stands only
    /// when it comes from one of the best `n` statements by the evidence ranking (the model
    /// and the ranking agree). Absent: any statement the model was shown.
    #[serde(default)]
    pub reader_agreement: Option<usize>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    #[serde(rename = "model")]
    pub models: Vec<ModelSpec>,
}

impl Manifest {
    /// The manifest shipped with this build.
    pub fn builtin() -> Manifest {
        Manifest::parse(BUILTIN).expect("the built-in model manifest is valid (checked by a test)")
    }

    pub fn parse(text: &str) -> Result<Manifest> {
        let m: Manifest = toml::from_str(text).map_err(|e| ModelError::Manifest(e.to_string()))?;
        for spec in &m.models {
            for f in &spec.files {
                for (i, _) in f.part_list()? {
                    if i >= spec.sources.len() {
                        return Err(ModelError::Manifest(format!(
                            "model {}: file {} names source {i}, which does not exist",
                            spec.id, f.name
                        )));
                    }
                }
            }
        }
        Ok(m)
    }

    pub fn get(&self, id: &str) -> Option<&ModelSpec> {
        self.models.iter().find(|m| m.id == id)
    }

    pub fn chat_ids(&self) -> Vec<&str> {
        self.models
            .iter()
            .filter(|m| m.kind == ModelKind::Chat)
            .map(|m| m.id.as_str())
            .collect()
    }

    /// The first chat model: the default one.
    pub fn default_chat(&self) -> Option<&ModelSpec> {
        self.models.iter().find(|m| m.kind == ModelKind::Chat)
    }

    /// The first embedding model: the default one.
    pub fn default_embedding(&self) -> Option<&ModelSpec> {
        self.models.iter().find(|m| m.kind == ModelKind::Embedding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_manifest_is_valid() {
        let m = Manifest::parse(BUILTIN).unwrap();
        assert_eq!(m.default_embedding().unwrap().id, "all-minilm-l6-v2");
        let qwen = m.get("qwen2.5-coder-0.5b-instruct").unwrap();
        assert_eq!(qwen.files[0].part_list().unwrap().len(), 6);
        for spec in &m.models {
            for s in &spec.sources {
                assert_eq!(s.archive_sha256.len(), 64);
            }
            for f in &spec.files {
                assert_eq!(f.sha256.len(), 64);
            }
        }
    }

    #[test]
    fn rejects_dangling_source() {
        let bad = r#"
[[model]]
id = "x"
kind = "chat"
license = "MIT"
description = ""
sources = []
files = [{ name = "a", sha256 = "00", parts = ["3:a"] }]
"#;
        assert!(Manifest::parse(bad)
            .unwrap_err()
            .to_string()
            .contains("source 3"));
    }
}
