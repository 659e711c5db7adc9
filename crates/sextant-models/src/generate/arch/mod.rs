//! Model architectures, one file each. Adding one (qwen3, gemma3, phi3, …) is a new file that
//! wraps candle-transformers' quantized implementation in [`CausalLm`] (for the usual
//! `ModelWeights` shape, one [`candle_quantized!`] line), and one line in [`ARCHITECTURES`].

use candle_core::quantized::gguf_file::Content;
use candle_core::{Device, Tensor};

use super::gguf::{Gguf, ReadSeek};
use crate::{ModelError, Result};

/// Defines `load` and the [`CausalLm`] impl for a candle-transformers quantized model type with
/// `from_gguf(content, reader, device)`, `forward(tokens, pos)` and `clear_kv_cache()`.
macro_rules! candle_quantized {
    ($weights:ty) => {
        pub fn load(
            content: candle_core::quantized::gguf_file::Content,
            reader: &mut dyn $crate::generate::gguf::ReadSeek,
            device: &candle_core::Device,
        ) -> candle_core::Result<Box<dyn super::CausalLm>> {
            let model = <$weights>::from_gguf(content, &mut super::ReaderRef(reader), device)?;
            Ok(Box::new(model))
        }

        impl super::CausalLm for $weights {
            fn forward(
                &mut self,
                tokens: &candle_core::Tensor,
                pos: usize,
            ) -> candle_core::Result<candle_core::Tensor> {
                <$weights>::forward(self, tokens, pos)
            }
            fn clear_cache(&mut self) {
                <$weights>::clear_kv_cache(self)
            }
        }
    };
}

mod llama;
mod qwen2;

/// A decoder-only language model with its own KV cache.
pub trait CausalLm: Send {
    /// Feeds `tokens` (shape `[1, n]`) at positions `pos..pos + n` and returns the logits of
    /// the last one (`[1, vocab]`).
    fn forward(&mut self, tokens: &Tensor, pos: usize) -> candle_core::Result<Tensor>;
    /// Forgets every cached position.
    fn clear_cache(&mut self);
}

/// `&mut dyn ReadSeek` as a sized reader, for candle's generic loaders.
pub(super) struct ReaderRef<'a>(pub &'a mut dyn ReadSeek);

impl std::io::Read for ReaderRef<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl std::io::Seek for ReaderRef<'_> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.0.seek(pos)
    }
}

type Loader = fn(Content, &mut dyn ReadSeek, &Device) -> candle_core::Result<Box<dyn CausalLm>>;

/// `general.architecture` → loader, and the longest context candle's implementation supports
/// (`None`: whatever the GGUF says).
const ARCHITECTURES: &[(&str, Loader, Option<usize>)] = &[
    ("llama", llama::load, Some(llama::MAX_CONTEXT)),
    ("qwen2", qwen2::load, None),
];

pub fn load(gguf: Gguf, device: &Device) -> Result<(Box<dyn CausalLm>, usize)> {
    let arch = gguf.architecture()?.to_string();
    let Some((_, loader, cap)) = ARCHITECTURES.iter().find(|(a, _, _)| *a == arch) else {
        let known: Vec<&str> = ARCHITECTURES.iter().map(|(a, _, _)| *a).collect();
        return Err(ModelError::Load(format!(
            "architecture {arch:?} is not supported (supported: {})",
            known.join(", ")
        )));
    };
    let declared = gguf
        .u32(&format!("{arch}.context_length"))
        .map(|c| c as usize)
        .unwrap_or(2048);
    let context = cap.map_or(declared, |c| declared.min(c));
    let Gguf {
        content,
        mut reader,
        ..
    } = gguf;
    let model = loader(content, &mut *reader, device)
        .map_err(|e| ModelError::Load(format!("{arch} weights: {e}")))?;
    Ok((model, context))
}
