//! The BERT encoder's forward pass with saved activations and its hand-written backward pass,
//! over packed sequences (no padding). Dense layers are one gemm each over all tokens;
//! LayerNorm, GELU, dropout and the residual adds are fused row kernels. This file holds the
//! embeddings and pooling; [`super::layer`] one encoder layer.

use trawl_kernels::rows::apply_mask;

use super::attention::{RelativeBias, Shape};
use super::layer::LayerSaved;
use super::rows::{par_layer_norm, par_layer_norm_backward};
use super::weights::{BertWeights, Grads};
use crate::config::BertConfig;
use crate::dropout::DropoutRng;
use crate::modules::Pooling;

/// Token ids of several sequences laid end to end; sequence `i` is
/// `ids[starts[i]..starts[i + 1]]`.
pub struct PackedBatch {
    pub ids: Vec<u32>,
    pub type_ids: Vec<u32>,
    pub starts: Vec<usize>,
}

impl PackedBatch {
    pub fn tokens(&self) -> usize {
        self.ids.len()
    }
}

/// The forward pass's record, consumed by [`PackedBert::backward`].
pub(crate) struct Saved {
    emb_mask: Vec<u8>,
    emb_xhat: Vec<f32>,
    emb_rstd: Vec<f32>,
    layers: Vec<LayerSaved>,
}

/// Dropout probabilities and the matching inverted-dropout scale.
#[derive(Clone, Copy)]
pub(super) struct Dropout {
    p: f64,
    pub(super) scale: f32,
}

impl Dropout {
    pub(super) fn new(p: f64, on: bool) -> Self {
        let p = if on { p } else { 0.0 };
        Self {
            p,
            scale: if p > 0.0 {
                (1.0 / (1.0 - p)) as f32
            } else {
                1.0
            },
        }
    }

    pub(super) fn mask(&self, rng: &mut Option<&mut DropoutRng>, n: usize) -> Vec<u8> {
        match rng {
            Some(r) if self.p > 0.0 => r.keep_mask(n, self.p),
            _ => Vec::new(),
        }
    }
}

pub(crate) struct PackedBert<'a> {
    pub(super) cfg: &'a BertConfig,
    pub(super) w: BertWeights<'a>,
    pub(super) threads: usize,
    /// MPNet: the bucket of every relative distance a sequence can have.
    buckets: Vec<usize>,
}

impl<'a> PackedBert<'a> {
    pub fn new(cfg: &'a BertConfig, w: BertWeights<'a>) -> Self {
        let buckets = if w.relative_bias.is_some() {
            trawl_embed::relative_buckets_up_to(cfg.max_position_embeddings)
        } else {
            Vec::new()
        };
        Self {
            cfg,
            w,
            threads: rayon::current_num_threads(),
            buckets,
        }
    }

    pub(super) fn shape<'b>(&'b self, batch: &'b PackedBatch) -> Shape<'b> {
        Shape {
            starts: &batch.starts,
            heads: self.cfg.num_attention_heads,
            hidden: self.cfg.hidden_size,
            bias: self.w.relative_bias.map(|table| RelativeBias {
                table,
                buckets: &self.buckets,
            }),
        }
    }

    /// Pooled sentence vectors (`sequences x hidden`, row-major) and the record for backward.
    /// Dropout is active when `rng` is given.
    pub fn forward(
        &self,
        batch: &PackedBatch,
        pooling: Pooling,
        mut rng: Option<&mut DropoutRng>,
    ) -> (Vec<f32>, Saved) {
        let c = self.cfg;
        let (h, t) = (c.hidden_size, batch.tokens());
        let eps = c.layer_norm_eps as f32;
        let hidden_drop = Dropout::new(c.hidden_dropout_prob, rng.is_some());
        let attn_drop = Dropout::new(c.attention_probs_dropout_prob, rng.is_some());

        let mut x = vec![0f32; t * h];
        let offset = c.position_offset;
        for w in batch.starts.windows(2) {
            for (p, tok) in (w[0]..w[1]).enumerate() {
                let row = &mut x[tok * h..(tok + 1) * h];
                let wi = (batch.ids[tok] as usize).min(c.vocab_size - 1);
                let (we, pe) = (
                    &self.w.word[wi * h..(wi + 1) * h],
                    &self.w.position[(p + offset) * h..(p + offset + 1) * h],
                );
                for j in 0..h {
                    row[j] = we[j] + pe[j];
                }
                if let Some(types) = self.w.token_type {
                    let ti = (batch.type_ids[tok] as usize).min(c.type_vocab_size - 1);
                    let te = &types[ti * h..(ti + 1) * h];
                    row.iter_mut().zip(te).for_each(|(a, b)| *a += b);
                }
            }
        }
        let (mut emb_xhat, mut emb_rstd) = (vec![0f32; t * h], vec![0f32; t]);
        par_layer_norm(
            &mut x,
            &[],
            1.0,
            &[],
            self.w.emb_ln_g,
            self.w.emb_ln_b,
            eps,
            &mut emb_xhat,
            &mut emb_rstd,
        );
        let emb_mask = hidden_drop.mask(&mut rng, t * h);
        if !emb_mask.is_empty() {
            let src = x.clone();
            apply_mask(&src, &emb_mask, hidden_drop.scale, &mut x);
        }
        let mut layers = Vec::with_capacity(c.num_hidden_layers);
        for lw in &self.w.layers {
            let (out, saved) = self.layer_forward(batch, lw, x, &mut rng, hidden_drop, attn_drop);
            layers.push(saved);
            x = out;
        }
        let pooled = pool(&x, &batch.starts, h, pooling);
        (
            pooled,
            Saved {
                emb_mask,
                emb_xhat,
                emb_rstd,
                layers,
            },
        )
    }

    /// Gradients of every encoder parameter given the gradient of the pooled vectors.
    pub fn backward(
        &self,
        batch: &PackedBatch,
        saved: Saved,
        dpooled: &[f32],
        pooling: Pooling,
    ) -> Grads {
        let c = self.cfg;
        let (h, t) = (c.hidden_size, batch.tokens());
        let hidden_drop = Dropout::new(c.hidden_dropout_prob, true);
        let mut grads = Grads::default();
        let mut dx = unpool(dpooled, &batch.starts, h, pooling);
        let mut drel = vec![0f32; self.w.relative_bias.map_or(0, <[f32]>::len)];
        for (i, (lw, ls)) in self.w.layers.iter().zip(saved.layers).enumerate().rev() {
            dx = self.layer_backward(
                batch,
                lw,
                ls,
                dx,
                hidden_drop.scale,
                &crate::bert::layer_prefix(c, i),
                &mut grads,
                &mut drel,
            );
        }
        if !drel.is_empty() {
            let shape = [c.relative_attention_num_buckets, c.num_attention_heads];
            grads.push(trawl_embed::RELATIVE_BIAS, drel, &shape);
        }
        // Embeddings: dropout after the LayerNorm, then the LayerNorm, then the three lookups.
        if !saved.emb_mask.is_empty() {
            let src = dx.clone();
            apply_mask(&src, &saved.emb_mask, hidden_drop.scale, &mut dx);
        }
        let mut de = vec![0f32; t * h];
        let (dg, db) = par_layer_norm_backward(
            &dx,
            &saved.emb_xhat,
            &saved.emb_rstd,
            self.w.emb_ln_g,
            &mut de,
            &[],
            1.0,
            &mut [],
        );
        let mut dword = vec![0f32; c.vocab_size * h];
        let mut dpos = vec![0f32; c.max_position_embeddings * h];
        let mut dtype = vec![0f32; c.type_vocab_size * h];
        let has_types = self.w.token_type.is_some();
        for w in batch.starts.windows(2) {
            for (p, tok) in (w[0]..w[1]).enumerate() {
                let g = &de[tok * h..(tok + 1) * h];
                let wi = (batch.ids[tok] as usize).min(c.vocab_size - 1);
                let pi = p + c.position_offset;
                let mut rows = vec![(&mut dword, wi), (&mut dpos, pi)];
                if has_types {
                    let ti = (batch.type_ids[tok] as usize).min(c.type_vocab_size - 1);
                    rows.push((&mut dtype, ti));
                }
                for (dst, off) in rows {
                    dst[off * h..(off + 1) * h]
                        .iter_mut()
                        .zip(g)
                        .for_each(|(a, b)| *a += b);
                }
            }
        }
        grads.push(
            "embeddings.word_embeddings.weight",
            dword,
            &[c.vocab_size, h],
        );
        grads.push(
            "embeddings.position_embeddings.weight",
            dpos,
            &[c.max_position_embeddings, h],
        );
        if has_types {
            grads.push(
                "embeddings.token_type_embeddings.weight",
                dtype,
                &[c.type_vocab_size, h],
            );
        }
        grads.push("embeddings.LayerNorm.weight", dg, &[h]);
        grads.push("embeddings.LayerNorm.bias", db, &[h]);
        grads
    }
}

/// Mean (over each sequence's tokens) or first-token pooling of packed rows.
fn pool(x: &[f32], starts: &[usize], h: usize, pooling: Pooling) -> Vec<f32> {
    let mut out = vec![0f32; (starts.len() - 1) * h];
    for (o, w) in out.chunks_exact_mut(h).zip(starts.windows(2)) {
        match pooling {
            Pooling::Cls => o.copy_from_slice(&x[w[0] * h..(w[0] + 1) * h]),
            Pooling::Mean => {
                for row in x[w[0] * h..w[1] * h].chunks_exact(h) {
                    o.iter_mut().zip(row).for_each(|(a, b)| *a += b);
                }
                let inv = 1.0 / (w[1] - w[0]).max(1) as f32;
                o.iter_mut().for_each(|a| *a *= inv);
            }
        }
    }
    out
}

/// The gradient of [`pool`]: each token row's share of its sequence's pooled gradient.
fn unpool(d: &[f32], starts: &[usize], h: usize, pooling: Pooling) -> Vec<f32> {
    let mut out = vec![0f32; starts.last().copied().unwrap_or(0) * h];
    for (g, w) in d.chunks_exact(h).zip(starts.windows(2)) {
        match pooling {
            Pooling::Cls => out[w[0] * h..(w[0] + 1) * h].copy_from_slice(g),
            Pooling::Mean => {
                let inv = 1.0 / (w[1] - w[0]).max(1) as f32;
                for row in out[w[0] * h..w[1] * h].chunks_exact_mut(h) {
                    row.iter_mut().zip(g).for_each(|(a, b)| *a = b * inv);
                }
            }
        }
    }
    out
}
