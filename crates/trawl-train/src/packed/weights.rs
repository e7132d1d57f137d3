//! Borrowed f32 views of the model's parameters (no copy: read guards on the candle `Var`
//! storages, held for one step) and the gradient buffers the backward pass fills.

use std::collections::HashMap;

use candle_core::{Device, Storage, StorageRef, Tensor, Var};

use crate::config::BertConfig;
use crate::{Error, Result};

/// A read guard on a contiguous f32 CPU tensor, viewed as a slice.
pub(crate) struct HostF32<'a> {
    storage: StorageRef<'a>,
    start: usize,
    end: usize,
}

impl<'a> HostF32<'a> {
    /// `None` unless `t` is a contiguous f32 tensor on the CPU.
    pub fn new(t: &'a Tensor) -> Option<Self> {
        let (storage, layout) = t.storage_and_layout();
        let (start, end) = layout.contiguous_offsets()?;
        matches!(&*storage, Storage::Cpu(candle_core::CpuStorage::F32(_))).then_some(Self {
            storage,
            start,
            end,
        })
    }

    pub fn as_slice(&self) -> &[f32] {
        match &*self.storage {
            Storage::Cpu(candle_core::CpuStorage::F32(v)) => &v[self.start..self.end],
            _ => unreachable!("checked in HostF32::new"),
        }
    }
}

/// Read guards on every parameter, by name.
pub(crate) struct WeightView<'a> {
    guards: Vec<HostF32<'a>>,
    index: HashMap<&'a str, usize>,
}

impl<'a> WeightView<'a> {
    /// Locks `vars` for reading. Fails unless each is a contiguous f32 CPU tensor.
    pub fn new(vars: &'a [(String, Var)]) -> Result<Self> {
        let mut guards = Vec::with_capacity(vars.len());
        let mut index = HashMap::new();
        for (name, var) in vars {
            let Some(host) = HostF32::new(var.as_tensor()) else {
                return Err(Error::InvalidOption(format!(
                    "parameter `{name}` is not a contiguous f32 CPU tensor, which the packed CPU trainer needs"
                )));
            };
            index.insert(name.as_str(), guards.len());
            guards.push(host);
        }
        Ok(Self { guards, index })
    }

    /// The parameter `name` (panics on an unknown name: the names come from
    /// [`crate::bert::tensor_names`], checked when the model loaded).
    pub fn get(&self, name: &str) -> &[f32] {
        self.guards[self.index[name]].as_slice()
    }
}

/// One encoder layer's parameters; query, key and value are stacked into one `3h x h` weight
/// so their product is a single gemm.
pub(crate) struct LayerWeights<'a> {
    pub qkv_w: Vec<f32>,
    pub qkv_b: Vec<f32>,
    pub attn_out_w: &'a [f32],
    pub attn_out_b: &'a [f32],
    pub ln1_g: &'a [f32],
    pub ln1_b: &'a [f32],
    pub inter_w: &'a [f32],
    pub inter_b: &'a [f32],
    pub out_w: &'a [f32],
    pub out_b: &'a [f32],
    pub ln2_g: &'a [f32],
    pub ln2_b: &'a [f32],
}

/// The whole encoder's parameters.
pub(crate) struct BertWeights<'a> {
    pub word: &'a [f32],
    pub position: &'a [f32],
    /// Absent for families without token types (MPNet).
    pub token_type: Option<&'a [f32]>,
    /// MPNet's `(buckets, heads)` relative attention bias, shared by every layer.
    pub relative_bias: Option<&'a [f32]>,
    pub emb_ln_g: &'a [f32],
    pub emb_ln_b: &'a [f32],
    pub layers: Vec<LayerWeights<'a>>,
}

impl<'a> BertWeights<'a> {
    pub fn new(view: &'a WeightView<'a>, cfg: &BertConfig) -> Self {
        let [q, k, v, o, ln1, up, down, ln2] = crate::bert::layer_parts(cfg);
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| {
                let p = crate::bert::layer_prefix(cfg, i);
                let g = |part: &str, s: &str| view.get(&format!("{p}{part}.{s}"));
                let qkv_w = [q, k, v]
                    .iter()
                    .flat_map(|n| g(n, "weight").iter().copied())
                    .collect();
                let qkv_b = [q, k, v]
                    .iter()
                    .flat_map(|n| g(n, "bias").iter().copied())
                    .collect();
                LayerWeights {
                    qkv_w,
                    qkv_b,
                    attn_out_w: g(o, "weight"),
                    attn_out_b: g(o, "bias"),
                    ln1_g: g(ln1, "weight"),
                    ln1_b: g(ln1, "bias"),
                    inter_w: g(up, "weight"),
                    inter_b: g(up, "bias"),
                    out_w: g(down, "weight"),
                    out_b: g(down, "bias"),
                    ln2_g: g(ln2, "weight"),
                    ln2_b: g(ln2, "bias"),
                }
            })
            .collect();
        Self {
            word: view.get("embeddings.word_embeddings.weight"),
            position: view.get("embeddings.position_embeddings.weight"),
            token_type: (cfg.type_vocab_size > 0)
                .then(|| view.get("embeddings.token_type_embeddings.weight")),
            relative_bias: (cfg.relative_attention_num_buckets > 0)
                .then(|| view.get(trawl_embed::RELATIVE_BIAS)),
            emb_ln_g: view.get("embeddings.LayerNorm.weight"),
            emb_ln_b: view.get("embeddings.LayerNorm.bias"),
            layers,
        }
    }
}

/// Gradients as flat buffers, named as the parameters, turned into tensors at the end.
#[derive(Default)]
pub(crate) struct Grads {
    pub(crate) named: Vec<(String, Vec<f32>, Vec<usize>)>,
}

impl Grads {
    pub fn push(&mut self, name: impl Into<String>, g: Vec<f32>, shape: &[usize]) {
        debug_assert_eq!(g.len(), shape.iter().product::<usize>());
        self.named.push((name.into(), g, shape.to_vec()));
    }

    pub fn into_tensors(self) -> Result<HashMap<String, Tensor>> {
        let mut out = HashMap::with_capacity(self.named.len());
        for (name, g, shape) in self.named {
            out.insert(name, Tensor::from_vec(g, shape, &Device::Cpu)?);
        }
        Ok(out)
    }
}
