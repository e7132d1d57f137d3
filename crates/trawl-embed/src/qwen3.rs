//! Qwen3 as a sentence embedder (Qwen3-Embedding), written here rather than taken from
//! candle-transformers (whose qwen3.rs has no padding mask and a KV cache that outlives a call).
//! As transformers' `Qwen3Model`: token embeddings, then per layer pre-RMSNorm, grouped-query
//! causal self-attention with RMSNorm on each query and key head before the rotary embedding
//! (`rotate_half` layout), a SwiGLU MLP, residuals around both; a final RMSNorm.
//!
//! Two forwards with the contract of the BERT ones (packed last hidden states of the real tokens
//! and sequence starts): [`Qwen3Fused`] packs sequences without padding on the CPU (each text's
//! positions start at 0); [`Qwen3Candle`] runs padded batches on any candle device with the
//! causal mask and the padding mask, padding on the side the tokenizer pads (Qwen3-Embedding:
//! left) and positions counted from the batch's first column, as transformers does. Rotary
//! embeddings depend only on relative positions, so both give the same vectors.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor, D};
use rayon::prelude::*;
use trawl_kernels::rows as kernels;
use trawl_kernels::SharedMut;

use crate::config::{BertConfig, DecoderConfig};
use crate::fused::{attention_scores, attention_values, for_each_head, linear};
use crate::weights::{checked, tensor_prefix};
use crate::{Error, Result};

/// One decoder layer. Q, K and V are fused into one `[(heads + 2 kv_heads) * head_dim, hidden]`
/// matrix, the MLP's gate and up projections into one `[2 * intermediate, hidden]`.
pub(crate) struct Layer<T> {
    pub ln1: T,
    pub qkv_w: T,
    pub qkv_b: Option<T>,
    pub q_norm: T,
    pub k_norm: T,
    pub o_w: T,
    pub o_b: Option<T>,
    pub ln2: T,
    pub gate_up_w: T,
    pub down_w: T,
}

pub(crate) struct Weights<T> {
    pub embed: T,
    pub layers: Vec<Layer<T>>,
    pub norm: T,
}

impl<T> Weights<T> {
    pub fn try_map<U>(self, mut f: impl FnMut(T) -> Result<U>) -> Result<Weights<U>> {
        let mut layers = Vec::with_capacity(self.layers.len());
        for l in self.layers {
            layers.push(Layer {
                ln1: f(l.ln1)?,
                qkv_w: f(l.qkv_w)?,
                qkv_b: l.qkv_b.map(&mut f).transpose()?,
                q_norm: f(l.q_norm)?,
                k_norm: f(l.k_norm)?,
                o_w: f(l.o_w)?,
                o_b: l.o_b.map(&mut f).transpose()?,
                ln2: f(l.ln2)?,
                gate_up_w: f(l.gate_up_w)?,
                down_w: f(l.down_w)?,
            });
        }
        Ok(Weights {
            embed: f(self.embed)?,
            layers,
            norm: f(self.norm)?,
        })
    }
}

fn decoder(cfg: &BertConfig) -> &DecoderConfig {
    cfg.decoder
        .as_ref()
        .expect("a qwen3 BertConfig carries its DecoderConfig")
}

/// The Qwen3 weights among `tensors` (all tensors of the file `path`; names with or without the
/// `model.` prefix of a causal-LM checkpoint), as f32 CPU tensors checked against `cfg`.
pub(crate) fn load_weights(
    tensors: &HashMap<String, Tensor>,
    path: &Path,
    cfg: &BertConfig,
) -> Result<Weights<Tensor>> {
    let d = decoder(cfg);
    let prefix = tensor_prefix(tensors, "embed_tokens.weight", path)?;
    let (h, i, dh) = (cfg.hidden_size, cfg.intermediate_size, d.head_dim);
    let (qd, kvd) = (cfg.num_attention_heads * dh, d.num_key_value_heads * dh);
    let get =
        |name: &str, shape: &[usize]| checked(tensors, &format!("{prefix}{name}"), shape, path);
    let embed = get("embed_tokens.weight", &[cfg.vocab_size, h]).map_err(|e| match e {
        Error::ShapeMismatch { found, .. } if found.len() == 2 && found[1] != h => {
            Error::HiddenSizeMismatch {
                path: path.to_path_buf(),
                config: h,
                weights: found[1],
            }
        }
        e => e,
    })?;
    let cat = |parts: &[Tensor]| -> Result<Tensor> { Ok(Tensor::cat(parts, 0)?) };
    let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
    for l in 0..cfg.num_hidden_layers {
        let p = format!("layers.{l}.");
        let w = |n: &str, s: &[usize]| get(&format!("{p}{n}"), s);
        let qkv_b = if d.attention_bias {
            Some(cat(&[
                w("self_attn.q_proj.bias", &[qd])?,
                w("self_attn.k_proj.bias", &[kvd])?,
                w("self_attn.v_proj.bias", &[kvd])?,
            ])?)
        } else {
            None
        };
        layers.push(Layer {
            ln1: w("input_layernorm.weight", &[h])?,
            qkv_w: cat(&[
                w("self_attn.q_proj.weight", &[qd, h])?,
                w("self_attn.k_proj.weight", &[kvd, h])?,
                w("self_attn.v_proj.weight", &[kvd, h])?,
            ])?,
            qkv_b,
            q_norm: w("self_attn.q_norm.weight", &[dh])?,
            k_norm: w("self_attn.k_norm.weight", &[dh])?,
            o_w: w("self_attn.o_proj.weight", &[h, qd])?,
            o_b: if d.attention_bias {
                Some(w("self_attn.o_proj.bias", &[h])?)
            } else {
                None
            },
            ln2: w("post_attention_layernorm.weight", &[h])?,
            gate_up_w: cat(&[
                w("mlp.gate_proj.weight", &[i, h])?,
                w("mlp.up_proj.weight", &[i, h])?,
            ])?,
            down_w: w("mlp.down_proj.weight", &[h, i])?,
        });
    }
    Ok(Weights {
        embed,
        layers,
        norm: get("norm.weight", &[h])?,
    })
}

/// `cos` and `sin` of position `p` times each rotary frequency, `[len, head_dim / 2]` row-major,
/// in f32 as transformers computes them (`inv_freq = 1 / theta^(2i / d)`, then `p * inv_freq`).
fn rope_tables(len: usize, head_dim: usize, theta: f64) -> (Vec<f32>, Vec<f32>) {
    let half = head_dim / 2;
    let theta = theta as f32;
    let inv: Vec<f32> = (0..half)
        .map(|i| 1.0 / theta.powf((2 * i) as f32 / head_dim as f32))
        .collect();
    let mut cos = Vec::with_capacity(len * half);
    let mut sin = Vec::with_capacity(len * half);
    for p in 0..len {
        for &f in &inv {
            let a = p as f32 * f;
            cos.push(a.cos());
            sin.push(a.sin());
        }
    }
    (cos, sin)
}

/// `out = x / sqrt(mean(x^2) + eps) * w` (Qwen3RMSNorm).
fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    let ms = x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32;
    let r = 1.0 / (ms + eps).sqrt();
    for ((o, &v), &g) in out.iter_mut().zip(x).zip(w) {
        *o = g * (v * r);
    }
}

/// RMSNorm of one head in place, then its rotation by the position's angles (`rotate_half`:
/// element `j` pairs with `j + d/2`).
fn norm_rotate(x: &mut [f32], w: &[f32], eps: f32, cos: &[f32], sin: &[f32]) {
    let ms = x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32;
    let r = 1.0 / (ms + eps).sqrt();
    for (v, &g) in x.iter_mut().zip(w) {
        *v = g * (*v * r);
    }
    let half = x.len() / 2;
    let (a, b) = x.split_at_mut(half);
    for j in 0..half {
        let (x1, x2) = (a[j], b[j]);
        a[j] = x1 * cos[j] - x2 * sin[j];
        b[j] = x2 * cos[j] + x1 * sin[j];
    }
}

/// The packed CPU forward (no padding: each text's positions start at 0).
pub(crate) struct Qwen3Fused {
    cfg: BertConfig,
    w: Weights<Vec<f32>>,
}

impl Qwen3Fused {
    pub fn new(cfg: BertConfig, w: Weights<Vec<f32>>) -> Qwen3Fused {
        Qwen3Fused { cfg, w }
    }

    /// Last hidden states (after the final norm) of each sequence, packed: row `starts[i] + p`
    /// is token `p` of sequence `i`.
    pub fn forward(&self, seqs: &[Vec<u32>], threads: usize) -> (Vec<f32>, Vec<usize>) {
        let c = &self.cfg;
        let d = decoder(c);
        let (h, inter, dh) = (c.hidden_size, c.intermediate_size, d.head_dim);
        let (nq, nkv) = (c.num_attention_heads, d.num_key_value_heads);
        let width = (nq + 2 * nkv) * dh;
        let eps = c.layer_norm_eps as f32;
        let mut starts = Vec::with_capacity(seqs.len() + 1);
        let mut t = 0;
        for s in seqs {
            starts.push(t);
            t += s.len();
        }
        starts.push(t);
        let par = if threads > 1 {
            gemm::Parallelism::Rayon(threads)
        } else {
            gemm::Parallelism::None
        };
        let longest = seqs.iter().map(Vec::len).max().unwrap_or(0);
        let (cos, sin) = rope_tables(longest, dh, d.rope_theta);
        let half = dh / 2;
        // Position of each packed row within its sequence.
        let pos: Vec<usize> = seqs.iter().flat_map(|s| 0..s.len()).collect();

        let mut x = vec![0f32; t * h];
        for (row, &id) in x.chunks_exact_mut(h).zip(seqs.iter().flatten()) {
            let wi = (id as usize).min(c.vocab_size - 1);
            row.copy_from_slice(&self.w.embed[wi * h..(wi + 1) * h]);
        }
        let mut y = vec![0f32; t * h];
        let mut qkv = vec![0f32; t * width];
        let mut ctx = vec![0f32; t * nq * dh];
        let mut gu = vec![0f32; t * 2 * inter];
        let mut act = vec![0f32; t * inter];
        let norm_rows = |x: &[f32], w: &[f32], y: &mut [f32]| {
            let f = |(xr, yr): (&[f32], &mut [f32])| rms_norm(xr, w, eps, yr);
            if threads > 1 {
                x.par_chunks(h).zip(y.par_chunks_mut(h)).for_each(f);
            } else {
                x.chunks(h).zip(y.chunks_mut(h)).for_each(f);
            }
        };
        for l in &self.w.layers {
            norm_rows(&x, &l.ln1, &mut y);
            match &l.qkv_b {
                Some(b) => qkv
                    .chunks_exact_mut(width)
                    .for_each(|r| r.copy_from_slice(b)),
                None => qkv.fill(0.0),
            }
            linear(&mut qkv, &y, &l.qkv_w, t, width, h, true, par);
            // q/k norm and rotary embedding of every query and key head.
            let prep = |(row, &p): (&mut [f32], &usize)| {
                let (c, s) = (
                    &cos[p * half..(p + 1) * half],
                    &sin[p * half..(p + 1) * half],
                );
                for (k, head) in row[..(nq + nkv) * dh].chunks_exact_mut(dh).enumerate() {
                    let w = if k < nq { &l.q_norm } else { &l.k_norm };
                    norm_rotate(head, w, eps, c, s);
                }
            };
            if threads > 1 {
                qkv.par_chunks_mut(width).zip(pos.par_iter()).for_each(prep);
            } else {
                qkv.chunks_mut(width).zip(pos.iter()).for_each(prep);
            }
            self.attention(&qkv, &mut ctx, &starts, threads);
            if let Some(b) = &l.o_b {
                for r in x.chunks_exact_mut(h) {
                    r.iter_mut().zip(b).for_each(|(a, b)| *a += b);
                }
            }
            linear(&mut x, &ctx, &l.o_w, t, h, nq * dh, true, par);
            norm_rows(&x, &l.ln2, &mut y);
            linear(&mut gu, &y, &l.gate_up_w, t, 2 * inter, h, false, par);
            for (g, a) in gu.chunks_exact(2 * inter).zip(act.chunks_exact_mut(inter)) {
                let (gate, up) = g.split_at(inter);
                for ((o, &gv), &uv) in a.iter_mut().zip(gate).zip(up) {
                    *o = gv / (1.0 + (-gv).exp()) * uv;
                }
            }
            linear(&mut x, &act, &l.down_w, t, h, inter, true, par);
        }
        norm_rows(&x, &self.w.norm, &mut y);
        (y, starts)
    }

    /// Causal attention of every (sequence, query head): softmax(Q K^T / sqrt(d)) V over the
    /// keys at or before each query, each query head reading its group's key/value head.
    fn attention(&self, qkv: &[f32], ctx: &mut [f32], starts: &[usize], threads: usize) {
        let c = &self.cfg;
        let d = decoder(c);
        let (dh, nq, nkv) = (d.head_dim, c.num_attention_heads, d.num_key_value_heads);
        let width = (nq + 2 * nkv) * dh;
        let group = nq / nkv;
        let scale = 1.0 / (dh as f32).sqrt();
        let n = starts.len() - 1;
        let qd = nq * dh;
        assert!(ctx.len() >= starts[n] * qd && qkv.len() >= starts[n] * width);
        let out = SharedMut::new(ctx);
        let task = |scores: &mut Vec<f32>, (i, head): (usize, usize)| {
            let (s0, len) = (starts[i], starts[i + 1] - starts[i]);
            scores.resize(len * len, 0.0);
            let kv = head / group;
            let rs = width as isize;
            // SAFETY: reads stay inside qkv rows s0..s0+len (length asserted above); the write
            // goes to ctx rows s0..s0+len, columns head*dh..(head+1)*dh, which no other task
            // touches.
            unsafe {
                let q = qkv.as_ptr().add(s0 * width + head * dh);
                let k = qkv.as_ptr().add(s0 * width + (nq + kv) * dh);
                let v = qkv.as_ptr().add(s0 * width + (nq + nkv + kv) * dh);
                attention_scores(scores.as_mut_ptr(), q, k, len, dh, rs, false, scale);
                for (r, row) in scores[..len * len].chunks_exact_mut(len).enumerate() {
                    kernels::softmax_rows(&mut row[..=r], r + 1);
                    row[r + 1..].fill(0.0);
                }
                let o = out.ptr().add(s0 * qd + head * dh);
                attention_values(o, qd as isize, scores.as_ptr(), v, len, dh, rs);
            }
        };
        for_each_head(n, nq, threads, task);
    }
}

/// The padded-batch forward on candle tensors (any device).
pub(crate) struct Qwen3Candle {
    cfg: BertConfig,
    w: Weights<Tensor>,
    device: Device,
    /// The tokenizer pads on the left (tokenizer_config.json `padding_side`).
    pad_left: bool,
}

fn linear_t(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> candle_core::Result<Tensor> {
    let y = x.matmul(&w.t()?)?;
    match b {
        Some(b) => y.broadcast_add(b),
        None => Ok(y),
    }
}

impl Qwen3Candle {
    pub fn new(
        cfg: BertConfig,
        w: Weights<Tensor>,
        device: Device,
        pad_left: bool,
    ) -> Result<Qwen3Candle> {
        let w = w.try_map(|t| Ok(t.to_device(&device)?))?;
        Ok(Qwen3Candle {
            cfg,
            w,
            device,
            pad_left,
        })
    }

    /// Same contract as [`Qwen3Fused::forward`].
    pub fn forward(&self, seqs: &[Vec<u32>]) -> Result<(Vec<f32>, Vec<usize>)> {
        let c = &self.cfg;
        let d = decoder(c);
        let (b, h, dh, inter) = (seqs.len(), c.hidden_size, d.head_dim, c.intermediate_size);
        let (nq, nkv) = (c.num_attention_heads, d.num_key_value_heads);
        let l = seqs.iter().map(Vec::len).max().unwrap_or(0);
        if b == 0 || l == 0 {
            return Ok((Vec::new(), vec![0; b + 1]));
        }
        let eps = c.layer_norm_eps as f32;
        // Column where each sequence's first real token sits.
        let first: Vec<usize> = seqs
            .iter()
            .map(|s| if self.pad_left { l - s.len() } else { 0 })
            .collect();
        let mut ids = vec![0u32; b * l];
        let mut real = vec![false; b * l];
        for (i, s) in seqs.iter().enumerate() {
            for (p, &id) in s.iter().enumerate() {
                ids[i * l + first[i] + p] = id.min(c.vocab_size as u32 - 1);
                real[i * l + first[i] + p] = true;
            }
        }
        // One additive mask for causality and padding: a key is seen by a query at or after
        // it when it is a real token.
        let mut mask = vec![f32::MIN; b * l * l];
        for i in 0..b {
            for q in 0..l {
                for k in 0..=q {
                    if real[i * l + k] {
                        mask[(i * l + q) * l + k] = 0.0;
                    }
                }
            }
        }
        let dev = &self.device;
        let mask = Tensor::from_vec(mask, (b, 1, l, l), dev)?;
        let (cos, sin) = rope_tables(l, dh, d.rope_theta);
        let cos = Tensor::from_vec(cos, (l, dh / 2), dev)?;
        let sin = Tensor::from_vec(sin, (l, dh / 2), dev)?;
        let ids = Tensor::from_vec(ids, b * l, dev)?;
        let mut x = self.w.embed.index_select(&ids, 0)?; // (b*l, h)
        let scale = 1.0 / (dh as f64).sqrt();
        let group = nq / nkv;
        let heads = |t: Tensor, n: usize, norm: &Tensor| -> candle_core::Result<Tensor> {
            let t = t.reshape((b, l, n, dh))?;
            let t = candle_nn::ops::rms_norm(&t.contiguous()?, norm, eps)?;
            candle_nn::rotary_emb::rope(&t.transpose(1, 2)?.contiguous()?, &cos, &sin)
        };
        let repeat = |t: Tensor| -> candle_core::Result<Tensor> {
            if group == 1 {
                return Ok(t);
            }
            t.unsqueeze(2)?
                .expand((b, nkv, group, l, dh))?
                .reshape((b, nq, l, dh))
        };
        for w in &self.w.layers {
            let y = candle_nn::ops::rms_norm(&x, &w.ln1, eps)?;
            let qkv = linear_t(&y, &w.qkv_w, w.qkv_b.as_ref())?;
            let q = heads(qkv.narrow(1, 0, nq * dh)?, nq, &w.q_norm)?;
            let k = repeat(heads(qkv.narrow(1, nq * dh, nkv * dh)?, nkv, &w.k_norm)?)?;
            let v = qkv
                .narrow(1, (nq + nkv) * dh, nkv * dh)?
                .reshape((b, l, nkv, dh))?
                .transpose(1, 2)?
                .contiguous()?;
            let v = repeat(v)?.contiguous()?;
            let k = k.contiguous()?;
            let scores = (q.matmul(&k.t()?)? * scale)?.broadcast_add(&mask)?;
            let probs = candle_nn::ops::softmax_last_dim(&scores)?;
            let ctx = probs
                .matmul(&v)?
                .transpose(1, 2)?
                .reshape((b * l, nq * dh))?;
            x = (x + linear_t(&ctx, &w.o_w, w.o_b.as_ref())?)?;
            let y = candle_nn::ops::rms_norm(&x, &w.ln2, eps)?;
            let gu = linear_t(&y, &w.gate_up_w, None)?;
            let act = (candle_nn::ops::silu(&gu.narrow(D::Minus1, 0, inter)?)?
                * gu.narrow(D::Minus1, inter, inter)?)?;
            x = (x + linear_t(&act, &w.down_w, None)?)?;
        }
        let x = candle_nn::ops::rms_norm(&x, &self.w.norm, eps)?;
        let all: Vec<f32> = x
            .to_dtype(DType::F32)?
            .to_device(&Device::Cpu)?
            .flatten_all()?
            .to_vec1()?;
        Ok(crate::candle_bert::pack(&all, seqs, l, h, |i| first[i]))
    }
}

/// Whether the folder's tokenizer pads on the left (tokenizer_config.json `padding_side`).
pub(crate) fn pads_left(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("tokenizer_config.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("padding_side")?.as_str().map(|s| s == "left"))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_the_norm_and_turns_pairs_half_a_head_apart() {
        let (cos, sin) = rope_tables(3, 4, 10_000.0);
        // Position 1, frequency 1 (theta^0): angle 1 rad on the pair (x[0], x[2]).
        let mut x = [1.0f32, 0.0, 0.0, 0.0];
        let ones = [1.0f32; 4];
        // Undo the RMSNorm scale (rms of x is 0.5) to look at the rotation alone.
        norm_rotate(&mut x, &ones, 0.0, &cos[2..4], &sin[2..4]);
        let r = 2.0f32;
        assert!((x[0] - r * 1f32.cos()).abs() < 1e-6, "{x:?}");
        assert!((x[2] - r * 1f32.sin()).abs() < 1e-6, "{x:?}");
        assert_eq!((x[1], x[3]), (0.0, 0.0));
    }
}
