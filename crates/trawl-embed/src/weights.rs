//! Loads BERT weights (model.safetensors, or pytorch_model.bin) and checks them against config.json.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};

use crate::config::BertConfig;
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
pub(crate) fn weights_path(dir: &Path) -> Result<PathBuf> {
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

/// Reads all tensors of `path` as f32 CPU tensors, checked against `cfg`.
pub(crate) fn load_weights(path: &Path, cfg: &BertConfig) -> Result<Weights<Tensor>> {
    let bad = |e: candle_core::Error| Error::BadWeights {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let tensors: HashMap<String, Tensor> = if path.extension().is_some_and(|e| e == "bin") {
        candle_core::pickle::read_all(path)
            .map_err(bad)?
            .into_iter()
            .collect()
    } else {
        candle_core::safetensors::load(path, &Device::Cpu).map_err(bad)?
    };
    let prefix = ["", "bert.", "model."]
        .into_iter()
        .find(|p| tensors.contains_key(&format!("{p}embeddings.word_embeddings.weight")))
        .ok_or_else(|| Error::MissingWeight {
            path: path.to_path_buf(),
            tensor: "embeddings.word_embeddings.weight".into(),
        })?;
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
    let get = |name: &str, shape: &[usize]| -> Result<Tensor> {
        let full = format!("{prefix}{name}");
        let t = tensors.get(&full).ok_or_else(|| Error::MissingWeight {
            path: path.to_path_buf(),
            tensor: full.clone(),
        })?;
        if t.dims() != shape {
            return Err(Error::ShapeMismatch {
                path: path.to_path_buf(),
                tensor: full,
                expected: shape.to_vec(),
                found: t.dims().to_vec(),
            });
        }
        t.to_dtype(DType::F32).map_err(bad)
    };
    let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
    for l in 0..cfg.num_hidden_layers {
        let p = format!("encoder.layer.{l}.");
        let q = |n: &str, s: &[usize]| get(&format!("{p}{n}"), s);
        let qkv_w = Tensor::cat(
            &[
                q("attention.self.query.weight", &[h, h])?,
                q("attention.self.key.weight", &[h, h])?,
                q("attention.self.value.weight", &[h, h])?,
            ],
            0,
        )
        .map_err(bad)?;
        let qkv_b = Tensor::cat(
            &[
                q("attention.self.query.bias", &[h])?,
                q("attention.self.key.bias", &[h])?,
                q("attention.self.value.bias", &[h])?,
            ],
            0,
        )
        .map_err(bad)?;
        layers.push(Layer {
            qkv_w,
            qkv_b,
            attn_out_w: q("attention.output.dense.weight", &[h, h])?,
            attn_out_b: q("attention.output.dense.bias", &[h])?,
            ln1_g: ln(
                &tensors,
                &format!("{prefix}{p}attention.output.LayerNorm"),
                h,
                path,
            )?,
            ln1_b: ln_bias(
                &tensors,
                &format!("{prefix}{p}attention.output.LayerNorm"),
                h,
                path,
            )?,
            inter_w: q("intermediate.dense.weight", &[i, h])?,
            inter_b: q("intermediate.dense.bias", &[i])?,
            out_w: q("output.dense.weight", &[h, i])?,
            out_b: q("output.dense.bias", &[h])?,
            ln2_g: ln(&tensors, &format!("{prefix}{p}output.LayerNorm"), h, path)?,
            ln2_b: ln_bias(&tensors, &format!("{prefix}{p}output.LayerNorm"), h, path)?,
        });
    }
    Ok(Weights {
        word: get("embeddings.word_embeddings.weight", &[cfg.vocab_size, h])?,
        position: get(
            "embeddings.position_embeddings.weight",
            &[cfg.max_position_embeddings, h],
        )?,
        token_type: get(
            "embeddings.token_type_embeddings.weight",
            &[cfg.type_vocab_size, h],
        )?,
        emb_ln_g: ln(&tensors, &format!("{prefix}embeddings.LayerNorm"), h, path)?,
        emb_ln_b: ln_bias(&tensors, &format!("{prefix}embeddings.LayerNorm"), h, path)?,
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
    t.to_dtype(DType::F32).map_err(|e| Error::BadWeights {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}
