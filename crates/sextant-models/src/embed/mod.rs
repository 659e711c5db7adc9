//! The sentence embedder: all-MiniLM-L6-v2, mean pooling and L2 normalisation, exactly as
//! sentence-transformers computes it. On the CPU the encoder is our own ([`bert`]: no padding,
//! fused projections and attention); on a GPU it is candle-transformers' BERT. The model lives on one worker
//! thread; callers send batches over a channel and block on the reply, so async code must call
//! [`Embedder::embed`] from a blocking thread.

use crate::{ModelError, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};

mod bert;
use crossbeam_channel::{bounded, Receiver, Sender};
use std::path::Path;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// sentence-transformers truncates all-MiniLM-L6-v2 input at 256 word pieces.
pub const MAX_TOKENS: usize = 256;
/// Texts per forward pass at most. Texts are sorted by length first, so padding stays small.
const BATCH: usize = 32;
/// Padded tokens per forward pass (about): 32 texts of 128 word pieces, 16 of 256.
const BATCH_TOKENS: usize = 4096;

struct Job {
    texts: Vec<String>,
    reply: Sender<Result<Vec<Vec<f32>>>>,
}

/// Texts per forward pass for background work: small, so that an interactive request waits at
/// most one short pass.
const BACKGROUND_BATCH: usize = 8;

/// Handle to the embedding worker. Cloning shares the worker.
///
/// Two queues: interactive requests (a query for a waiting user) are served before background
/// ones (catching up on ingested chunks), between any two forward passes of a background job;
/// and background work waits while [`crate::priority`] says a user is waiting on a model.
#[derive(Clone)]
pub struct Embedder {
    tx: Sender<Job>,
    background: Sender<Job>,
    dim: usize,
    model_id: String,
}

struct Model {
    encoder: Encoder,
    tokenizer: Tokenizer,
}

enum Encoder {
    /// Ours, on the CPU.
    Cpu(bert::Bert),
    /// candle-transformers' on another device (CUDA).
    Candle(BertModel, Device),
}

pub fn device() -> Device {
    #[cfg(feature = "cuda")]
    if let Ok(d) = Device::new_cuda(0) {
        return d;
    }
    Device::Cpu
}

impl Embedder {
    /// Loads the model from `dir` (model.safetensors, config.json, tokenizer.json) and starts
    /// its worker thread.
    pub fn load(dir: &Path, model_id: &str) -> Result<Embedder> {
        let model = Model::load(dir, device())?;
        let dim = model.bert_dim(dir)?;
        let (tx, rx) = bounded::<Job>(64);
        let (background, background_rx) = bounded::<Job>(4);
        std::thread::Builder::new()
            .name("sextant-embed".into())
            .spawn(move || worker(model, rx, background_rx))
            .map_err(|e| ModelError::Load(format!("could not start the embedding worker: {e}")))?;
        Ok(Embedder {
            tx,
            background,
            dim,
            model_id: model_id.to_string(),
        })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    /// Unit-length embeddings, one per text, in order, for a waiting user: served before any
    /// background work. Blocks until the worker is done.
    pub fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        self.send(&self.tx, texts)
    }

    /// [`Embedder::embed`] as background work (catching up on ingested chunks): it yields to
    /// interactive requests and waits while a user is waiting on any model.
    pub fn embed_background(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        self.send(&self.background, texts)
    }

    fn send(&self, queue: &Sender<Job>, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, rx) = bounded(1);
        queue
            .send(Job {
                texts: texts.to_vec(),
                reply,
            })
            .map_err(|_| ModelError::Worker("the embedding worker has stopped".into()))?;
        rx.recv()
            .map_err(|_| ModelError::Worker("the embedding worker has stopped".into()))?
    }

    pub fn embed_one(&self, text: &str) -> Result<Vec<f32>> {
        Ok(self
            .embed(&[text.to_string()])?
            .pop()
            .expect("one text in, one vector out"))
    }
}

fn worker(model: Model, rx: Receiver<Job>, background: Receiver<Job>) {
    loop {
        crossbeam_channel::select_biased! {
            recv(rx) -> job => match job {
                Ok(job) => {
                    let out = model.embed_sorted(&job.texts, usize::MAX, &mut || {});
                    let _ = job.reply.send(out);
                }
                Err(_) => return,
            },
            recv(background) -> job => match job {
                Ok(job) => {
                    // Between two passes: serve every waiting interactive request, and hold
                    // back while a user waits on a model (generation needs the cores).
                    let mut between = || loop {
                        while let Ok(j) = rx.try_recv() {
                            let out = model.embed_sorted(&j.texts, usize::MAX, &mut || {});
                            let _ = j.reply.send(out);
                        }
                        if !crate::priority::waiting() {
                            break;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(5));
                    };
                    let out = model.embed_sorted(&job.texts, BACKGROUND_BATCH, &mut between);
                    let _ = job.reply.send(out);
                }
                Err(_) => return,
            },
        }
    }
}

impl Model {
    fn load(dir: &Path, device: Device) -> Result<Model> {
        let read = |name: &str| {
            std::fs::read(dir.join(name))
                .map_err(|e| ModelError::Load(format!("{}: {e}", dir.join(name).display())))
        };
        let config: Config = serde_json::from_slice(&read("config.json")?)
            .map_err(|e| ModelError::Load(format!("config.json: {e}")))?;
        let mut tokenizer = Tokenizer::from_bytes(read("tokenizer.json")?)
            .map_err(|e| ModelError::Load(format!("tokenizer.json: {e}")))?;
        // The packaged tokenizer pads and truncates everything to 128: pad to the longest text of
        // each batch instead, and truncate where sentence-transformers does.
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..Default::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| ModelError::Load(format!("tokenizer truncation: {e}")))?;
        let weights = dir.join("model.safetensors");
        let encoder = if device.is_cpu() {
            let config: bert::Config = serde_json::from_slice(&read("config.json")?)
                .map_err(|e| ModelError::Load(format!("config.json: {e}")))?;
            Encoder::Cpu(bert::Bert::load(&weights, &config)?)
        } else {
            // SAFETY: the weights file is not modified while mapped; `models fetch` replaces
            // files by rename, never in place.
            let vb =
                unsafe { VarBuilder::from_mmaped_safetensors(&[weights], DType::F32, &device) }
                    .map_err(|e| ModelError::Load(format!("model.safetensors: {e}")))?;
            let bert = BertModel::load(vb, &config)
                .map_err(|e| ModelError::Load(format!("BERT weights: {e}")))?;
            Encoder::Candle(bert, device)
        };
        Ok(Model { encoder, tokenizer })
    }

    fn bert_dim(&self, dir: &Path) -> Result<usize> {
        let raw = std::fs::read(dir.join("config.json"))?;
        let v: serde_json::Value =
            serde_json::from_slice(&raw).map_err(|e| ModelError::Load(e.to_string()))?;
        v["hidden_size"]
            .as_u64()
            .map(|d| d as usize)
            .ok_or_else(|| ModelError::Load("config.json has no hidden_size".into()))
    }

    /// Embeds in length-sorted batches (as sentence-transformers does), restoring input order.
    /// `between` runs before every forward pass (background work yields there); `max_batch`
    /// caps the texts per pass.
    fn embed_sorted(
        &self,
        texts: &[String],
        max_batch: usize,
        between: &mut dyn FnMut(),
    ) -> Result<Vec<Vec<f32>>> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(texts[i].len()));
        let mut out = vec![Vec::new(); texts.len()];
        let mut rest = &order[..];
        while !rest.is_empty() {
            // Longest first, so the first text bounds the batch's padded length. Long sequences
            // go in smaller batches: measured faster on CPU (attention grows with length²).
            let est_tokens = (texts[rest[0]].len() / 4).clamp(16, MAX_TOKENS);
            let size = (BATCH_TOKENS / est_tokens)
                .clamp(4, BATCH)
                .min(max_batch)
                .min(rest.len());
            between();
            let (batch, tail) = rest.split_at(size);
            rest = tail;
            let refs: Vec<&str> = batch.iter().map(|&i| texts[i].as_str()).collect();
            let vecs = self.embed_batch(&refs)?;
            for (&i, v) in batch.iter().zip(vecs) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let enc = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| ModelError::Inference(format!("tokenizer: {e}")))?;
        let n = enc.len();
        let len = enc.first().map(|e| e.get_ids().len()).unwrap_or(0);
        let (bert, device) = match &self.encoder {
            Encoder::Cpu(bert) => return cpu_embed(bert, &enc),
            Encoder::Candle(bert, device) => (bert, device),
        };
        let mut ids = Vec::with_capacity(n * len);
        let mut mask = Vec::with_capacity(n * len);
        for e in &enc {
            ids.extend(e.get_ids().iter().map(|&x| x as u32));
            mask.extend(e.get_attention_mask().iter().map(|&x| x as u32));
        }
        let run = || -> candle_core::Result<Vec<Vec<f32>>> {
            let ids = Tensor::from_vec(ids, (n, len), device)?;
            let mask = Tensor::from_vec(mask, (n, len), device)?;
            let types = ids.zeros_like()?;
            let hidden = bert.forward(&ids, &types, Some(&mask))?; // (n, len, dim)
            let maskf = mask.to_dtype(DType::F32)?.unsqueeze(2)?; // (n, len, 1)
            let summed = hidden.broadcast_mul(&maskf)?.sum(1)?; // (n, dim)
            let counts = maskf.sum(1)?.clamp(1e-9, f64::MAX)?; // (n, 1)
            let mean = summed.broadcast_div(&counts)?;
            let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
            mean.broadcast_div(&norm)?
                .to_dtype(DType::F32)?
                .to_vec2::<f32>()
        };
        run().map_err(|e| ModelError::Inference(format!("embedding forward pass: {e}")))
    }
}

/// Our encoder over the texts' real tokens (padding dropped), then mean pooling and L2
/// normalisation per text.
fn cpu_embed(bert: &bert::Bert, enc: &[tokenizers::Encoding]) -> Result<Vec<Vec<f32>>> {
    let texts: Vec<&[u32]> = enc
        .iter()
        .map(|e| {
            let real = e.get_attention_mask().iter().filter(|&&m| m != 0).count();
            &e.get_ids()[..real]
        })
        .collect();
    let hidden = bert.forward(&texts)?;
    let h = bert.hidden_size();
    let mut out = Vec::with_capacity(texts.len());
    let mut row = 0;
    for ids in &texts {
        let mut mean = vec![0f32; h];
        for t in 0..ids.len() {
            for (m, v) in mean
                .iter_mut()
                .zip(&hidden[(row + t) * h..(row + t + 1) * h])
            {
                *m += v;
            }
        }
        row += ids.len();
        let count = (ids.len() as f32).max(1e-9);
        mean.iter_mut().for_each(|m| *m /= count);
        let norm = mean.iter().map(|m| m * m).sum::<f32>().sqrt().max(1e-12);
        mean.iter_mut().for_each(|m| *m /= norm);
        out.push(mean);
    }
    Ok(out)
}
