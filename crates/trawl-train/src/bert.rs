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
    token_type: Tensor,
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
pub struct Bert {
    cfg: BertConfig,
    embeddings: Embeddings,
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

/// The names of the tensors the encoder uses, relative to the model root (no `bert.` prefix).
pub fn tensor_names(cfg: &BertConfig) -> Vec<String> {
    let mut names: Vec<String> = [
        "embeddings.word_embeddings.weight",
        "embeddings.position_embeddings.weight",
        "embeddings.token_type_embeddings.weight",
        "embeddings.LayerNorm.weight",
        "embeddings.LayerNorm.bias",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for i in 0..cfg.num_hidden_layers {
        for part in [
            "attention.self.query",
            "attention.self.key",
            "attention.self.value",
            "attention.output.dense",
            "attention.output.LayerNorm",
            "intermediate.dense",
            "output.dense",
            "output.LayerNorm",
        ] {
            for p in ["weight", "bias"] {
                names.push(format!("encoder.layer.{i}.{part}.{p}"));
            }
        }
    }
    names
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
            token_type: e.get((cfg.type_vocab_size, h), "token_type_embeddings.weight")?,
            norm: LayerNorm::load(h, eps, e.pp("LayerNorm"))?,
            dropout: cfg.hidden_dropout_prob,
        };
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for i in 0..cfg.num_hidden_layers {
            let l = vb.pp(format!("encoder.layer.{i}"));
            let a = l.pp("attention");
            layers.push(Layer {
                query: candle_nn::linear(h, h, a.pp("self.query"))?,
                key: candle_nn::linear(h, h, a.pp("self.key"))?,
                value: candle_nn::linear(h, h, a.pp("self.value"))?,
                attn_out: candle_nn::linear(h, h, a.pp("output.dense"))?,
                attn_norm: LayerNorm::load(h, eps, a.pp("output.LayerNorm"))?,
                intermediate: candle_nn::linear(
                    h,
                    cfg.intermediate_size,
                    l.pp("intermediate.dense"),
                )?,
                output: candle_nn::linear(cfg.intermediate_size, h, l.pp("output.dense"))?,
                out_norm: LayerNorm::load(h, eps, l.pp("output.LayerNorm"))?,
            });
        }
        Ok(Self {
            cfg: cfg.clone(),
            embeddings,
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
        let types = emb
            .token_type
            .index_select(&input.token_type_ids.flatten_all()?, 0)?
            .reshape((b, t, h))?;
        let positions = emb.position.narrow(0, 0, t)?.unsqueeze(0)?;
        let xs = words.add(&types)?.broadcast_add(&positions)?;
        let xs = emb.norm.forward(&xs, mode)?;
        let mut xs = mode.dropout(&xs, emb.dropout)?;
        // Additive mask: 0 for tokens, a large negative for padding, shape (b, 1, 1, t).
        let bias = ((input.attention_mask.ones_like()? - &input.attention_mask)? * -1e9)?
            .reshape((b, 1, 1, t))?;
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
