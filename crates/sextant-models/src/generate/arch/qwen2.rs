//! Qwen2 (Qwen2.5, Qwen2.5-Coder): candle-transformers' quantized qwen2.

candle_quantized!(candle_transformers::models::quantized_qwen2::ModelWeights);
