//! Qwen2 (Qwen2.5, Qwen2.5-Coder): candle-transformers' quantized qwen2.

use candle_core::{Device, Tensor};
use candle_transformers::models::quantized_qwen2::ModelWeights;

use super::CausalLm;
use candle_core::quantized::gguf_file::Content;

use super::ReaderRef;
use crate::generate::gguf::ReadSeek;

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
