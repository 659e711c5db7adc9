//! Llama (SmolLM2 and friends): candle-transformers' quantized llama.

/// candle precomputes rotary tables for this many positions.
pub const MAX_CONTEXT: usize = candle_transformers::models::quantized_llama::MAX_SEQ_LEN;

candle_quantized!(candle_transformers::models::quantized_llama::ModelWeights);
