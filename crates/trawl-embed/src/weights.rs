//! Loads BERT weights (model.safetensors, or pytorch_model.bin) and checks them against config.json.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};

use crate::config::{BertConfig, Family};
use crate::{Error, Result};

/// One encoder layer's parameters; Q, K and V are fused into one [3H, H] matrix.
pub(crate) struct Layer<T> {
    pub qkv_w: T,
    pub qkv_b: T,
    pub attn_out_w: T,
    pub attn_out_b: T,
    pub ln1_g: T,
    pub ln1_b: T,
    pub inter_w: T,
    pub inter_b: T,
    pub out_w: T,
    pub out_b: T,
    pub ln2_g: T,
    pub ln2_b: T,
}

pub(crate) struct Weights<T> {
    /// MPNet's relative attention bias, `(buckets, heads)`; shared by all layers.
    pub relative_bias: Option<T>,
    pub word: T,
    pub position: T,
    pub token_type: T,
    pub emb_ln_g: T,
    pub emb_ln_b: T,
    pub layers: Vec<Layer<T>>,
}

impl<T> Weights<T> {
    pub fn try_map<U>(self, mut f: impl FnMut(T) -> Result<U>) -> Result<Weights<U>> {
        let mut layers = Vec::with_capacity(self.layers.len());
        for l in self.layers {
            layers.push(Layer {
                qkv_w: f(l.qkv_w)?,
                qkv_b: f(l.qkv_b)?,
                attn_out_w: f(l.attn_out_w)?,
                attn_out_b: f(l.attn_out_b)?,
                ln1_g: f(l.ln1_g)?,
                ln1_b: f(l.ln1_b)?,
                inter_w: f(l.inter_w)?,
                inter_b: f(l.inter_b)?,
                out_w: f(l.out_w)?,
                out_b: f(l.out_b)?,
                ln2_g: f(l.ln2_g)?,
                ln2_b: f(l.ln2_b)?,
            });
        }
        Ok(Weights {
            relative_bias: self.relative_bias.map(&mut f).transpose()?,
            word: f(self.word)?,
            position: f(self.position)?,
            token_type: f(self.token_type)?,
            emb_ln_g: f(self.emb_ln_g)?,
            emb_ln_b: f(self.emb_ln_b)?,
            layers,
        })
    }
}

/// The weights file of a model folder: model.safetensors, else pytorch_model.bin.
pub fn weights_path(dir: &Path) -> Result<PathBuf> {
    let st = dir.join("model.safetensors");
    if st.exists() {
        return Ok(st);
    }
    let bin = dir.join("pytorch_model.bin");
    if bin.exists() {
        return Ok(bin);
    }
    Err(Error::MissingFile {
        path: st,
        what: "model weights (model.safetensors or pytorch_model.bin)".into(),
    })
}

/// Every tensor of a weights file (safetensors or a PyTorch pickle), in its stored dtype, on the CPU.
pub fn read_tensors(path: &Path) -> Result<HashMap<String, Tensor>> {
    let bad = |e: candle_core::Error| Error::BadWeights {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    Ok(if path.extension().is_some_and(|e| e == "bin") {
        candle_core::pickle::read_all(path)
            .map_err(bad)?
            .into_iter()
            .collect()
    } else {
        candle_core::safetensors::load(path, &Device::Cpu).map_err(bad)?
    })
}

/// `t` as f32; weights stored as f32, f16, bf16 or f64 are accepted, anything else is refused.
pub fn float_f32(t: &Tensor, name: &str, path: &Path) -> Result<Tensor> {
    match t.dtype() {
        DType::F32 | DType::F16 | DType::BF16 | DType::F64 => {
            t.to_dtype(DType::F32).map_err(|e| Error::BadWeights {
                path: path.to_path_buf(),
                message: e.to_string(),
            })
        }
        other => Err(Error::BadWeights {
            path: path.to_path_buf(),
            message: format!(
                "tensor `{name}` has dtype {other:?}; supported weight dtypes are f32, f16, bf16 and f64"
            ),
        }),
    }
}

/// The prefix the encoder's tensors carry in `tensors` (`""`, `bert.`, `model.`), found by
/// `probe` (a tensor name every checkpoint of the architecture has).
pub fn tensor_prefix(
    tensors: &HashMap<String, Tensor>,
    probe: &str,
    path: &Path,
) -> Result<&'static str> {
    ["", "bert.", "model.", "roberta.", "mpnet.", "distilbert."]
        .into_iter()
        .find(|p| tensors.contains_key(&format!("{p}{probe}")))
        .ok_or_else(|| Error::MissingWeight {
            path: path.to_path_buf(),
            tensor: probe.into(),
        })
}

/// The tensor `name` of `tensors` (read from `path`) as f32, if it has `shape`: a missing
/// tensor, another shape or a non-float dtype is an error naming the file and the tensor.
pub(crate) fn checked(
    tensors: &HashMap<String, Tensor>,
    name: &str,
    shape: &[usize],
    path: &Path,
) -> Result<Tensor> {
    let t = tensors.get(name).ok_or_else(|| Error::MissingWeight {
        path: path.to_path_buf(),
        tensor: name.to_string(),
    })?;
    if t.dims() != shape {
        return Err(Error::ShapeMismatch {
            path: path.to_path_buf(),
            tensor: name.to_string(),
            expected: shape.to_vec(),
            found: t.dims().to_vec(),
        });
    }
    float_f32(t, name, path)
}

/// Where each family keeps a layer's tensors (relative to the layer's prefix): the names of
/// a layer's linear maps and LayerNorms, without `.weight`/`.bias`.
pub struct LayerNames {
    /// Prefix of layer `i` is `{layer}.{i}.`.
    pub layer: &'static str,
    pub q: &'static str,
    pub k: &'static str,
    pub v: &'static str,
    pub attn_out: &'static str,
    pub ln1: &'static str,
    pub inter: &'static str,
    pub out: &'static str,
    pub ln2: &'static str,
}

/// MPNet's relative attention bias table, `(buckets, heads)`, shared by every layer.
pub const RELATIVE_BIAS: &str = "encoder.relative_attention_bias.weight";

/// The layer tensor names of `family`.
pub fn layer_names(family: Family) -> LayerNames {
    match family {
        Family::Bert | Family::Roberta => LayerNames {
            layer: "encoder.layer",
            q: "attention.self.query",
            k: "attention.self.key",
            v: "attention.self.value",
            attn_out: "attention.output.dense",
            ln1: "attention.output.LayerNorm",
            inter: "intermediate.dense",
            out: "output.dense",
            ln2: "output.LayerNorm",
        },
        Family::MPNet => LayerNames {
            layer: "encoder.layer",
            q: "attention.attn.q",
            k: "attention.attn.k",
            v: "attention.attn.v",
            attn_out: "attention.attn.o",
            ln1: "attention.LayerNorm",
            inter: "intermediate.dense",
            out: "output.dense",
            ln2: "output.LayerNorm",
        },
        Family::Qwen3 => unreachable!("load_weights_from refuses decoders"),
        Family::DistilBert => LayerNames {
            layer: "transformer.layer",
            q: "attention.q_lin",
            k: "attention.k_lin",
            v: "attention.v_lin",
            attn_out: "attention.out_lin",
            ln1: "sa_layer_norm",
            inter: "ffn.lin1",
            out: "ffn.lin2",
            ln2: "output_layer_norm",
        },
    }
}

/// The encoder's weights among `tensors` (all tensors of the file `path`), checked against `cfg`.
pub(crate) fn load_weights_from(
    tensors: &HashMap<String, Tensor>,
    path: &Path,
    cfg: &BertConfig,
) -> Result<Weights<Tensor>> {
    let bad = |e: candle_core::Error| Error::BadWeights {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    if cfg.family == Family::Qwen3 {
        return Err(Error::BadConfig {
            path: path.to_path_buf(),
            message: format!(
                "`{}` is a decoder; it runs as an embedder (SentenceEncoder), not as a BERT-style encoder",
                cfg.model_type
            ),
        });
    }
    let prefix = tensor_prefix(tensors, "embeddings.word_embeddings.weight", path)?;
    let (h, i) = (cfg.hidden_size, cfg.intermediate_size);

    let word_dims = tensors[&format!("{prefix}embeddings.word_embeddings.weight")]
        .dims()
        .to_vec();
    if word_dims.len() == 2 && word_dims[1] != h {
        return Err(Error::HiddenSizeMismatch {
            path: path.to_path_buf(),
            config: h,
            weights: word_dims[1],
        });
    }
    let get =
        |name: &str, shape: &[usize]| checked(tensors, &format!("{prefix}{name}"), shape, path);
    let names = layer_names(cfg.family);
    let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
    for l in 0..cfg.num_hidden_layers {
        let p = format!("{}.{l}.", names.layer);
        let q = |n: &str, part: &str, s: &[usize]| get(&format!("{p}{n}.{part}"), s);
        let ln_base = |n: &str| format!("{prefix}{p}{n}");
        let qkv_w = Tensor::cat(
            &[
                q(names.q, "weight", &[h, h])?,
                q(names.k, "weight", &[h, h])?,
                q(names.v, "weight", &[h, h])?,
            ],
            0,
        )
        .map_err(bad)?;
        let qkv_b = Tensor::cat(
            &[
                q(names.q, "bias", &[h])?,
                q(names.k, "bias", &[h])?,
                q(names.v, "bias", &[h])?,
            ],
            0,
        )
        .map_err(bad)?;
        layers.push(Layer {
            qkv_w,
            qkv_b,
            attn_out_w: q(names.attn_out, "weight", &[h, h])?,
            attn_out_b: q(names.attn_out, "bias", &[h])?,
            ln1_g: ln(tensors, &ln_base(names.ln1), h, path)?,
            ln1_b: ln_bias(tensors, &ln_base(names.ln1), h, path)?,
            inter_w: q(names.inter, "weight", &[i, h])?,
            inter_b: q(names.inter, "bias", &[i])?,
            out_w: q(names.out, "weight", &[h, i])?,
            out_b: q(names.out, "bias", &[h])?,
            ln2_g: ln(tensors, &ln_base(names.ln2), h, path)?,
            ln2_b: ln_bias(tensors, &ln_base(names.ln2), h, path)?,
        });
    }
    // Families without token types add nothing: a zero row stands in.
    let token_type = if cfg.type_vocab_size == 0 {
        Tensor::zeros((1, h), DType::F32, &Device::Cpu)?
    } else {
        get(
            "embeddings.token_type_embeddings.weight",
            &[cfg.type_vocab_size, h],
        )?
    };
    let relative_bias = if cfg.relative_attention_num_buckets > 0 {
        Some(get(
            RELATIVE_BIAS,
            &[cfg.relative_attention_num_buckets, cfg.num_attention_heads],
        )?)
    } else {
        None
    };
    Ok(Weights {
        relative_bias,
        word: get("embeddings.word_embeddings.weight", &[cfg.vocab_size, h])?,
        position: get(
            "embeddings.position_embeddings.weight",
            &[cfg.max_position_embeddings, h],
        )?,
        token_type,
        emb_ln_g: ln(tensors, &format!("{prefix}embeddings.LayerNorm"), h, path)?,
        emb_ln_b: ln_bias(tensors, &format!("{prefix}embeddings.LayerNorm"), h, path)?,
        layers,
    })
}

/// LayerNorm scale: `weight`, or `gamma` in old checkpoints.
fn ln(tensors: &HashMap<String, Tensor>, base: &str, h: usize, path: &Path) -> Result<Tensor> {
    pick(
        tensors,
        &[format!("{base}.weight"), format!("{base}.gamma")],
        h,
        path,
    )
}

fn ln_bias(tensors: &HashMap<String, Tensor>, base: &str, h: usize, path: &Path) -> Result<Tensor> {
    pick(
        tensors,
        &[format!("{base}.bias"), format!("{base}.beta")],
        h,
        path,
    )
}

fn pick(
    tensors: &HashMap<String, Tensor>,
    names: &[String],
    h: usize,
    path: &Path,
) -> Result<Tensor> {
    let (name, t) = names
        .iter()
        .find_map(|n| tensors.get(n).map(|t| (n, t)))
        .ok_or_else(|| Error::MissingWeight {
            path: path.to_path_buf(),
            tensor: names[0].clone(),
        })?;
    if t.dims() != [h] {
        return Err(Error::ShapeMismatch {
            path: path.to_path_buf(),
            tensor: name.clone(),
            expected: vec![h],
            found: t.dims().to_vec(),
        });
    }
    float_f32(t, name, path)
}
