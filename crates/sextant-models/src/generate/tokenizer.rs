//! A Hugging Face `tokenizers` tokenizer rebuilt from GGUF metadata (`tokenizer.ggml.*`).
//!
//! Only the gpt2-style byte-level BPE family is supported, which is what every chat model in the
//! manifest uses. The pre-tokenizer is chosen by `tokenizer.ggml.pre`, exactly as llama.cpp
//! does; an unknown value is an error rather than a silently different tokenization.
//! Control tokens (`token_type` 3) become special added tokens, user-defined ones (4) plain
//! added tokens, so that chat-template markers such as `<|im_start|>` are single tokens.

use candle_core::quantized::gguf_file::{Content, Value};
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::BPE;
use tokenizers::normalizers::unicode::NFC;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, DecoderWrapper, NormalizerWrapper, PreTokenizerWrapper, Tokenizer};

use crate::{ModelError, Result};

/// The split regex llama.cpp and Hugging Face use for Qwen2 (`pre = "qwen2"`): single digits.
const QWEN2_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// The llama-3 split regex (`pre = "llama-bpe"`): digits in groups of up to three.
const LLAMA3_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

const TOKEN_TYPE_CONTROL: i32 = 3;
const TOKEN_TYPE_USER_DEFINED: i32 = 4;

fn load_err(msg: impl std::fmt::Display) -> ModelError {
    ModelError::Load(format!("GGUF tokenizer: {msg}"))
}

fn md<'a>(ct: &'a Content, key: &str) -> Result<&'a Value> {
    ct.metadata
        .get(key)
        .ok_or_else(|| load_err(format!("missing metadata {key}")))
}

fn strings(v: &Value, key: &str) -> Result<Vec<String>> {
    v.to_vec()
        .map_err(|_| load_err(format!("{key} is not an array")))?
        .iter()
        .map(|s| {
            s.to_string()
                .cloned()
                .map_err(|_| load_err(format!("{key} holds a non-string")))
        })
        .collect()
}

/// The pre-tokenizer (and normalizer) llama.cpp pairs with each `tokenizer.ggml.pre` value.
fn pre_tokenizer(pre: &str) -> Result<(Option<NormalizerWrapper>, PreTokenizerWrapper)> {
    let split = |re: &str| -> Result<PreTokenizerWrapper> {
        let split = Split::new(
            SplitPattern::Regex(re.to_string()),
            tokenizers::SplitDelimiterBehavior::Isolated,
            false,
        )
        .map_err(load_err)?;
        Ok(PreTokenizerWrapper::Sequence(Sequence::new(vec![
            PreTokenizerWrapper::Split(split),
            PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, false, false)),
        ])))
    };
    Ok(match pre {
        // SmolLM / StarCoder: every digit on its own, then the gpt2 byte-level regex. No prefix
        // space: candle's own GGUF tokenizer adds one here and shifts every token.
        "smollm" | "starcoder" | "refact" => (
            None,
            PreTokenizerWrapper::Sequence(Sequence::new(vec![
                PreTokenizerWrapper::Digits(Digits::new(true)),
                PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, true, true)),
            ])),
        ),
        "qwen2" => (Some(NormalizerWrapper::NFC(NFC)), split(QWEN2_SPLIT)?),
        "llama-bpe" | "llama3" => (None, split(LLAMA3_SPLIT)?),
        "gpt-2" | "gpt2" | "default" => (
            None,
            PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, true, true)),
        ),
        other => {
            return Err(load_err(format!(
            "pre-tokenizer {other:?} is not supported (supported: smollm, qwen2, llama-bpe, gpt2)"
        )))
        }
    })
}

/// Builds the tokenizer described by the GGUF metadata.
pub fn from_gguf(ct: &Content) -> Result<Tokenizer> {
    let kind = md(ct, "tokenizer.ggml.model")?
        .to_string()
        .map_err(load_err)?
        .clone();
    if kind != "gpt2" {
        return Err(load_err(format!(
            "tokenizer model {kind:?} is not supported (only gpt2-style BPE)"
        )));
    }
    let tokens = strings(md(ct, "tokenizer.ggml.tokens")?, "tokens")?;
    let merges = strings(md(ct, "tokenizer.ggml.merges")?, "merges")?;
    let types: Vec<i32> = match ct.metadata.get("tokenizer.ggml.token_type") {
        Some(v) => v
            .to_vec()
            .map_err(load_err)?
            .iter()
            .map(|t| t.to_i32().map_err(load_err))
            .collect::<Result<_>>()?,
        None => vec![1; tokens.len()],
    };
    let pre = match ct.metadata.get("tokenizer.ggml.pre") {
        Some(v) => v.to_string().map_err(load_err)?.clone(),
        None => "default".to_string(),
    };

    // Added tokens are matched before BPE; keep them out of the BPE vocabulary's merges but in its
    // id space, as Hugging Face does.
    let vocab: tokenizers::models::bpe::Vocab = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), i as u32))
        .collect();
    let merges: Vec<(String, String)> = merges
        .iter()
        .map(|m| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| load_err(format!("bad merge {m:?}")))
        })
        .collect::<Result<_>>()?;
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .byte_fallback(false)
        .ignore_merges(false)
        .build()
        .map_err(load_err)?;

    let (normalizer, pre_tokenizer) = pre_tokenizer(&pre)?;
    let mut tok = Tokenizer::new(bpe);
    tok.with_normalizer(normalizer).map_err(load_err)?;
    tok.with_pre_tokenizer(Some(pre_tokenizer))
        .with_decoder(Some(DecoderWrapper::ByteLevel(ByteLevelDecoder::default())));
    let mut special = Vec::new();
    let mut plain = Vec::new();
    for (t, ty) in tokens.iter().zip(&types) {
        match *ty {
            TOKEN_TYPE_CONTROL => special.push(AddedToken::from(t.clone(), true)),
            TOKEN_TYPE_USER_DEFINED => plain.push(AddedToken::from(t.clone(), false)),
            _ => {}
        }
    }
    tok.add_special_tokens(special).map_err(load_err)?;
    tok.add_tokens(plain).map_err(load_err)?;
    Ok(tok)
}

/// Token ids listed in the GGUF metadata under `key`, if present.
pub fn token_id(ct: &Content, key: &str) -> Option<u32> {
    ct.metadata.get(key).and_then(|v| v.to_u32().ok())
}
