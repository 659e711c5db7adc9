//! Text generation with quantized GGUF chat models on candle.
//!
//! [`Engine`] owns one loaded model (weights, KV cache, tokenizer, chat template) and runs
//! one request at a time; [`ChatModel`] puts it on its own worker thread behind a bounded
//! queue, so that a full queue is an immediate [`ModelError::Busy`], never a hang.

mod arch;
pub mod constrain;
pub mod gguf;
pub mod schema;
mod template;
pub mod tokenizer;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use crossbeam_channel::{unbounded, Receiver, Sender};
use serde::Serialize;
use tokenizers::Tokenizer;

pub use constrain::{Constraint, SpanConstraint, TokenBytes};
pub use gguf::WeightFormat;
pub use schema::{Grammar, SchemaConstraint};
pub use template::{ChatMessage, ChatTemplate};

use crate::{ModelError, Result};

/// Tokens fed to the model per forward pass while reading the prompt.
const PREFILL_CHUNK: usize = 512;

/// Tokens that end an assistant turn in the chat formats we know, besides the GGUF's EOS.
const END_OF_TURN: &[&str] = &[
    "<|im_end|>",
    "<|endoftext|>",
    "<|eot_id|>",
    "<end_of_turn>",
    "<|end|>",
];

#[derive(Debug, Clone)]
pub struct GenParams {
    pub max_tokens: usize,
    /// 0 means greedy.
    pub temperature: f64,
    pub top_p: Option<f64>,
    pub seed: u64,
    /// Generation stops before any of these strings.
    pub stop: Vec<String>,
}

impl Default for GenParams {
    fn default() -> Self {
        GenParams {
            max_tokens: 256,
            temperature: 0.0,
            top_p: None,
            seed: 299_792_458,
            stop: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FinishReason {
    /// An end-of-turn token or a stop string.
    Stop,
    /// `max_tokens` or the context window.
    Length,
}

#[derive(Debug, Clone, Serialize)]
pub struct Generation {
    pub text: String,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub finish: FinishReason,
    pub prefill_ms: f64,
    pub generate_ms: f64,
}

/// Tokenizer and chat template: what callers need to budget a prompt without the weights.
///
/// Invariant: text that did not come from the chat template (documents, questions, API
/// responses, anything a message holds) is tokenized without special-token parsing, so
/// `<|im_start|>` in a document is six ordinary tokens of text, never a control token.
pub struct Prompter {
    /// Parses special tokens: only for the chat template's own text.
    tokenizer: Tokenizer,
    /// The same tokenizer with special tokens read as plain text: for everything else.
    plain: Tokenizer,
    pub template: ChatTemplate,
}

/// Marks where message `i` goes in a rendered template (private-use characters, so no template
/// text contains them).
fn hole(i: usize) -> String {
    format!("\u{E000}{i}\u{E001}")
}

impl Prompter {
    pub fn new(tokenizer: Tokenizer, template: ChatTemplate) -> Prompter {
        let mut plain = tokenizer.clone();
        plain.set_encode_special_tokens(true);
        Prompter {
            tokenizer,
            plain,
            template,
        }
    }

    /// Tokens of untrusted text.
    pub fn count_tokens(&self, text: &str) -> usize {
        self.plain
            .encode_fast(text, false)
            .map(|e| e.len())
            .unwrap_or(text.len() / 3)
    }

    /// Tokenizes untrusted text: special-token strings in it stay text.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        encode_with(&self.plain, text)
    }

    /// The prompt for `messages` with `prefix` opening the assistant's turn: the template's
    /// own text with its control tokens, every message's content and the prefix as plain text.
    pub fn encode_chat(&self, messages: &[ChatMessage], prefix: &str) -> Result<Vec<u32>> {
        let holes: Vec<ChatMessage> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| ChatMessage::new(&m.role, hole(i)))
            .collect();
        let rendered = self.template.render(&holes)?;
        // Templates that strip content (`content.strip()`, `| trim`) get stripped content.
        let probe = self
            .template
            .render(&[ChatMessage::user(format!(" {} ", hole(0)))])?;
        let strips = !probe.contains(&format!(" {} ", hole(0)));
        let mut ids = Vec::new();
        let mut rest = rendered.as_str();
        while let Some(at) = rest.find('\u{E000}') {
            ids.extend(encode_with(&self.tokenizer, &rest[..at])?);
            let tail = &rest[at + '\u{E000}'.len_utf8()..];
            let end = tail
                .find('\u{E001}')
                .ok_or_else(|| ModelError::Inference("chat template: broken message".into()))?;
            let i: usize = tail[..end]
                .parse()
                .map_err(|_| ModelError::Inference("chat template: broken message".into()))?;
            let content = &messages
                .get(i)
                .ok_or_else(|| ModelError::Inference("chat template: broken message".into()))?
                .content;
            ids.extend(self.encode(if strips { content.trim() } else { content })?);
            rest = &tail[end + '\u{E001}'.len_utf8()..];
        }
        ids.extend(encode_with(&self.tokenizer, rest)?);
        ids.extend(self.encode(prefix)?);
        Ok(ids)
    }

    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.tokenizer
            .decode(ids, true)
            .map_err(|e| ModelError::Inference(format!("detokenizing: {e}")))
    }
}

/// Facts about a loaded model, for `/v1/models`, benchmarks and logs.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    pub id: String,
    pub architecture: String,
    pub context: usize,
    pub format: WeightFormat,
    /// Tensor count per type after load-time conversion.
    pub tensor_types: std::collections::BTreeMap<String, usize>,
    pub load_ms: f64,
    /// From the manifest: see [`crate::manifest::ModelSpec::reader_agreement`].
    #[serde(skip)]
    pub reader_agreement: Option<usize>,
}

/// One loaded model, used from one thread.
pub struct Engine {
    info: ModelInfo,
    model: Box<dyn arch::CausalLm>,
    prompter: Arc<Prompter>,
    eos: Vec<u32>,
    device: Device,
    /// Token spellings for constrained decoding, built on first use.
    vocab: Option<TokenBytes>,
    /// The vocabulary indexed for JSON Schema constraints, built on first use.
    schema: Option<schema::SchemaFactory>,
    /// The tokens whose keys and values the model's cache holds, in order: a new prompt that
    /// starts the same way only computes what follows.
    cached: Vec<u32>,
}

/// The result of a constrained generation.
#[derive(Debug, Clone, Serialize)]
pub struct Constrained {
    pub text: String,
    /// Sum of the chosen tokens' log-probabilities under the unconstrained distribution: how
    /// much the model itself wanted this output.
    pub logprob: f32,
    /// Log-probability of the first chosen token under the unconstrained distribution.
    pub first_logprob: f32,
    /// The allowed first tokens with their probability renormalised over the allowed set
    /// (those above 1%), most likely first: how the model weighed the alternatives.
    pub first_choices: Vec<(u32, f32)>,
    /// Probability (among the allowed first tokens) of those that only begin a fixed
    /// alternative.
    pub literal_mass: f32,
    /// Probability (under the unconstrained distribution) of the tokens the constraint
    /// allowed first: how much the model wanted an output of this form at all.
    pub first_mass: f32,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub prefill_ms: f64,
    pub generate_ms: f64,
}

/// Log-softmax of one logit.
fn encode_with(tokenizer: &Tokenizer, text: &str) -> Result<Vec<u32>> {
    Ok(tokenizer
        .encode_fast(text, false)
        .map_err(|e| ModelError::Inference(format!("tokenizing: {e}")))?
        .get_ids()
        .to_vec())
}

fn log_softmax_at(logits: &[f32], i: usize) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f32 = logits.iter().map(|l| (l - max).exp()).sum();
    logits[i] - max - sum.ln()
}

impl Engine {
    /// Loads `gguf_path`. `tokenizer_json` replaces the tokenizer rebuilt from GGUF metadata.
    pub fn load(
        id: &str,
        gguf_path: &Path,
        tokenizer_json: Option<&Path>,
        format: WeightFormat,
        device: &Device,
    ) -> Result<Engine> {
        let start = Instant::now();
        let gguf = gguf::open(gguf_path, format)?;
        let tokenizer = match tokenizer_json {
            Some(p) => Tokenizer::from_file(p)
                .map_err(|e| ModelError::Load(format!("{}: {e}", p.display())))?,
            None => tokenizer::from_gguf(&gguf.content)?,
        };
        let token_str = |key: &str| {
            tokenizer::token_id(&gguf.content, key)
                .and_then(|id| tokenizer.id_to_token(id))
                .unwrap_or_default()
        };
        let template_src = gguf.string("tokenizer.chat_template").ok_or_else(|| {
            ModelError::Load(format!("{id}: GGUF has no tokenizer.chat_template"))
        })?;
        let template = ChatTemplate::new(
            template_src,
            &token_str("tokenizer.ggml.bos_token_id"),
            &token_str("tokenizer.ggml.eos_token_id"),
        )?;
        let mut eos: Vec<u32> = END_OF_TURN
            .iter()
            .filter_map(|t| tokenizer.token_to_id(t))
            .collect();
        eos.extend(tokenizer::token_id(
            &gguf.content,
            "tokenizer.ggml.eos_token_id",
        ));
        eos.sort_unstable();
        eos.dedup();
        let architecture = gguf.architecture()?.to_string();
        let tensor_types = gguf.types.clone();
        let (model, context) = arch::load(gguf, device)?;
        let info = ModelInfo {
            id: id.to_string(),
            architecture,
            context,
            format,
            tensor_types,
            load_ms: start.elapsed().as_secs_f64() * 1e3,
            reader_agreement: None,
        };
        tracing::info!(model = id, arch = %info.architecture, context, %format, types = ?info.tensor_types, load_ms = info.load_ms, "chat model loaded");
        Ok(Engine {
            info,
            model,
            prompter: Arc::new(Prompter::new(tokenizer, template)),
            eos,
            device: device.clone(),
            vocab: None,
            schema: None,
            cached: Vec::new(),
        })
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// Sets what the manifest says about how far the model's answers may be trusted.
    pub fn with_reader_agreement(mut self, n: Option<usize>) -> Engine {
        self.info.reader_agreement = n;
        self
    }

    pub fn prompter(&self) -> &Arc<Prompter> {
        &self.prompter
    }

    /// Answers a conversation. `on_text` receives the text as it is produced (returning false
    /// cancels); the returned text is exactly the concatenation of what it received.
    pub fn chat(
        &mut self,
        messages: &[ChatMessage],
        params: &GenParams,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Generation> {
        let ids = self.prompter.encode_chat(messages, "")?;
        self.complete_ids(&ids, params, on_text)
    }

    pub fn complete_ids(
        &mut self,
        prompt: &[u32],
        params: &GenParams,
        on_text: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Generation> {
        let ctx = self.info.context;
        if prompt.is_empty() {
            return Err(ModelError::Inference("empty prompt".into()));
        }
        if prompt.len() >= ctx {
            return Err(ModelError::ContextOverflow {
                prompt: prompt.len(),
                context: ctx,
            });
        }
        let max_tokens = params.max_tokens.min(ctx - prompt.len());
        let infer = |e: candle_core::Error| ModelError::Inference(e.to_string());
        let t0 = Instant::now();
        // A reused prefix is exact up to float rounding (a token computed alone or inside a
        // batch sums in another order); greedy decoding does not notice, but a seeded sample is
        // promised to repeat bit for bit, so it reads its prompt from scratch.
        if params.temperature > 0.0 {
            self.forget_prefix();
        }
        let mut logits = self.read_prompt(prompt)?;
        let prefill_ms = t0.elapsed().as_secs_f64() * 1e3;

        let sampling = if params.temperature <= 0.0 {
            Sampling::ArgMax
        } else {
            match params.top_p {
                Some(p) if p < 1.0 => Sampling::TopP {
                    p,
                    temperature: params.temperature,
                },
                _ => Sampling::All {
                    temperature: params.temperature,
                },
            }
        };
        let mut sampler = LogitsProcessor::from_sampling(params.seed, sampling);
        let mut out = TextStream::new(&params.stop);
        let mut generated: Vec<u32> = Vec::new();
        let mut finish = FinishReason::Length;
        let t1 = Instant::now();
        while generated.len() < max_tokens {
            let last = logits
                .squeeze(0)
                .and_then(|l| l.to_dtype(candle_core::DType::F32))
                .map_err(infer)?;
            let next = sampler.sample(&last).map_err(infer)?;
            if self.eos.contains(&next) {
                finish = FinishReason::Stop;
                break;
            }
            generated.push(next);
            let text = self.prompter.decode(&generated)?;
            let (piece, stopped) = out.push(&text);
            if !piece.is_empty() && !on_text(&piece) {
                finish = FinishReason::Stop;
                break;
            }
            if stopped {
                finish = FinishReason::Stop;
                break;
            }
            if generated.len() == max_tokens {
                break;
            }
            logits = self.feed(&[next], prompt.len() + generated.len() - 1)?;
        }
        let rest = out.finish();
        if !rest.is_empty() {
            on_text(&rest);
        }
        Ok(Generation {
            text: out.text,
            prompt_tokens: prompt.len(),
            completion_tokens: generated.len(),
            finish,
            prefill_ms,
            generate_ms: t1.elapsed().as_secs_f64() * 1e3,
        })
    }

    /// Feeds `ids` at positions `pos..` and returns the logits of the last one.
    fn feed(&mut self, ids: &[u32], pos: usize) -> Result<Tensor> {
        let infer = |e: candle_core::Error| ModelError::Inference(e.to_string());
        let input = Tensor::new(ids, &self.device)
            .and_then(|t| t.unsqueeze(0))
            .map_err(infer)?;
        self.cached.truncate(pos);
        let out = self.model.forward(&input, pos);
        match out {
            Ok(l) => {
                self.cached.extend_from_slice(ids);
                Ok(l)
            }
            Err(e) => {
                self.model.clear_cache();
                self.cached.clear();
                Err(infer(e))
            }
        }
    }

    /// Drops the cached prefix: the next prompt is read from its first token.
    fn forget_prefix(&mut self) {
        self.model.clear_cache();
        self.cached.clear();
    }

    /// Reads a whole prompt and returns the logits after its last token. The part it shares
    /// with what the cache already holds (the previous request's system prompt and example)
    /// is not computed again.
    fn read_prompt(&mut self, prompt: &[u32]) -> Result<Tensor> {
        let shared = self
            .cached
            .iter()
            .zip(prompt)
            .take_while(|(a, b)| a == b)
            .count()
            // At least one token is fed, to have its logits.
            .min(prompt.len() - 1);
        let kept = self.model.truncate(shared);
        self.cached.truncate(kept);
        let mut logits = None;
        let mut pos = kept;
        for chunk in prompt[kept..].chunks(PREFILL_CHUNK) {
            logits = Some(self.feed(chunk, pos)?);
            pos += chunk.len();
        }
        Ok(logits.expect("at least one token is fed"))
    }

    /// Reads the prompt (`messages`, then `prefix` as the start of the assistant's turn) and
    /// returns the logits for the next token.
    fn prefill(&mut self, messages: &[ChatMessage], prefix: &str) -> Result<(Vec<f32>, usize)> {
        let ids = self.prompter.encode_chat(messages, prefix)?;
        let ctx = self.info.context;
        if ids.is_empty() {
            return Err(ModelError::Inference("empty prompt".into()));
        }
        if ids.len() >= ctx {
            return Err(ModelError::ContextOverflow {
                prompt: ids.len(),
                context: ctx,
            });
        }
        let logits = self.read_prompt(&ids)?;
        Ok((to_vec(&logits)?, ids.len()))
    }

    /// Log-probabilities of each choice's first token right after the prompt and `prefix` (a
    /// constrained yes/no question is two choices: "yes", "no").
    pub fn score_next(
        &mut self,
        messages: &[ChatMessage],
        prefix: &str,
        choices: &[String],
    ) -> Result<Vec<f32>> {
        let (logits, _) = self.prefill(messages, prefix)?;
        choices
            .iter()
            .map(|c| {
                let ids = self.prompter.encode(c)?;
                let first = *ids
                    .first()
                    .ok_or_else(|| ModelError::Inference(format!("choice {c:?} has no tokens")))?;
                Ok(log_softmax_at(&logits, first as usize))
            })
            .collect()
    }

    /// A constraint to output of `grammar` (a JSON Schema or a Lark grammar), for
    /// [`Engine::constrained`].
    pub fn grammar_constraint(&mut self, grammar: &Grammar) -> Result<schema::SchemaConstraint> {
        if self.schema.is_none() {
            let vocab = self
                .vocab
                .get_or_insert_with(|| TokenBytes::new(&self.prompter.tokenizer));
            let eos = self.eos.first().copied().unwrap_or(0);
            self.schema = Some(schema::SchemaFactory::new(vocab, eos)?);
        }
        self.schema
            .as_ref()
            .expect("built above")
            .constraint(grammar)
    }

    /// Greedy generation where every token must be allowed by `constraint`; stops at an
    /// end-of-turn token when the constraint allows ending, or when nothing else is allowed.
    ///
    /// At the first step the constraint's fixed alternatives (say "NO ANSWER") are taken when
    /// the model gives them at least `literal_threshold` of the allowed probability, and
    /// excluded otherwise: the choice between answering and declining is a calibrated
    /// threshold, not whichever first token happens to be likeliest.
    pub fn constrained(
        &mut self,
        messages: &[ChatMessage],
        constraint: &mut dyn Constraint,
        max_tokens: usize,
        literal_threshold: f32,
    ) -> Result<Constrained> {
        self.gated(messages, constraint, max_tokens, literal_threshold, 0.0)
    }

    /// [`Engine::constrained`], except that nothing is generated (the text is empty) when the
    /// model gives the constraint's first tokens less than `gate` of its whole probability:
    /// whether to produce this output at all (a tool call, say) is the model's own choice,
    /// measured, and only the output's form is imposed.
    pub fn gated(
        &mut self,
        messages: &[ChatMessage],
        constraint: &mut dyn Constraint,
        max_tokens: usize,
        literal_threshold: f32,
        gate: f32,
    ) -> Result<Constrained> {
        if self.vocab.is_none() {
            self.vocab = Some(TokenBytes::new(&self.prompter.tokenizer));
        }
        let t0 = Instant::now();
        let (mut logits, prompt_tokens) = self.prefill(messages, "")?;
        let prefill_ms = t0.elapsed().as_secs_f64() * 1e3;
        let t1 = Instant::now();
        let mut generated: Vec<u32> = Vec::new();
        let (mut logprob, mut first_logprob) = (0.0f32, 0.0f32);
        let mut first_choices = Vec::new();
        let mut literal_mass = 0.0f32;
        let mut first_mass = 0.0f32;
        let end_token = self.eos.first().copied();
        while generated.len() < max_tokens {
            let vocab = self.vocab.as_ref().expect("built above");
            let mut allowed = constraint.allowed(vocab);
            if generated.is_empty() {
                let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let total: f32 = logits.iter().map(|l| (l - max).exp()).sum();
                first_mass = allowed
                    .tokens
                    .iter()
                    .filter_map(|&id| logits.get(id as usize))
                    .map(|l| (l - max).exp() / total)
                    .sum();
                if first_mass < gate {
                    break;
                }
                let ls: Vec<f32> = allowed
                    .tokens
                    .iter()
                    .map(|&id| {
                        logits
                            .get(id as usize)
                            .copied()
                            .unwrap_or(f32::NEG_INFINITY)
                    })
                    .collect();
                let max = ls.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let sum: f32 = ls.iter().map(|l| (l - max).exp()).sum();
                first_choices = allowed
                    .tokens
                    .iter()
                    .zip(&ls)
                    .map(|(&id, l)| (id, (l - max).exp() / sum))
                    .filter(|(_, p)| *p >= 0.01)
                    .collect();
                first_choices.sort_by(|a, b| b.1.total_cmp(&a.1));
                let literal: Vec<bool> = allowed
                    .tokens
                    .iter()
                    .map(|&id| constraint.starts_literal_only(id, vocab))
                    .collect();
                literal_mass = allowed
                    .tokens
                    .iter()
                    .zip(&ls)
                    .zip(&literal)
                    .filter(|(_, is)| **is)
                    .map(|((_, l), _)| (l - max).exp() / sum)
                    .sum();
                let take_literal = literal_mass >= literal_threshold;
                let keep: Vec<u32> = allowed
                    .tokens
                    .iter()
                    .zip(&literal)
                    .filter(|(_, is)| **is == take_literal)
                    .map(|(id, _)| *id)
                    .collect();
                if !keep.is_empty() {
                    allowed.tokens = keep;
                }
            }
            let mut best: Option<(u32, f32)> = None;
            for &id in &allowed.tokens {
                let l = logits
                    .get(id as usize)
                    .copied()
                    .unwrap_or(f32::NEG_INFINITY);
                if best.is_none_or(|(_, b)| l > b) {
                    best = Some((id, l));
                }
            }
            if allowed.end {
                if let Some(eos) = end_token {
                    let l = self
                        .eos
                        .iter()
                        .map(|&e| logits.get(e as usize).copied().unwrap_or(f32::NEG_INFINITY))
                        .fold(f32::NEG_INFINITY, f32::max);
                    if best.is_none_or(|(_, b)| l > b) {
                        best = Some((eos, l));
                    }
                }
            }
            let Some((next, _)) = best else { break };
            if self.eos.contains(&next) {
                break;
            }
            let lp = log_softmax_at(&logits, next as usize);
            if generated.is_empty() {
                first_logprob = lp;
            }
            logprob += lp;
            constraint.advance(next, vocab);
            generated.push(next);
            if generated.len() == max_tokens {
                break;
            }
            let pos = prompt_tokens + generated.len() - 1;
            logits = to_vec(&self.feed(&[next], pos)?)?;
        }
        let text = self.prompter.decode(&generated)?;
        Ok(Constrained {
            text,
            logprob,
            first_logprob,
            first_choices,
            literal_mass,
            first_mass,
            prompt_tokens,
            completion_tokens: generated.len(),
            prefill_ms,
            generate_ms: t1.elapsed().as_secs_f64() * 1e3,
        })
    }

    /// Generates exactly `n` tokens greedily after `prompt`, ignoring end-of-turn (benchmarks).
    pub fn generate_exactly(&mut self, prompt: &[u32], n: usize) -> Result<Generation> {
        // A benchmark measures the whole prompt, not what an earlier run left cached.
        self.forget_prefix();
        let eos = std::mem::take(&mut self.eos);
        let mut on = |_: &str| true;
        let r = self.complete_ids(
            prompt,
            &GenParams {
                max_tokens: n,
                ..Default::default()
            },
            &mut on,
        );
        self.eos = eos;
        r
    }
}

/// `[1, vocab]` logits as a vector.
fn to_vec(logits: &Tensor) -> Result<Vec<f32>> {
    logits
        .squeeze(0)
        .and_then(|l| l.to_dtype(candle_core::DType::F32))
        .and_then(|l| l.to_vec1::<f32>())
        .map_err(|e| ModelError::Inference(e.to_string()))
}

/// Turns the growing decoded text into stream pieces: never splits a multi-byte character,
/// holds back what could be the start of a stop string, and cuts at a stop string.
struct TextStream<'a> {
    stop: &'a [String],
    /// The final text so far (emitted or held back).
    text: String,
    emitted: usize,
}

impl<'a> TextStream<'a> {
    fn new(stop: &'a [String]) -> Self {
        TextStream {
            stop,
            text: String::new(),
            emitted: 0,
        }
    }

    /// Takes the full decoded text; returns the new piece to emit and whether a stop string hit.
    fn push(&mut self, decoded: &str) -> (String, bool) {
        // An incomplete UTF-8 sequence decodes as U+FFFD: wait for the next token.
        if decoded.ends_with('\u{FFFD}') {
            return (String::new(), false);
        }
        self.text = decoded.to_string();
        let earliest_stop = self
            .stop
            .iter()
            .filter(|s| !s.is_empty())
            .filter_map(|s| self.text.find(s.as_str()))
            .min();
        if let Some(at) = earliest_stop {
            self.text.truncate(at);
            let piece = self.text.get(self.emitted..).unwrap_or("").to_string();
            self.emitted = self.text.len();
            return (piece, true);
        }
        let hold = self
            .stop
            .iter()
            .map(|s| partial_suffix(&self.text, s))
            .max()
            .unwrap_or(0);
        let upto = self.text.len() - hold;
        if upto <= self.emitted || !self.text.is_char_boundary(upto) {
            return (String::new(), false);
        }
        let piece = self.text[self.emitted..upto].to_string();
        self.emitted = upto;
        (piece, false)
    }

    /// What was held back, at the end of generation.
    fn finish(&mut self) -> String {
        let piece = self.text.get(self.emitted..).unwrap_or("").to_string();
        self.emitted = self.text.len();
        piece
    }
}

/// Length of the longest suffix of `text` that is a proper prefix of `stop`.
fn partial_suffix(text: &str, stop: &str) -> usize {
    (1..stop.len())
        .rev()
        .find(|&n| {
            n <= text.len()
                && text.is_char_boundary(text.len() - n)
                && stop.is_char_boundary(n)
                && text.ends_with(&stop[..n])
        })
        .unwrap_or(0)
}

/// Work the engine does for one request; what it returns sends the reply (called after the
/// request's queue slot is freed, so the caller's next request is admitted).
type Task = Box<dyn FnOnce(&mut Engine) -> Box<dyn FnOnce() + Send> + Send>;

enum Job {
    Chat {
        messages: Vec<ChatMessage>,
        params: GenParams,
        events: Sender<Event>,
        cancel: Arc<AtomicBool>,
    },
    Run(Task),
}

enum Event {
    Text(String),
    Done(Result<Generation>),
}

/// A model on its own worker thread, behind a bounded queue. Cheap to clone.
#[derive(Clone)]
pub struct ChatModel {
    info: Arc<ModelInfo>,
    prompter: Arc<Prompter>,
    jobs: Sender<Job>,
    /// Requests admitted and not yet finished (running plus waiting). Admission counts these
    /// rather than the channel's free slots, so an idle worker between two jobs never refuses.
    admitted: Arc<AtomicUsize>,
    /// The running request plus the `queue` waiting behind it.
    limit: usize,
}

impl ChatModel {
    /// Moves `engine` onto a worker thread; at most `queue` requests wait behind the running one.
    pub fn spawn(engine: Engine, queue: usize) -> ChatModel {
        let (jobs, rx) = unbounded::<Job>();
        let info = Arc::new(engine.info.clone());
        let prompter = engine.prompter.clone();
        let admitted = Arc::new(AtomicUsize::new(0));
        let name = format!("chat-{}", info.id);
        let done = admitted.clone();
        std::thread::Builder::new()
            .name(name)
            .spawn(move || worker(engine, rx, &done))
            .expect("spawning a model worker thread");
        ChatModel {
            info,
            prompter,
            jobs,
            admitted,
            limit: queue + 1,
        }
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    pub fn id(&self) -> &str {
        &self.info.id
    }

    pub fn prompter(&self) -> &Prompter {
        &self.prompter
    }

    /// Admits a job (or answers Busy at once) and sends it to the worker.
    fn submit(&self, job: Job) -> Result<()> {
        if crate::cancel::current().is_some_and(|t| t.is_cancelled()) {
            return Err(ModelError::Cancelled);
        }
        if self.admitted.fetch_add(1, Ordering::SeqCst) >= self.limit {
            self.admitted.fetch_sub(1, Ordering::SeqCst);
            return Err(ModelError::Busy(format!(
                "model {} has a full queue; try again shortly",
                self.info.id
            )));
        }
        if self.jobs.send(job).is_err() {
            self.admitted.fetch_sub(1, Ordering::SeqCst);
            return Err(ModelError::Worker(format!(
                "model {} worker stopped",
                self.info.id
            )));
        }
        Ok(())
    }

    /// Runs `f` on the worker's engine and blocks until it is done.
    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Engine) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        // Work whose request was cancelled while it waited in the queue is not run.
        let token = crate::cancel::current();
        self.submit(Job::Run(Box::new(move |engine: &mut Engine| {
            let r = if token.is_some_and(|t| t.is_cancelled()) {
                Err(ModelError::Cancelled)
            } else {
                f(engine)
            };
            Box::new(move || {
                let _ = tx.send(r);
            })
        })))?;
        rx.recv().unwrap_or_else(|_| {
            Err(ModelError::Worker(format!(
                "model {} worker stopped mid-request",
                self.info.id
            )))
        })
    }

    /// Greedy generation under `constraint` (see [`Engine::constrained`]).
    pub fn constrained(
        &self,
        messages: Vec<ChatMessage>,
        mut constraint: Box<dyn Constraint>,
        max_tokens: usize,
        literal_threshold: f32,
    ) -> Result<Constrained> {
        self.run(move |e| {
            e.constrained(
                &messages,
                constraint.as_mut(),
                max_tokens,
                literal_threshold,
            )
        })
    }

    /// Greedy generation of output of `grammar`, gated (see [`Engine::gated`]); also returns
    /// the time spent computing token masks, milliseconds.
    pub fn grammar(
        &self,
        messages: Vec<ChatMessage>,
        grammar: Grammar,
        max_tokens: usize,
        gate: f32,
    ) -> Result<(Constrained, f64)> {
        self.run(move |e| {
            let mut c = e.grammar_constraint(&grammar)?;
            let out = e.gated(&messages, &mut c, max_tokens, 2.0, gate)?;
            Ok((out, c.mask_ms))
        })
    }

    /// First-token log-probabilities of `choices` after the prompt (see [`Engine::score_next`]).
    pub fn score_next(
        &self,
        messages: Vec<ChatMessage>,
        prefix: String,
        choices: Vec<String>,
    ) -> Result<Vec<f32>> {
        self.run(move |e| e.score_next(&messages, &prefix, &choices))
    }

    /// Runs a conversation on the worker and blocks until it is done, calling `on_text` on this
    /// thread with each piece of text (returning false cancels the generation).
    pub fn chat(
        &self,
        messages: Vec<ChatMessage>,
        params: GenParams,
        mut on_text: impl FnMut(&str) -> bool,
    ) -> Result<Generation> {
        let (events, rx) = unbounded();
        // The request's token, when there is one: cancelling the request stops the generation
        // at its next token (and a generation cancelled here cancels the request's other work).
        let cancel = crate::cancel::current()
            .map(|t| t.flag())
            .unwrap_or_else(|| Arc::new(AtomicBool::new(false)));
        let job = Job::Chat {
            messages,
            params,
            events,
            cancel: cancel.clone(),
        };
        self.submit(job)?;
        loop {
            match rx.recv() {
                Ok(Event::Text(t)) => {
                    if !cancel.load(Ordering::Relaxed) && !on_text(&t) {
                        cancel.store(true, Ordering::Relaxed);
                    }
                }
                Ok(Event::Done(r)) => return r,
                Err(_) => {
                    return Err(ModelError::Worker(format!(
                        "model {} worker stopped mid-request",
                        self.info.id
                    )))
                }
            }
        }
    }
}

fn worker(mut engine: Engine, rx: Receiver<Job>, admitted: &AtomicUsize) {
    for job in rx {
        match job {
            Job::Chat {
                messages,
                params,
                events,
                cancel,
            } => {
                let mut on_text = |t: &str| {
                    !cancel.load(Ordering::Relaxed)
                        && events.send(Event::Text(t.to_string())).is_ok()
                };
                let r = if cancel.load(Ordering::Relaxed) {
                    Err(ModelError::Cancelled)
                } else {
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        engine.chat(&messages, &params, &mut on_text)
                    }))
                    .unwrap_or_else(|_| Err(ModelError::Inference("generation panicked".into())))
                };
                // Free the slot before answering, so the caller's next request is admitted.
                admitted.fetch_sub(1, Ordering::SeqCst);
                let _ = events.send(Event::Done(r));
            }
            Job::Run(task) => {
                // A panic drops the task's reply sender: the caller sees "worker stopped
                // mid-request" rather than hanging.
                let reply =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| task(&mut engine)));
                admitted.fetch_sub(1, Ordering::SeqCst);
                if let Ok(reply) = reply {
                    reply();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(pieces: &[&str], stop: &[&str]) -> (Vec<String>, String) {
        let stop: Vec<String> = stop.iter().map(|s| s.to_string()).collect();
        let mut s = TextStream::new(&stop);
        let mut out = Vec::new();
        let mut acc = String::new();
        for p in pieces {
            acc.push_str(p);
            let (piece, stopped) = s.push(&acc);
            if !piece.is_empty() {
                out.push(piece);
            }
            if stopped {
                break;
            }
        }
        let rest = s.finish();
        if !rest.is_empty() {
            out.push(rest);
        }
        (out, s.text)
    }

    #[test]
    fn stream_holds_back_partial_stop_strings() {
        let (pieces, text) = stream(&["Paris", " is", "\n\nQ", "uestion: x"], &["\n\nQuestion:"]);
        assert_eq!(text, "Paris is");
        assert_eq!(pieces.concat(), "Paris is");
        let (pieces, text) = stream(&["a\n", "\nb"], &["\n\nQuestion:"]);
        assert_eq!(text, "a\n\nb");
        assert_eq!(pieces.concat(), text);
    }

    #[test]
    fn stream_waits_for_complete_characters() {
        let (pieces, text) = stream(&["caf", "caf\u{FFFD}"], &[]);
        assert_eq!(pieces.concat(), text);
        assert_eq!(text, "caf");
    }
}
