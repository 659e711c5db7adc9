//! BERT's forward pass on the CPU, written for speed (the reference is candle-transformers'
//! `bert.rs`, itself Hugging Face's `modeling_bert.py`; `tests/embed_reference.rs` holds the
//! output to sentence-transformers' vectors).
//!
//! What differs from running the reference on candle tensors:
//! - **No padding**: the texts of a batch are packed row after row (`T = Σ len` rows), every
//!   dense layer runs once over all of them, and attention runs per (text, head) over that
//!   text's own tokens only. Padded positions never reach a real token in BERT (the mask sends
//!   their attention weights to exactly 0), so the valid rows are what the padded model computes.
//! - **One projection for Q, K and V** (`[H, 3H]`), weights stored transposed (`[in, out]`,
//!   row-major) for the GEMM.
//! - **Attention per (text, head) in one task**: scores, scale, softmax and the weighted sum of
//!   values in a thread-local buffer, tasks spread over the rayon pool; the big GEMMs use the
//!   same pool (`gemm` with `Parallelism::Rayon`), so there is one pool, not two.
//! - **Elementwise work in place** on plain slices the compiler vectorises (AVX2/FMA with the
//!   project's `x86-64-v3` target): bias, residual, layer norm, softmax with a polynomial `exp`,
//!   GELU with a polynomial `erf` (within 4e-7 relative and 1e-6 absolute of the exact values;
//!   the tests below check them).

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use gemm::Parallelism;
use rayon::prelude::*;

use crate::kernels::softmax_prefix;
use crate::kernels::SharedOut as Shared;
use crate::{ModelError, Result};

/// The shape of a BERT encoder (`config.json`).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Config {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default)]
    pub hidden_act: Option<String>,
}

fn default_eps() -> f64 {
    1e-12
}

struct Norm {
    weight: Vec<f32>,
    bias: Vec<f32>,
}

/// A linear layer: the checkpoint's `[out, in]` weight transposed to `[in, out]`, packed for
/// [`crate::kernels::dense`] (or kept row-major for the gemm crate where the output width is
/// not a whole number of panels).
struct Linear {
    weight: Weight,
    bias: Vec<f32>,
    inputs: usize,
    outputs: usize,
}

enum Weight {
    Packed(crate::kernels::dense::Packed),
    RowMajor(Vec<f32>),
}

struct Layer {
    qkv: Linear,
    attn_out: Linear,
    attn_norm: Norm,
    inter: Linear,
    out: Linear,
    out_norm: Norm,
}

pub struct Bert {
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    embed_norm: Norm,
    layers: Vec<Layer>,
    hidden: usize,
    heads: usize,
    eps: f32,
    max_positions: usize,
    vocab: usize,
}

/// The weights of a safetensors file by name.
struct Weights(HashMap<String, Tensor>);

impl Weights {
    fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let t = self
            .0
            .remove(name)
            .or_else(|| self.0.remove(&format!("bert.{name}")))
            .ok_or_else(|| ModelError::Load(format!("model.safetensors has no {name}")))?;
        if t.dims() != shape {
            return Err(ModelError::Load(format!(
                "{name}: shape {:?}, expected {shape:?}",
                t.dims()
            )));
        }
        t.flatten_all()
            .and_then(|t| t.to_dtype(candle_core::DType::F32))
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(|e| ModelError::Load(format!("{name}: {e}")))
    }

    fn norm(&mut self, prefix: &str, h: usize) -> Result<Norm> {
        Ok(Norm {
            weight: self.take(&format!("{prefix}.weight"), &[h])?,
            bias: self.take(&format!("{prefix}.bias"), &[h])?,
        })
    }

    /// Linear layers `names` (each `[out_i, inputs]`) side by side as one `[inputs, Σ out_i]`.
    fn linear(&mut self, names: &[&str], inputs: usize, outputs: &[usize]) -> Result<Linear> {
        let total: usize = outputs.iter().sum();
        let mut weight = vec![0f32; inputs * total];
        let mut bias = Vec::with_capacity(total);
        let mut col = 0;
        for (name, &out) in names.iter().zip(outputs) {
            let w = self.take(&format!("{name}.weight"), &[out, inputs])?;
            for o in 0..out {
                for i in 0..inputs {
                    weight[i * total + col + o] = w[o * inputs + i];
                }
            }
            bias.extend(self.take(&format!("{name}.bias"), &[out])?);
            col += out;
        }
        let weight = match crate::kernels::dense::Packed::new(&weight, inputs, total) {
            Some(p) => Weight::Packed(p),
            None => Weight::RowMajor(weight),
        };
        Ok(Linear {
            weight,
            bias,
            inputs,
            outputs: total,
        })
    }
}

impl Bert {
    /// Loads `model.safetensors` with the shape `config` gives.
    pub fn load(weights: &Path, config: &Config) -> Result<Bert> {
        if let Some(act) = &config.hidden_act {
            if act != "gelu" {
                return Err(ModelError::Load(format!(
                    "BERT with hidden_act {act:?} is not supported (only \"gelu\")"
                )));
            }
        }
        let h = config.hidden_size;
        let heads = config.num_attention_heads;
        if heads == 0 || h % heads != 0 {
            return Err(ModelError::Load(format!(
                "hidden size {h} is not a multiple of {heads} heads"
            )));
        }
        let tensors = candle_core::safetensors::load(weights, &Device::Cpu)
            .map_err(|e| ModelError::Load(format!("{}: {e}", weights.display())))?;
        let mut w = Weights(tensors);
        let e = "embeddings";
        let word = w.take(
            &format!("{e}.word_embeddings.weight"),
            &[config.vocab_size, h],
        )?;
        let position = w.take(
            &format!("{e}.position_embeddings.weight"),
            &[config.max_position_embeddings, h],
        )?;
        let token_type = w.take(&format!("{e}.token_type_embeddings.weight"), &[2, h])?;
        let embed_norm = w.norm(&format!("{e}.LayerNorm"), h)?;
        let i = config.intermediate_size;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for l in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{l}");
            let s = format!("{p}.attention.self");
            layers.push(Layer {
                qkv: w.linear(
                    &[
                        &format!("{s}.query"),
                        &format!("{s}.key"),
                        &format!("{s}.value"),
                    ],
                    h,
                    &[h, h, h],
                )?,
                attn_out: w.linear(&[&format!("{p}.attention.output.dense")], h, &[h])?,
                attn_norm: w.norm(&format!("{p}.attention.output.LayerNorm"), h)?,
                inter: w.linear(&[&format!("{p}.intermediate.dense")], h, &[i])?,
                out: w.linear(&[&format!("{p}.output.dense")], i, &[h])?,
                out_norm: w.norm(&format!("{p}.output.LayerNorm"), h)?,
            });
        }
        Ok(Bert {
            word,
            position,
            token_type,
            embed_norm,
            layers,
            hidden: h,
            heads,
            eps: config.layer_norm_eps as f32,
            max_positions: config.max_position_embeddings,
            vocab: config.vocab_size,
        })
    }

    pub fn hidden_size(&self) -> usize {
        self.hidden
    }

    /// The last hidden states of each text (`texts[b]` are its token ids, unpadded), packed:
    /// row `offset(b) + t` is token `t` of text `b`; `[Σ len, hidden]` row-major.
    pub fn forward(&self, texts: &[&[u32]]) -> Result<Vec<f32>> {
        let h = self.hidden;
        let mut spans = Vec::with_capacity(texts.len());
        let mut rows = 0;
        for ids in texts {
            if ids.len() > self.max_positions {
                return Err(ModelError::Inference(format!(
                    "{} tokens: more than the model's {} positions",
                    ids.len(),
                    self.max_positions
                )));
            }
            spans.push((rows, ids.len()));
            rows += ids.len();
        }
        // Embeddings: word + position + token type 0, then layer norm.
        let mut x = vec![0f32; rows * h];
        for (ids, &(start, _)) in texts.iter().zip(&spans) {
            for (t, &id) in ids.iter().enumerate() {
                let id = id as usize;
                if id >= self.vocab {
                    return Err(ModelError::Inference(format!("token id {id} out of range")));
                }
                let row = &mut x[(start + t) * h..(start + t + 1) * h];
                let (wd, ps, ty) = (
                    &self.word[id * h..(id + 1) * h],
                    &self.position[t * h..(t + 1) * h],
                    &self.token_type[..h],
                );
                for j in 0..h {
                    row[j] = wd[j] + ps[j] + ty[j];
                }
            }
        }
        layer_norm(&mut x, h, &self.embed_norm, self.eps);
        let mut qkv = vec![0f32; rows * 3 * h];
        let mut ctx = vec![0f32; rows * h];
        let mut tmp = vec![0f32; rows * h];
        let mut inter = Vec::new();
        for layer in &self.layers {
            // Attention.
            linear(&mut qkv, &x, &layer.qkv, rows);
            attention(&mut ctx, &qkv, &spans, h, self.heads);
            linear(&mut tmp, &ctx, &layer.attn_out, rows);
            add_in_place(&mut tmp, &x);
            layer_norm(&mut tmp, h, &layer.attn_norm, self.eps);
            std::mem::swap(&mut x, &mut tmp);
            // Feed-forward.
            inter.resize(rows * layer.inter.outputs, 0.0);
            linear(&mut inter, &x, &layer.inter, rows);
            gelu_in_place(&mut inter);
            linear(&mut tmp, &inter, &layer.out, rows);
            add_in_place(&mut tmp, &x);
            layer_norm(&mut tmp, h, &layer.out_norm, self.eps);
            std::mem::swap(&mut x, &mut tmp);
        }
        Ok(x)
    }
}

fn threads() -> Parallelism {
    match rayon::current_num_threads() {
        0 | 1 => Parallelism::None,
        n => Parallelism::Rayon(n),
    }
}

/// `dst[m × n] = lhs[m × k] · rhs[k × n]`, all row-major with the given row strides, `scale`
/// times the product.
///
/// # Safety
/// The pointers must cover the rows and strides given, and `dst` must not overlap the inputs.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_rows(
    dst: *mut f32,
    dst_rs: usize,
    lhs: *const f32,
    lhs_rs: usize,
    rhs: *const f32,
    rhs_cs: isize,
    rhs_rs: isize,
    (m, k, n): (usize, usize, usize),
    scale: f32,
    par: Parallelism,
) {
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs as isize,
            false,
            lhs,
            1,
            lhs_rs as isize,
            rhs,
            rhs_cs,
            rhs_rs,
            0.0,
            scale,
            false,
            false,
            false,
            par,
        )
    }
}

/// `dst[rows × out] = x[rows × in] · W + b`.
fn linear(dst: &mut [f32], x: &[f32], l: &Linear, rows: usize) {
    let (k, n) = (l.inputs, l.outputs);
    assert!(dst.len() >= rows * n && x.len() >= rows * k);
    match &l.weight {
        Weight::Packed(w) => crate::kernels::dense::matmul(dst, x, rows, w),
        Weight::RowMajor(w) if rows > 0 => {
            assert_eq!(w.len(), k * n);
            // SAFETY: the lengths are checked above; `dst` is a distinct buffer.
            unsafe {
                gemm_rows(
                    dst.as_mut_ptr(),
                    n,
                    x.as_ptr(),
                    k,
                    w.as_ptr(),
                    1,
                    n as isize,
                    (rows, k, n),
                    1.0,
                    threads(),
                );
            }
        }
        Weight::RowMajor(_) => {}
    }
    for row in dst[..rows * n].chunks_exact_mut(n) {
        for (v, b) in row.iter_mut().zip(&l.bias) {
            *v += b;
        }
    }
}

/// Self-attention of every (text, head): `ctx[t, head] = softmax(Q Kᵀ / √d) V` over the text's
/// own tokens, from the packed `qkv` (`[rows, 3h]`: Q, then K, then V).
fn attention(ctx: &mut [f32], qkv: &[f32], spans: &[(usize, usize)], h: usize, heads: usize) {
    let d = h / heads;
    let scale = 1.0 / (d as f32).sqrt();
    let out = Shared(ctx.as_mut_ptr());
    let rows: usize = spans.iter().map(|s| s.1).sum();
    assert!(ctx.len() >= rows * h && qkv.len() >= rows * 3 * h);
    let tasks: Vec<(usize, usize, usize)> = spans
        .iter()
        .flat_map(|&(start, len)| (0..heads).map(move |hd| (start, len, hd)))
        .filter(|t| t.1 > 0)
        .collect();
    tasks
        .par_iter()
        .for_each_init(Vec::new, |scores, &(start, len, hd)| {
            let out = out;
            scores.resize(len * len, 0.0);
            let base = start * 3 * h + hd * d;
            // SAFETY: Q, K and V of rows start..start+len, columns hd*d.. (+h, +2h) lie inside qkv
            // (checked above); `scores` holds len × len; the task writes rows start..start+len,
            // columns hd*d..hd*d+d of ctx, which no other task writes.
            unsafe {
                let q = qkv.as_ptr().add(base);
                let k = qkv.as_ptr().add(base + h);
                let v = qkv.as_ptr().add(base + 2 * h);
                // scores[i, j] = scale · Σ_c Q[i, c] K[j, c]: K read as Kᵀ (rows of c, columns j).
                gemm_rows(
                    scores.as_mut_ptr(),
                    len,
                    q,
                    3 * h,
                    k,
                    (3 * h) as isize,
                    1,
                    (len, d, len),
                    scale,
                    Parallelism::None,
                );
                for row in scores.chunks_exact_mut(len) {
                    softmax_prefix(row, len);
                }
                gemm_rows(
                    out.0.add(start * h + hd * d),
                    h,
                    scores.as_ptr(),
                    len,
                    v,
                    1,
                    (3 * h) as isize,
                    (len, len, d),
                    1.0,
                    Parallelism::None,
                );
            }
        });
}

fn add_in_place(dst: &mut [f32], src: &[f32]) {
    for (a, b) in dst.iter_mut().zip(src) {
        *a += b;
    }
}

fn layer_norm(x: &mut [f32], h: usize, n: &Norm, eps: f32) {
    x.par_chunks_mut(h * 64).for_each(|block| {
        for row in block.chunks_exact_mut(h) {
            let mean = crate::kernels::sum(row) / h as f32;
            for v in row.iter_mut() {
                *v -= mean;
            }
            let var = crate::kernels::dot(row, row) / h as f32;
            let inv = 1.0 / (var + eps).sqrt();
            for ((v, w), b) in row.iter_mut().zip(&n.weight).zip(&n.bias) {
                *v = *v * inv * w + b;
            }
        }
    });
}

/// GELU as BERT defines it: `x · Φ(x) = x/2 · (1 + erf(x/√2))`.
fn gelu_in_place(x: &mut [f32]) {
    x.par_chunks_mut(16 * 1024).for_each(crate::kernels::gelu);
}
