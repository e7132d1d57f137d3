//! One encoder layer over packed rows: self-attention, output projection, dropout + residual +
//! LayerNorm, feed-forward with GELU, dropout + residual + LayerNorm; forward with saved
//! activations and the backward pass.

use rayon::prelude::*;
use trawl_kernels::backward::gelu_backward;
use trawl_kernels::rows::bias_gelu;

use super::attention;
use super::encoder::{Dropout, PackedBatch, PackedBert};
use super::linear::{self, column_sums, fill_rows, ROW_BLOCK};
use super::rows::{par_layer_norm, par_layer_norm_backward};
use super::weights::{Grads, LayerWeights};
use crate::dropout::DropoutRng;

/// What one layer's backward pass needs from its forward pass.
pub(super) struct LayerSaved {
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

impl PackedBert<'_> {
    pub(super) fn layer_forward(
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

    #[allow(clippy::too_many_arguments)]
    pub(super) fn layer_backward(
        &self,
        batch: &PackedBatch,
        lw: &LayerWeights,
        s: LayerSaved,
        dout: Vec<f32>,
        scale: f32,
        prefix: &str,
        grads: &mut Grads,
        drel: &mut [f32],
    ) -> Vec<f32> {
        let c = self.cfg;
        let (h, inter, t) = (c.hidden_size, c.intermediate_size, batch.tokens());
        let th = self.threads;
        let shape = self.shape(batch);
        let [q, k, v, o, ln1, up, down, ln2] = crate::bert::layer_parts(c);
        let mut push = |part: &str, p: &str, g: Vec<f32>, shape: &[usize]| {
            grads.push(format!("{prefix}{part}.{p}"), g, shape)
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
        push(down, "weight", dw, &[h, inter]);
        push(down, "bias", dbias, &[h]);
        push(ln2, "weight", dg2, &[h]);
        push(ln2, "bias", db2, &[h]);
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
        push(up, "weight", dw, &[inter, h]);
        push(up, "bias", dbias, &[inter]);
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
        push(o, "weight", dw, &[h, h]);
        push(o, "bias", dbias, &[h]);
        push(ln1, "weight", dg1, &[h]);
        push(ln1, "bias", db1, &[h]);
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
            drel,
        );
        drop(dctx);
        let mut dw = vec![0f32; 3 * h * h];
        linear::grad_weight(&mut dw, &dqkv, &s.input, (t, 3 * h, h), th);
        let dbias = column_sums(&dqkv, 3 * h);
        linear::grad_input(&mut dinput, &dqkv, &lw.qkv_w, (t, 3 * h, h), true, th);
        for (i, part) in [q, k, v].into_iter().enumerate() {
            push(
                part,
                "weight",
                dw[i * h * h..(i + 1) * h * h].to_vec(),
                &[h, h],
            );
            push(part, "bias", dbias[i * h..(i + 1) * h].to_vec(), &[h]);
        }
        dinput
    }
}
