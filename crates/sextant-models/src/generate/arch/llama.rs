//! Llama (SmolLM2 and friends): candle-transformers' quantized llama.

use candle_core::{Device, Tensor};
use candle_transformers::models::quantized_llama::{ModelWeights, MAX_SEQ_LEN};

use super::CausalLm;
use candle_core::quantized::gguf_file::Content;

use super::ReaderRef;
use crate::generate::gguf::ReadSeek;

/// candle precomputes rotary tables for this many positions.
pub const MAX_CONTEXT: usize = MAX_SEQ_LEN;

pub fn load(
    content: Content,
    reader: &mut dyn ReadSeek,
    device: &Device,
) -> candle_core::Result<Box<dyn CausalLm>> {
    let model = ModelWeights::from_gguf(content, &mut ReaderRef(reader), device)?;
    Ok(Box::new(model))
}

impl CausalLm for ModelWeights {
    fn forward(&mut self, tokens: &Tensor, pos: usize) -> candle_core::Result<Tensor> {
        ModelWeights::forward(self, tokens, pos)
    }
    fn clear_cache(&mut self) {
        ModelWeights::clear_kv_cache(self)
    }
}
