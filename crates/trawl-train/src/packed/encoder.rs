//! The BERT encoder's forward pass with saved activations and its hand-written backward pass,
//! over packed sequences (no padding). Dense layers are one gemm each over all tokens;
//! LayerNorm, GELU, dropout and the residual adds are fused row kernels.

use rayon::prelude::*;
use trawl_kernels::backward::{gelu_backward, layer_norm_backward};
use trawl_kernels::rows::{apply_mask, bias_gelu, dropout_residual_layer_norm};

use super::attention::{self, Shape};
use super::linear::{self, block, column_sums, fill_rows, ROW_BLOCK};
use super::weights::{layer_prefix, BertWeights, Grads, LayerWeights};
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

    pub fn sequences(&self) -> usize {
        self.starts.len() - 1
    }
}

/// What one layer's backward pass needs from its forward pass.
struct LayerSaved {
    input: Vec<f32>,
    qkv: Vec<f32>,
    probs: Vec<f32>,
    probs_mask: Vec<u8>,
    ctx: Vec<f32>,
    mask1: Vec<u8>,
    xhat1: Vec<f32>,
    rstd1: Vec<f32>,
    h1: Vec<f32>,
    pre: Vec<f32>,
    act: Vec<f32>,
    mask2: Vec<u8>,
    xhat2: Vec<f32>,
    rstd2: Vec<f32>,
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
struct Dropout {
    p: f64,
    scale: f32,
}

impl Dropout {
    fn new(p: f64, on: bool) -> Self {
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

    fn mask(&self, rng: &mut Option<&mut DropoutRng>, n: usize) -> Vec<u8> {
        match rng {
            Some(r) if self.p > 0.0 => r.keep_mask(n, self.p),
            _ => Vec::new(),
        }
    }
}

pub(crate) struct PackedBert<'a> {
    cfg: &'a BertConfig,
    w: BertWeights<'a>,
    threads: usize,
}

/// `dropout_residual_layer_norm` over row blocks in parallel.
#[allow(clippy::too_many_arguments)]
fn par_layer_norm(
    x: &mut [f32],
    mask: &[u8],
    scale: f32,
    residual: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    xhat: &mut [f32],
    rstd: &mut [f32],
) {
    let h = gamma.len();
    let n = ROW_BLOCK * h;
    x.par_chunks_mut(n)
        .zip(xhat.par_chunks_mut(n))
        .zip(rstd.par_chunks_mut(ROW_BLOCK))
        .enumerate()
        .for_each(|(i, ((xs, xh), rs))| {
            dropout_residual_layer_norm(
                xs,
                block(mask, i, n),
                scale,
                block(residual, i, n),
                gamma,
                beta,
                eps,
                xh,
                rs,
            )
        });
}

/// `layer_norm_backward` over row blocks in parallel; returns (dgamma, dbeta).
#[allow(clippy::too_many_arguments)]
fn par_layer_norm_backward(
    dy: &[f32],
    xhat: &[f32],
    rstd: &[f32],
    gamma: &[f32],
    dx: &mut [f32],
    mask: &[u8],
    scale: f32,
    dmasked: &mut [f32],
) -> (Vec<f32>, Vec<f32>) {
    let h = gamma.len();
    let n = ROW_BLOCK * h;
    let zero = || (vec![0f32; h], vec![0f32; h]);
    let dm: Vec<&mut [f32]> = if dmasked.is_empty() {
        (0..dx.len().div_ceil(n))
            .map(|_| Default::default())
            .collect()
    } else {
        dmasked.chunks_mut(n).collect()
    };
    dx.par_chunks_mut(n)
        .zip(dm.into_par_iter())
        .enumerate()
        .fold(zero, |(mut dg, mut db), (i, (dxs, dm))| {
            layer_norm_backward(
                &dy[i * n..i * n + dxs.len()],
                &xhat[i * n..i * n + dxs.len()],
                block(rstd, i, ROW_BLOCK),
                gamma,
                dxs,
                block(mask, i, n),
                scale,
                dm,
                &mut dg,
                &mut db,
            );
            (dg, db)
        })
        .reduce(zero, |(mut g1, mut b1), (g2, b2)| {
            g1.iter_mut().zip(&g2).for_each(|(a, b)| *a += b);
            b1.iter_mut().zip(&b2).for_each(|(a, b)| *a += b);
            (g1, b1)
        })
}

impl<'a> PackedBert<'a> {
    pub fn new(cfg: &'a BertConfig, w: BertWeights<'a>) -> Self {
        Self {
            cfg,
            w,
            threads: rayon::current_num_threads(),
        }
    }

    fn shape<'b>(&self, batch: &'b PackedBatch) -> Shape<'b> {
        Shape {
            starts: &batch.starts,
            heads: self.cfg.num_attention_heads,
            hidden: self.cfg.hidden_size,
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
        for w in batch.starts.windows(2) {
            for (p, tok) in (w[0]..w[1]).enumerate() {
                let row = &mut x[tok * h..(tok + 1) * h];
                let wi = (batch.ids[tok] as usize).min(c.vocab_size - 1);
                let ti = (batch.type_ids[tok] as usize).min(c.type_vocab_size - 1);
                let (we, pe, te) = (
                    &self.w.word[wi * h..(wi + 1) * h],
                    &self.w.position[p * h..(p + 1) * h],
                    &self.w.token_type[ti * h..(ti + 1) * h],
                );
                for j in 0..h {
                    row[j] = we[j] + pe[j] + te[j];
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

    fn layer_forward(
        &self,
        batch: &PackedBatch,
        lw: &LayerWeights,
        input: Vec<f32>,
        rng: &mut Option<&mut DropoutRng>,
        hidden_drop: Dropout,
        attn_drop: Dropout,
    ) -> (Vec<f32>, LayerSaved) {
        let c = self.cfg;
        let (h, inter, t) = (c.hidden_size, c.intermediate_size, batch.tokens());
        let eps = c.layer_norm_eps as f32;
        let th = self.threads;
        let shape = self.shape(batch);

        let mut qkv = vec![0f32; t * 3 * h];
        fill_rows(&mut qkv, &lw.qkv_b);
        linear::forward(&mut qkv, &input, &lw.qkv_w, (t, 3 * h, h), true, th);
        let (_, total) = shape.prob_offsets();
        let probs_mask = attn_drop.mask(rng, total);
        let mut probs = vec![0f32; total];
        let mut ctx = vec![0f32; t * h];
        attention::forward(
            shape,
            &qkv,
            &probs_mask,
            attn_drop.scale,
            &mut probs,
            &mut ctx,
        );

        let mut h1 = vec![0f32; t * h];
        fill_rows(&mut h1, lw.attn_out_b);
        linear::forward(&mut h1, &ctx, lw.attn_out_w, (t, h, h), true, th);
        let mask1 = hidden_drop.mask(rng, t * h);
        let (mut xhat1, mut rstd1) = (vec![0f32; t * h], vec![0f32; t]);
        par_layer_norm(
            &mut h1,
            &mask1,
            hidden_drop.scale,
            &input,
            lw.ln1_g,
            lw.ln1_b,
            eps,
            &mut xhat1,
            &mut rstd1,
        );

        let mut pre = vec![0f32; t * inter];
        linear::forward(&mut pre, &h1, lw.inter_w, (t, inter, h), false, th);
        let mut act = vec![0f32; t * inter];
        let n = ROW_BLOCK * inter;
        pre.par_chunks_mut(n)
            .zip(act.par_chunks_mut(n))
            .for_each(|(p, a)| bias_gelu(p, lw.inter_b, a));

        let mut out = vec![0f32; t * h];
        fill_rows(&mut out, lw.out_b);
        linear::forward(&mut out, &act, lw.out_w, (t, h, inter), true, th);
        let mask2 = hidden_drop.mask(rng, t * h);
        let (mut xhat2, mut rstd2) = (vec![0f32; t * h], vec![0f32; t]);
        par_layer_norm(
            &mut out,
            &mask2,
            hidden_drop.scale,
            &h1,
            lw.ln2_g,
            lw.ln2_b,
            eps,
            &mut xhat2,
            &mut rstd2,
        );
        (
            out,
            LayerSaved {
                input,
                qkv,
                probs,
                probs_mask,
                ctx,
                mask1,
                xhat1,
                rstd1,
                h1,
                pre,
                act,
                mask2,
                xhat2,
                rstd2,
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
        for (i, (lw, ls)) in self.w.layers.iter().zip(saved.layers).enumerate().rev() {
            dx = self.layer_backward(
                batch,
                lw,
                ls,
                dx,
                hidden_drop.scale,
                &layer_prefix(i),
                &mut grads,
            );
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
        for w in batch.starts.windows(2) {
            for (p, tok) in (w[0]..w[1]).enumerate() {
                let g = &de[tok * h..(tok + 1) * h];
                let wi = (batch.ids[tok] as usize).min(c.vocab_size - 1);
                let ti = (batch.type_ids[tok] as usize).min(c.type_vocab_size - 1);
                for (dst, off) in [(&mut dword, wi), (&mut dpos, p), (&mut dtype, ti)] {
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
        grads.push(
            "embeddings.token_type_embeddings.weight",
            dtype,
            &[c.type_vocab_size, h],
        );
        grads.push("embeddings.LayerNorm.weight", dg, &[h]);
        grads.push("embeddings.LayerNorm.bias", db, &[h]);
        grads
    }

    #[allow(clippy::too_many_arguments)]
    fn layer_backward(
        &self,
        batch: &PackedBatch,
        lw: &LayerWeights,
        s: LayerSaved,
        dout: Vec<f32>,
        scale: f32,
        prefix: &str,
        grads: &mut Grads,
    ) -> Vec<f32> {
        let c = self.cfg;
        let (h, inter, t) = (c.hidden_size, c.intermediate_size, batch.tokens());
        let th = self.threads;
        let shape = self.shape(batch);
        let mut push = |name: &str, g: Vec<f32>, shape: &[usize]| {
            grads.push(format!("{prefix}{name}"), g, shape)
        };

        // Output LayerNorm (its input was dropout(out) + h1).
        let mut dh1 = vec![0f32; t * h];
        let mut dout_lin = vec![0f32; t * h];
        let (dg2, db2) = par_layer_norm_backward(
            &dout,
            &s.xhat2,
            &s.rstd2,
            lw.ln2_g,
            &mut dh1,
            &s.mask2,
            scale,
            &mut dout_lin,
        );
        drop(dout);
        let mut dw = vec![0f32; h * inter];
        linear::grad_weight(&mut dw, &dout_lin, &s.act, (t, h, inter), th);
        let dbias = column_sums(&dout_lin, h);
        let mut dact = vec![0f32; t * inter];
        linear::grad_input(&mut dact, &dout_lin, lw.out_w, (t, h, inter), false, th);
        push("output.dense.weight", dw, &[h, inter]);
        push("output.dense.bias", dbias, &[h]);
        push("output.LayerNorm.weight", dg2, &[h]);
        push("output.LayerNorm.bias", db2, &[h]);
        drop(dout_lin);

        // GELU and the intermediate projection; dh1 also has the residual path.
        let n = ROW_BLOCK * inter;
        dact.par_chunks_mut(n)
            .zip(s.pre.par_chunks(n))
            .for_each(|(d, p)| gelu_backward(d, p));
        let mut dw = vec![0f32; inter * h];
        linear::grad_weight(&mut dw, &dact, &s.h1, (t, inter, h), th);
        let dbias = column_sums(&dact, inter);
        linear::grad_input(&mut dh1, &dact, lw.inter_w, (t, inter, h), true, th);
        push("intermediate.dense.weight", dw, &[inter, h]);
        push("intermediate.dense.bias", dbias, &[inter]);
        drop(dact);

        // Attention output LayerNorm (input dropout(attn) + layer input).
        let mut dinput = vec![0f32; t * h];
        let mut dattn = vec![0f32; t * h];
        let (dg1, db1) = par_layer_norm_backward(
            &dh1,
            &s.xhat1,
            &s.rstd1,
            lw.ln1_g,
            &mut dinput,
            &s.mask1,
            scale,
            &mut dattn,
        );
        drop(dh1);
        let mut dw = vec![0f32; h * h];
        linear::grad_weight(&mut dw, &dattn, &s.ctx, (t, h, h), th);
        let dbias = column_sums(&dattn, h);
        let mut dctx = vec![0f32; t * h];
        linear::grad_input(&mut dctx, &dattn, lw.attn_out_w, (t, h, h), false, th);
        push("attention.output.dense.weight", dw, &[h, h]);
        push("attention.output.dense.bias", dbias, &[h]);
        push("attention.output.LayerNorm.weight", dg1, &[h]);
        push("attention.output.LayerNorm.bias", db1, &[h]);
        drop(dattn);

        // Attention, then the stacked q/k/v projection.
        let attn_scale = Dropout::new(c.attention_probs_dropout_prob, true).scale;
        let mut dqkv = vec![0f32; t * 3 * h];
        attention::backward(
            shape,
            &s.qkv,
            &s.probs,
            &s.probs_mask,
            attn_scale,
            &dctx,
            &mut dqkv,
        );
        drop(dctx);
        let mut dw = vec![0f32; 3 * h * h];
        linear::grad_weight(&mut dw, &dqkv, &s.input, (t, 3 * h, h), th);
        let dbias = column_sums(&dqkv, 3 * h);
        linear::grad_input(&mut dinput, &dqkv, &lw.qkv_w, (t, 3 * h, h), true, th);
        for (k, part) in ["query", "key", "value"].iter().enumerate() {
            push(
                &format!("attention.self.{part}.weight"),
                dw[k * h * h..(k + 1) * h * h].to_vec(),
                &[h, h],
            );
            push(
                &format!("attention.self.{part}.bias"),
                dbias[k * h..(k + 1) * h].to_vec(),
                &[h],
            );
        }
        dinput
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
