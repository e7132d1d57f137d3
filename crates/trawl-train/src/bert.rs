//! A trainable BERT encoder. Every op has a backward pass in candle: the layer norm is composed of
//! primitive ops while gradients are tracked (candle's fused layer norm has no backward and would
//! silently cut the graph), and dropout is real during training.

use candle_core::{DType, Tensor, D};
use candle_nn::{Linear, VarBuilder};

use crate::config::BertConfig;
use crate::dropout::DropoutRng;
use crate::Result;

/// How a forward pass runs.
pub enum Mode<'a> {
    /// No gradients needed: fused kernels, no dropout.
    Inference,
    /// Gradients tracked; dropout active when a mask source is given (`None` = dropout off,
    /// used by the gradient checks).
    Train(Option<&'a mut DropoutRng>),
}

impl Mode<'_> {
    fn tracks_grad(&self) -> bool {
        matches!(self, Mode::Train(_))
    }

    fn dropout(&mut self, xs: &Tensor, p: f64) -> Result<Tensor> {
        match self {
            Mode::Train(Some(rng)) => rng.apply(xs, p),
            _ => Ok(xs.clone()),
        }
    }
}

/// `xs W^T + b` for `(batch, seq, in)` inputs as one 2-d matmul and a fused bias add (see
/// [`crate::fused::add_bias`]).
fn linear(lin: &Linear, xs: &Tensor) -> Result<Tensor> {
    let (b, t, h) = xs.dims3()?;
    let ys = xs.reshape((b * t, h))?.matmul(&lin.weight().t()?)?;
    let ys = match lin.bias() {
        Some(bias) => crate::fused::add_bias(&ys, bias)?,
        None => ys,
    };
    Ok(ys.reshape((b, t, ()))?)
}

/// Layer norm over the last dimension, `eps` inside the square root as in PyTorch.
#[derive(Debug, Clone)]
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    pub fn load(size: usize, eps: f64, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            weight: vb.get(size, "weight")?,
            bias: vb.get(size, "bias")?,
            eps,
        })
    }

    pub fn forward(&self, xs: &Tensor, mode: &Mode) -> Result<Tensor> {
        if !mode.tracks_grad() && xs.dtype() == DType::F32 {
            let xs = xs.contiguous()?;
            return Ok(candle_nn::ops::layer_norm(
                &xs,
                &self.weight,
                &self.bias,
                self.eps as f32,
            )?);
        }
        if let Some(ys) = crate::fused::layer_norm(xs, &self.weight, &self.bias, self.eps)? {
            return Ok(ys);
        }
        let mean = xs.mean_keepdim(D::Minus1)?;
        let centred = xs.broadcast_sub(&mean)?;
        let var = centred.sqr()?.mean_keepdim(D::Minus1)?;
        let normed = centred.broadcast_div(&(var + self.eps)?.sqrt()?)?;
        Ok(normed
            .broadcast_mul(&self.weight)?
            .broadcast_add(&self.bias)?)
    }
}

struct Embeddings {
    word: Tensor,
    position: Tensor,
    /// Absent for families without token types (MPNet).
    token_type: Option<Tensor>,
    norm: LayerNorm,
    dropout: f64,
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attn_out: Linear,
    attn_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    out_norm: LayerNorm,
}

/// BERT without the pooler (sentence embeddings pool the token states instead, so the pooler
/// would get no gradient; its tensors are carried over unchanged when the model is saved).
/// MPNet is the same encoder with positions past the padding index, no token types and one
/// relative position bias table added to every layer's attention scores.
pub struct Bert {
    cfg: BertConfig,
    embeddings: Embeddings,
    /// MPNet's `(buckets, heads)` relative attention bias, shared by all layers.
    relative_bias: Option<Tensor>,
    layers: Vec<Layer>,
}

/// One tokenized, padded batch.
pub struct BertInput {
    /// Token ids, `(batch, seq)` u32.
    pub input_ids: Tensor,
    /// Segment ids, `(batch, seq)` u32.
    pub token_type_ids: Tensor,
    /// 1 for real tokens and 0 for padding, `(batch, seq)` in the model dtype.
    pub attention_mask: Tensor,
}

/// The names of the tensors the encoder uses, relative to the model root (no `bert.`/`mpnet.`
/// prefix), as the family names them in its checkpoints.
pub fn tensor_names(cfg: &BertConfig) -> Vec<String> {
    let mut names: Vec<String> = vec![
        "embeddings.word_embeddings.weight".into(),
        "embeddings.position_embeddings.weight".into(),
    ];
    if cfg.type_vocab_size > 0 {
        names.push("embeddings.token_type_embeddings.weight".into());
    }
    names.push("embeddings.LayerNorm.weight".into());
    names.push("embeddings.LayerNorm.bias".into());
    if cfg.relative_attention_num_buckets > 0 {
        names.push(trawl_embed::RELATIVE_BIAS.into());
    }
    for i in 0..cfg.num_hidden_layers {
        for part in layer_parts(cfg) {
            for p in ["weight", "bias"] {
                names.push(format!("{}{part}.{p}", layer_prefix(cfg, i)));
            }
        }
    }
    names
}

/// The tensor-name prefix of layer `i` (`encoder.layer.{i}.`).
pub fn layer_prefix(cfg: &BertConfig, i: usize) -> String {
    format!("{}.{i}.", trawl_embed::layer_names(cfg.family).layer)
}

/// A layer's linear maps and LayerNorms in forward order: query, key, value, attention output,
/// its LayerNorm, intermediate, output, output LayerNorm.
pub fn layer_parts(cfg: &BertConfig) -> [&'static str; 8] {
    let n = trawl_embed::layer_names(cfg.family);
    [n.q, n.k, n.v, n.attn_out, n.ln1, n.inter, n.out, n.ln2]
}

impl Bert {
    /// Builds the encoder from `vb` (rooted where `embeddings.*` and `encoder.*` live).
    pub fn load(cfg: &BertConfig, vb: VarBuilder) -> Result<Self> {
        let h = cfg.hidden_size;
        let eps = cfg.layer_norm_eps;
        let e = vb.pp("embeddings");
        let embeddings = Embeddings {
            word: e.get((cfg.vocab_size, h), "word_embeddings.weight")?,
            position: e.get(
                (cfg.max_position_embeddings, h),
                "position_embeddings.weight",
            )?,
            token_type: if cfg.type_vocab_size > 0 {
                Some(e.get((cfg.type_vocab_size, h), "token_type_embeddings.weight")?)
            } else {
                None
            },
            norm: LayerNorm::load(h, eps, e.pp("LayerNorm"))?,
            dropout: cfg.hidden_dropout_prob,
        };
        let relative_bias = if cfg.relative_attention_num_buckets > 0 {
            Some(vb.get(
                (cfg.relative_attention_num_buckets, cfg.num_attention_heads),
                trawl_embed::RELATIVE_BIAS,
            )?)
        } else {
            None
        };
        let inter = cfg.intermediate_size;
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for i in 0..cfg.num_hidden_layers {
            let l = vb.pp(layer_prefix(cfg, i).trim_end_matches('.'));
            let [q, k, v, o, ln1, up, down, ln2] = layer_parts(cfg);
            layers.push(Layer {
                query: candle_nn::linear(h, h, l.pp(q))?,
                key: candle_nn::linear(h, h, l.pp(k))?,
                value: candle_nn::linear(h, h, l.pp(v))?,
                attn_out: candle_nn::linear(h, h, l.pp(o))?,
                attn_norm: LayerNorm::load(h, eps, l.pp(ln1))?,
                intermediate: candle_nn::linear(h, inter, l.pp(up))?,
                output: candle_nn::linear(inter, h, l.pp(down))?,
                out_norm: LayerNorm::load(h, eps, l.pp(ln2))?,
            });
        }
        Ok(Self {
            cfg: cfg.clone(),
            embeddings,
            relative_bias,
            layers,
        })
    }

    pub fn config(&self) -> &BertConfig {
        &self.cfg
    }

    /// Token states `(batch, seq, hidden)`.
    pub fn forward(&self, input: &BertInput, mode: &mut Mode) -> Result<Tensor> {
        let (b, t) = input.input_ids.dims2()?;
        let h = self.cfg.hidden_size;
        let emb = &self.embeddings;
        let words = emb
            .word
            .index_select(&input.input_ids.flatten_all()?, 0)?
            .reshape((b, t, h))?;
        let positions = emb
            .position
            .narrow(0, self.cfg.position_offset, t)?
            .unsqueeze(0)?;
        let mut xs = words.broadcast_add(&positions)?;
        if let Some(table) = &emb.token_type {
            let types = table
                .index_select(&input.token_type_ids.flatten_all()?, 0)?
                .reshape((b, t, h))?;
            xs = xs.add(&types)?;
        }
        let xs = emb.norm.forward(&xs, mode)?;
        let mut xs = mode.dropout(&xs, emb.dropout)?;
        // Additive mask: 0 for tokens, a large negative for padding, shape (b, 1, 1, t).
        let mut bias = ((input.attention_mask.ones_like()? - &input.attention_mask)? * -1e9)?
            .reshape((b, 1, 1, t))?;
        // MPNet: the relative position bias, (1, heads, t, t), the same in every layer.
        if let Some(table) = &self.relative_bias {
            let idx = trawl_embed::relative_bucket_matrix(t);
            let idx = Tensor::from_vec(idx, t * t, table.device())?;
            let heads = self.cfg.num_attention_heads;
            let rel = table
                .index_select(&idx, 0)?
                .reshape((t, t, heads))?
                .permute((2, 0, 1))?
                .unsqueeze(0)?;
            bias = bias.broadcast_add(&rel)?;
        }
        for layer in &self.layers {
            xs = self.layer_forward(layer, &xs, &bias, mode)?;
        }
        Ok(xs)
    }

    fn layer_forward(
        &self,
        l: &Layer,
        xs: &Tensor,
        bias: &Tensor,
        mode: &mut Mode,
    ) -> Result<Tensor> {
        let (b, t, h) = xs.dims3()?;
        let heads = self.cfg.num_attention_heads;
        let d = h / heads;
        let split = |x: Tensor| -> Result<Tensor> {
            Ok(x.reshape((b, t, heads, d))?.transpose(1, 2)?.contiguous()?)
        };
        let q = split(linear(&l.query, xs)?)?;
        let k = split(linear(&l.key, xs)?)?;
        let v = split(linear(&l.value, xs)?)?;
        let scores = (q.matmul(&k.t()?.contiguous()?)? * (1.0 / (d as f64).sqrt()))?;
        let scores = scores.broadcast_add(bias)?;
        let probs = if mode.tracks_grad() {
            crate::fused::softmax_last_dim(&scores)?
        } else {
            candle_nn::ops::softmax_last_dim(&scores)?
        };
        let probs = mode.dropout(&probs, self.cfg.attention_probs_dropout_prob)?;
        let ctx = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((b, t, h))?;
        let attn = linear(&l.attn_out, &ctx)?;
        let attn = mode.dropout(&attn, self.cfg.hidden_dropout_prob)?;
        let xs = l.attn_norm.forward(&(attn + xs)?, mode)?;
        let inter = crate::fused::gelu_erf(&linear(&l.intermediate, &xs)?)?;
        let out = linear(&l.output, &inter)?;
        let out = mode.dropout(&out, self.cfg.hidden_dropout_prob)?;
        l.out_norm.forward(&(out + xs)?, mode)
    }
}

/// Mean of the token states over real tokens: `(batch, hidden)`.
pub fn mean_pool(states: &Tensor, attention_mask: &Tensor) -> Result<Tensor> {
    let mask = attention_mask.unsqueeze(2)?; // (b, t, 1)
    let summed = states.broadcast_mul(&mask)?.sum(1)?;
    let counts = mask.sum(1)?.maximum(1e-9)?;
    Ok(summed.broadcast_div(&counts)?)
}

/// CLS-token pooling: `(batch, hidden)`.
pub fn cls_pool(states: &Tensor) -> Result<Tensor> {
    Ok(states.narrow(1, 0, 1)?.squeeze(1)?)
}

/// Rows scaled to unit L2 norm (norms clamped at 1e-12, as `torch.nn.functional.normalize`).
pub fn l2_normalize(xs: &Tensor) -> Result<Tensor> {
    let norms = xs.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?.maximum(1e-12)?;
    Ok(xs.broadcast_div(&norms)?)
}
