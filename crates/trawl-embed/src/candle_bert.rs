//! BERT forward on candle tensors (padded batch + attention mask). Runs on any candle device,
//! so it is the GPU path; on CPU it is a reference for the fused path.

use candle_core::{DType, Device, Tensor};
use candle_nn::ops::{layer_norm, softmax_last_dim};

use crate::config::BertConfig;
use crate::weights::Weights;
use crate::Result;

pub(crate) struct CandleBert {
    cfg: BertConfig,
    w: Weights<Tensor>,
    device: Device,
}

fn linear(x: &Tensor, w: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
    x.matmul(&w.t()?)?.broadcast_add(b)
}

impl CandleBert {
    pub fn new(cfg: BertConfig, w: Weights<Tensor>, device: Device) -> Result<CandleBert> {
        let w = w.try_map(|t| Ok(t.to_device(&device)?))?;
        Ok(CandleBert { cfg, w, device })
    }

    /// Same contract as `FusedBert::forward`: packed last hidden states and sequence starts.
    pub fn forward(&self, seqs: &[Vec<u32>]) -> Result<(Vec<f32>, Vec<usize>)> {
        let c = &self.cfg;
        let (b, h, heads) = (seqs.len(), c.hidden_size, c.num_attention_heads);
        let dh = h / heads;
        let l = seqs.iter().map(Vec::len).max().unwrap_or(0);
        let mut ids = vec![0u32; b * l];
        let mut mask = vec![f32::MIN; b * l];
        for (i, s) in seqs.iter().enumerate() {
            for (p, &id) in s.iter().enumerate() {
                ids[i * l + p] = id.min(c.vocab_size as u32 - 1);
                mask[i * l + p] = 0.0;
            }
        }
        let dev = &self.device;
        let ids = Tensor::from_vec(ids, b * l, dev)?;
        let mask = Tensor::from_vec(mask, (b, 1, 1, l), dev)?;
        let off = c.position_offset as u32;
        let pos = Tensor::arange(off, off + l as u32, dev)?;
        let eps = c.layer_norm_eps as f32;

        let word = self.w.word.index_select(&ids, 0)?.reshape((b, l, h))?;
        let position = self.w.position.index_select(&pos, 0)?.unsqueeze(0)?;
        let token_type = self.w.token_type.narrow(0, 0, 1)?.unsqueeze(0)?;
        let x = word.broadcast_add(&position)?.broadcast_add(&token_type)?;
        let mut x = layer_norm(
            &x.reshape((b * l, h))?,
            &self.w.emb_ln_g,
            &self.w.emb_ln_b,
            eps,
        )?;
        let scale = 1.0 / (dh as f64).sqrt();
        // MPNet: one (1, heads, l, l) relative bias added to every layer's scores.
        let mask = match &self.w.relative_bias {
            Some(table) => {
                let idx = crate::relative::relative_bucket_matrix(l);
                let idx = Tensor::from_vec(idx, l * l, dev)?;
                let bias = table
                    .index_select(&idx, 0)?
                    .reshape((l, l, heads))?
                    .permute((2, 0, 1))?
                    .unsqueeze(0)?;
                mask.broadcast_add(&bias)?
            }
            None => mask,
        };
        for w in &self.w.layers {
            let qkv = linear(&x, &w.qkv_w, &w.qkv_b)?
                .reshape((b, l, 3 * heads, dh))?
                .transpose(1, 2)?;
            let q = qkv.narrow(1, 0, heads)?.contiguous()?;
            let k = qkv.narrow(1, heads, heads)?.contiguous()?;
            let v = qkv.narrow(1, 2 * heads, heads)?.contiguous()?;
            let scores = (q.matmul(&k.t()?)? * scale)?.broadcast_add(&mask)?;
            let probs = softmax_last_dim(&scores)?;
            let ctx = probs.matmul(&v)?.transpose(1, 2)?.reshape((b * l, h))?;
            let attn = linear(&ctx, &w.attn_out_w, &w.attn_out_b)?;
            x = layer_norm(&(attn + &x)?, &w.ln1_g, &w.ln1_b, eps)?;
            let mid = linear(&x, &w.inter_w, &w.inter_b)?.gelu_erf()?;
            let out = linear(&mid, &w.out_w, &w.out_b)?;
            x = layer_norm(&(out + &x)?, &w.ln2_g, &w.ln2_b, eps)?;
        }
        let all: Vec<f32> = x
            .to_dtype(DType::F32)?
            .to_device(&Device::Cpu)?
            .flatten_all()?
            .to_vec1()?;
        Ok(pack(&all, seqs, l, h, |_| 0))
    }
}

/// The real tokens' rows of a padded `(batch, l, h)` output, packed as the fused forwards give
/// them, with each sequence's start row; sequence `i`'s first token is in column `first(i)`.
pub(crate) fn pack(
    all: &[f32],
    seqs: &[Vec<u32>],
    l: usize,
    h: usize,
    first: impl Fn(usize) -> usize,
) -> (Vec<f32>, Vec<usize>) {
    let mut packed = Vec::with_capacity(seqs.iter().map(Vec::len).sum::<usize>() * h);
    let mut starts = Vec::with_capacity(seqs.len() + 1);
    for (i, s) in seqs.iter().enumerate() {
        starts.push(packed.len() / h);
        let row0 = i * l + first(i);
        packed.extend_from_slice(&all[row0 * h..(row0 + s.len()) * h]);
    }
    starts.push(packed.len() / h);
    (packed, starts)
}
