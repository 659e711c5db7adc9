//! Our own forward pass for the GGUF decoder-only transformers we ship (llama: SmolLM2;
//! qwen2: Qwen2.5), on candle tensors and quantized matmuls.
//!
//! Written here rather than taken from candle-transformers because Sextant needs control of the
//! KV cache: it keeps the cached positions' tokens and can be cut back to any length, so a
//! prompt that shares its beginning with the previous one (the system prompt and worked
//! example every answer starts with) only computes its new tokens. The arithmetic follows the
//! reference implementation (checked against candle-transformers' models in the tests).

use std::collections::HashMap;

use candle_core::quantized::{gguf_file, QMatMul, QTensor};
use candle_core::{DType, Device, Module, Result, Tensor};
use candle_transformers::quantized_nn::RmsNorm;

use super::CausalLm;

/// Rotary tables are precomputed for this many positions (and the context is capped there).
pub const MAX_POSITIONS: usize = 32_768;

struct Attention {
    wq: QMatMul,
    wk: QMatMul,
    wv: QMatMul,
    bq: Option<Tensor>,
    bk: Option<Tensor>,
    bv: Option<Tensor>,
    wo: QMatMul,
}

struct Layer {
    attn_norm: RmsNorm,
    attn: Attention,
    ffn_norm: RmsNorm,
    gate: QMatMul,
    up: QMatMul,
    down: QMatMul,
    /// Keys and values of the cached positions: `[1, n_kv_head, len, head_dim]`.
    cache: Option<(Tensor, Tensor)>,
}

pub struct Decoder {
    embed: candle_nn::Embedding,
    layers: Vec<Layer>,
    norm: RmsNorm,
    output: QMatMul,
    n_head: usize,
    n_kv_head: usize,
    head_dim: usize,
    /// Rotate pairs (i, i + d/2) (Qwen, "neox") rather than (2i, 2i + 1) (Llama in GGUF).
    neox: bool,
    cos: Tensor,
    sin: Tensor,
    /// Positions held by every layer's cache.
    cached: usize,
    masks: HashMap<(usize, usize), Tensor>,
    device: Device,
}

fn tensor(
    ct: &gguf_file::Content,
    reader: &mut dyn super::ReadSeek,
    name: &str,
    device: &Device,
) -> Result<QTensor> {
    ct.tensor(&mut super::ReaderRef(reader), name, device)
}

impl Decoder {
    /// Loads `arch` ("llama" or "qwen2") weights from a GGUF file.
    pub fn from_gguf(
        ct: gguf_file::Content,
        reader: &mut dyn super::ReadSeek,
        device: &Device,
    ) -> Result<Decoder> {
        let arch = ct
            .metadata
            .get("general.architecture")
            .and_then(|v| v.to_string().ok())
            .cloned()
            .unwrap_or_default();
        let md = |k: &str| -> Result<&gguf_file::Value> {
            ct.metadata
                .get(&format!("{arch}.{k}"))
                .ok_or_else(|| candle_core::Error::Msg(format!("GGUF has no {arch}.{k}")))
        };
        let n_head = md("attention.head_count")?.to_u32()? as usize;
        let n_kv_head = md("attention.head_count_kv")?.to_u32()? as usize;
        let n_embd = md("embedding_length")?.to_u32()? as usize;
        let n_layer = md("block_count")?.to_u32()? as usize;
        let eps = md("attention.layer_norm_rms_epsilon")?.to_f32()? as f64;
        let base = md("rope.freq_base")
            .and_then(|v| v.to_f32())
            .unwrap_or(10_000.0);
        let head_dim = n_embd / n_head;
        let rope_dim = md("rope.dimension_count")
            .and_then(|v| v.to_u32())
            .map_or(head_dim, |d| d as usize);
        let neox = arch != "llama";

        let embed_q = tensor(&ct, reader, "token_embd.weight", device)?;
        let embed = candle_nn::Embedding::new(embed_q.dequantize(device)?, n_embd);
        let output = match tensor(&ct, reader, "output.weight", device) {
            Ok(t) => QMatMul::from_qtensor(t)?,
            Err(_) => QMatMul::from_qtensor(embed_q)?,
        };
        let norm = RmsNorm::from_qtensor(tensor(&ct, reader, "output_norm.weight", device)?, eps)?;
        let mut layers = Vec::with_capacity(n_layer);
        for i in 0..n_layer {
            let p = format!("blk.{i}");
            let mut q = |n: &str| tensor(&ct, reader, &format!("{p}.{n}"), device);
            let bias = |t: Result<QTensor>| -> Result<Option<Tensor>> {
                match t {
                    Ok(t) => Ok(Some(t.dequantize(device)?)),
                    Err(_) => Ok(None),
                }
            };
            let attn = Attention {
                wq: QMatMul::from_qtensor(q("attn_q.weight")?)?,
                wk: QMatMul::from_qtensor(q("attn_k.weight")?)?,
                wv: QMatMul::from_qtensor(q("attn_v.weight")?)?,
                bq: bias(q("attn_q.bias"))?,
                bk: bias(q("attn_k.bias"))?,
                bv: bias(q("attn_v.bias"))?,
                wo: QMatMul::from_qtensor(q("attn_output.weight")?)?,
            };
            layers.push(Layer {
                attn_norm: RmsNorm::from_qtensor(q("attn_norm.weight")?, eps)?,
                attn,
                ffn_norm: RmsNorm::from_qtensor(q("ffn_norm.weight")?, eps)?,
                gate: QMatMul::from_qtensor(q("ffn_gate.weight")?)?,
                up: QMatMul::from_qtensor(q("ffn_up.weight")?)?,
                down: QMatMul::from_qtensor(q("ffn_down.weight")?)?,
                cache: None,
            });
        }
        let theta: Vec<f32> = (0..rope_dim)
            .step_by(2)
            .map(|i| 1.0 / base.powf(i as f32 / rope_dim as f32))
            .collect();
        let theta = Tensor::new(theta.as_slice(), device)?;
        let angles = Tensor::arange(0, MAX_POSITIONS as u32, device)?
            .to_dtype(DType::F32)?
            .reshape((MAX_POSITIONS, 1))?
            .matmul(&theta.reshape((1, theta.elem_count()))?)?;
        Ok(Decoder {
            embed,
            layers,
            norm,
            output,
            n_head,
            n_kv_head,
            head_dim,
            neox,
            cos: angles.cos()?,
            sin: angles.sin()?,
            cached: 0,
            masks: HashMap::new(),
            device: device.clone(),
        })
    }

    fn rope(&self, x: &Tensor, pos: usize) -> Result<Tensor> {
        let seq = x.dim(2)?;
        let cos = self.cos.narrow(0, pos, seq)?;
        let sin = self.sin.narrow(0, pos, seq)?;
        let x = x.contiguous()?;
        if self.neox {
            candle_nn::rotary_emb::rope(&x, &cos, &sin)
        } else {
            candle_nn::rotary_emb::rope_i(&x, &cos, &sin)
        }
    }

    /// `[seq, pos + seq]` additive mask: 0 where a query may attend, -inf in its future.
    fn mask(&mut self, seq: usize, pos: usize) -> Result<Tensor> {
        if let Some(m) = self.masks.get(&(seq, pos)) {
            return Ok(m.clone());
        }
        let total = pos + seq;
        let data: Vec<f32> = (0..seq)
            .flat_map(|i| {
                (0..total).map(move |j| if j > pos + i { f32::NEG_INFINITY } else { 0.0 })
            })
            .collect();
        let m = Tensor::from_vec(data, (seq, total), &self.device)?;
        self.masks.insert((seq, pos), m.clone());
        Ok(m)
    }

    fn attention(
        &mut self,
        li: usize,
        x: &Tensor,
        mask: Option<&Tensor>,
        pos: usize,
    ) -> Result<Tensor> {
        let (b, seq, n_embd) = x.dims3()?;
        let (n_head, n_kv, hd) = (self.n_head, self.n_kv_head, self.head_dim);
        let a = &self.layers[li].attn;
        let proj = |w: &QMatMul, bias: &Option<Tensor>| -> Result<Tensor> {
            let y = w.forward(x)?;
            match bias {
                Some(b) => y.broadcast_add(b),
                None => Ok(y),
            }
        };
        let q = proj(&a.wq, &a.bq)?;
        let k = proj(&a.wk, &a.bk)?;
        let v = proj(&a.wv, &a.bv)?;
        let q = q.reshape((b, seq, n_head, hd))?.transpose(1, 2)?;
        let k = k.reshape((b, seq, n_kv, hd))?.transpose(1, 2)?;
        let v = v
            .reshape((b, seq, n_kv, hd))?
            .transpose(1, 2)?
            .contiguous()?;
        let q = self.rope(&q, pos)?;
        let k = self.rope(&k, pos)?;
        let layer = &mut self.layers[li];
        let (k, v) = match layer.cache.take() {
            Some((ck, cv)) if pos > 0 => (Tensor::cat(&[&ck, &k], 2)?, Tensor::cat(&[&cv, &v], 2)?),
            _ => (k, v),
        };
        layer.cache = Some((k.clone(), v.clone()));
        // Grouped-query attention: each key/value head serves n_head / n_kv query heads.
        let rep = n_head / n_kv;
        let (k, v) = if rep == 1 {
            (k, v)
        } else {
            let total = k.dim(2)?;
            let expand = |t: Tensor| -> Result<Tensor> {
                t.unsqueeze(2)?
                    .expand((b, n_kv, rep, total, hd))?
                    .reshape((b, n_head, total, hd))
            };
            (expand(k)?, expand(v)?)
        };
        let att = (q.matmul(&k.t()?)? / (hd as f64).sqrt())?;
        let att = match mask {
            Some(m) => att.broadcast_add(m)?,
            None => att,
        };
        let att = candle_nn::ops::softmax_last_dim(&att)?;
        let y = att.matmul(&v.contiguous()?)?;
        let y = y.transpose(1, 2)?.reshape((b, seq, n_embd))?;
        self.layers[li].attn.wo.forward(&y)
    }
}

impl CausalLm for Decoder {
    fn forward(&mut self, tokens: &Tensor, pos: usize) -> Result<Tensor> {
        let seq = tokens.dim(1)?;
        if pos != self.cached {
            if pos > self.cached {
                candle_core::bail!("position {pos} is past the {} cached", self.cached);
            }
            self.truncate(pos);
        }
        let mask = if seq == 1 {
            None
        } else {
            Some(self.mask(seq, pos)?)
        };
        let mut h = self.embed.forward(tokens)?;
        for li in 0..self.layers.len() {
            let residual = h.clone();
            let x = self.layers[li].attn_norm.forward(&h)?;
            let x = (self.attention(li, &x, mask.as_ref(), pos)? + residual)?;
            let residual = x.clone();
            let l = &self.layers[li];
            let y = l.ffn_norm.forward(&x)?;
            let y = (candle_nn::ops::silu(&l.gate.forward(&y)?)? * l.up.forward(&y)?)?;
            h = (l.down.forward(&y)? + residual)?;
        }
        self.cached = pos + seq;
        let h = self.norm.forward(&h)?;
        let last = h.narrow(1, seq - 1, 1)?.squeeze(1)?;
        self.output.forward(&last)
    }

    fn clear_cache(&mut self) {
        for l in &mut self.layers {
            l.cache = None;
        }
        self.cached = 0;
    }

    fn truncate(&mut self, len: usize) -> usize {
        if len == 0 {
            self.clear_cache();
            return 0;
        }
        let len = len.min(self.cached);
        for l in &mut self.layers {
            if let Some((k, v)) = l.cache.take() {
                match (k.narrow(2, 0, len), v.narrow(2, 0, len)) {
                    (Ok(k), Ok(v)) => l.cache = Some((k, v)),
                    _ => {
                        self.cached = 0;
                        for l in &mut self.layers {
                            l.cache = None;
                        }
                        return 0;
                    }
                }
            }
        }
        self.cached = len;
        len
    }
}

#[cfg(test)]
mod tests {
    //! Against the reference implementation (candle-transformers' quantized models) on the
    //! real shipped weights, and prefix reuse against a fresh computation.
    use super::*;
    use crate::generate::gguf;

    fn model_file(id: &str) -> std::path::PathBuf {
        let dir = std::env::var_os("SEXTANT_MODELS")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models")
            });
        let p = dir.join(id).join("model.gguf");
        assert!(
            p.exists(),
            "{} missing: run `sextant models fetch`",
            p.display()
        );
        p
    }

    fn ours(path: &std::path::Path) -> Decoder {
        let g = gguf::open(path, crate::WeightFormat::Q8_0).unwrap();
        let gguf::Gguf {
            content,
            mut reader,
            ..
        } = g;
        Decoder::from_gguf(content, &mut *reader, &Device::Cpu).unwrap()
    }

    fn logits(m: &mut dyn CausalLm, ids: &[u32], pos: usize) -> Vec<f32> {
        let t = Tensor::new(ids, &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        m.forward(&t, pos)
            .unwrap()
            .squeeze(0)
            .unwrap()
            .to_vec1()
            .unwrap()
    }

    fn max_diff(a: &[f32], b: &[f32]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    fn argmax(a: &[f32]) -> usize {
        a.iter()
            .enumerate()
            .max_by(|x, y| x.1.total_cmp(y.1))
            .map(|(i, _)| i)
            .unwrap()
    }

    const PROMPT: &[u32] = &[
        785, 6722, 315, 14562, 374, 451, 2782, 18337, 13, 576, 6722, 315, 9625, 374,
    ];

    fn check_against_reference(id: &str, reference: &mut dyn FnMut(&[u32], usize) -> Vec<f32>) {
        let path = model_file(id);
        let mut m = ours(&path);
        // The prompt at once, then one more token on top of the cache.
        let a = logits(&mut m, PROMPT, 0);
        let r = reference(PROMPT, 0);
        assert!(
            max_diff(&a, &r) < 1e-2,
            "{id}: prompt logits differ by {}",
            max_diff(&a, &r)
        );
        assert_eq!(argmax(&a), argmax(&r));
        let b = logits(&mut m, &[argmax(&a) as u32], PROMPT.len());
        let rb = reference(&[argmax(&a) as u32], PROMPT.len());
        assert!(
            max_diff(&b, &rb) < 1e-2,
            "{id}: decode logits differ by {}",
            max_diff(&b, &rb)
        );
        // Cut back to a shared prefix and continue differently: the same as computing the
        // second prompt from scratch.
        let cut = 5;
        assert_eq!(m.truncate(cut), cut);
        let c = logits(&mut m, &PROMPT[cut..PROMPT.len() - 1], cut);
        let mut fresh = ours(&path);
        let f = logits(&mut fresh, &PROMPT[..PROMPT.len() - 1], 0);
        assert!(
            max_diff(&c, &f) < 1e-3,
            "{id}: reused prefix differs by {}",
            max_diff(&c, &f)
        );
    }

    /// Last-position logits from a candle-transformers reference model's `forward`.
    fn reference_logits(
        ids: &[u32],
        pos: usize,
        mut forward: impl FnMut(&Tensor, usize) -> candle_core::Result<Tensor>,
    ) -> Vec<f32> {
        let t = Tensor::new(ids, &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        forward(&t, pos)
            .unwrap()
            .squeeze(0)
            .unwrap()
            .to_vec1()
            .unwrap()
    }

    #[test]
    fn llama_matches_the_reference_and_reuses_prefixes() {
        let path = model_file("smollm2-135m-instruct");
        let g = gguf::open(&path, crate::WeightFormat::Q8_0).unwrap();
        let gguf::Gguf {
            content,
            mut reader,
            ..
        } = g;
        let mut r = candle_transformers::models::quantized_llama::ModelWeights::from_gguf(
            content,
            &mut super::super::ReaderRef(&mut *reader),
            &Device::Cpu,
        )
        .unwrap();
        check_against_reference("smollm2-135m-instruct", &mut |ids, pos| {
            reference_logits(ids, pos, |t, pos| r.forward(t, pos))
        });
    }

    #[test]
    fn qwen2_matches_the_reference_and_reuses_prefixes() {
        let path = model_file("qwen2.5-coder-0.5b-instruct");
        let g = gguf::open(&path, crate::WeightFormat::Q8_0).unwrap();
        let gguf::Gguf {
            content,
            mut reader,
            ..
        } = g;
        let mut r = candle_transformers::models::quantized_qwen2::ModelWeights::from_gguf(
            content,
            &mut super::super::ReaderRef(&mut *reader),
            &Device::Cpu,
        )
        .unwrap();
        check_against_reference("qwen2.5-coder-0.5b-instruct", &mut |ids, pos| {
            reference_logits(ids, pos, |t, pos| r.forward(t, pos))
        });
    }
}
