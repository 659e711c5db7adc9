//! Model architectures behind [`CausalLm`]. Llama and Qwen2 GGUF files run on our own
//! [`decoder`] (a truncatable KV cache, so shared prompt prefixes are computed once); adding an
//! architecture is a loader and one line in [`ARCHITECTURES`].

use candle_core::quantized::gguf_file::Content;
use candle_core::{Device, Tensor};

use super::gguf::{Gguf, ReadSeek};
use crate::{ModelError, Result};

mod decoder;

/// A decoder-only language model with its own KV cache.
pub trait CausalLm: Send {
    /// Feeds `tokens` (shape `[1, n]`) at positions `pos..pos + n` and returns the logits of
    /// the last one (`[1, vocab]`).
    fn forward(&mut self, tokens: &Tensor, pos: usize) -> candle_core::Result<Tensor>;
    /// Forgets every cached position.
    fn clear_cache(&mut self);
    /// Keeps only the first `len` cached positions (a shared prompt prefix); returns how many
    /// are kept (0 for a model that cannot cut its cache).
    fn truncate(&mut self, len: usize) -> usize {
        let _ = len;
        self.clear_cache();
        0
    }
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
    ("llama", load_decoder, Some(decoder::MAX_POSITIONS)),
    ("qwen2", load_decoder, Some(decoder::MAX_POSITIONS)),
];

fn load_decoder(
    content: Content,
    reader: &mut dyn ReadSeek,
    device: &Device,
) -> candle_core::Result<Box<dyn CausalLm>> {
    Ok(Box::new(decoder::Decoder::from_gguf(
        content, reader, device,
    )?))
}

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
