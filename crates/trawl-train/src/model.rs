//! A trainable sentence-embedding model loaded from a sentence-transformers folder:
//! tokenizer -> BERT -> pooling -> optional Dense projection -> optional L2 normalisation.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::bert::{self, Bert, BertInput, Mode};
use crate::config::BertConfig;
use crate::modules::{DenseActivation, DenseConfig, Pipeline, Pooling};
use crate::{Error, Result};

/// Options for loading a model to train.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub device: Device,
    /// F32 for training; F64 for gradient checks.
    pub dtype: DType,
    /// Truncation length; default: the folder's `max_seq_length` (else 512).
    pub max_seq_len: Option<usize>,
    /// Add a new trainable Dense projection of this width (refused when the folder has one).
    pub projection_dim: Option<usize>,
    /// Seed for a new projection's initialisation.
    pub seed: u64,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            device: Device::Cpu,
            dtype: DType::F32,
            max_seq_len: None,
            projection_dim: None,
            seed: 42,
        }
    }
}

/// The Dense projection: `y = act(x W^T + b)`.
pub struct DenseHead {
    pub config: DenseConfig,
    pub activation: DenseActivation,
    weight: Tensor,
    bias: Option<Tensor>,
}

impl DenseHead {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let mut y = xs.matmul(&self.weight.t()?)?;
        if let Some(b) = &self.bias {
            y = y.broadcast_add(b)?;
        }
        Ok(match self.activation {
            DenseActivation::Identity => y,
            DenseActivation::Tanh => y.tanh()?,
        })
    }
}

/// A sentence encoder whose parameters are candle `Var`s, in two groups: the transformer
/// (`base_vars`, names as in `model.safetensors` without any `bert.` prefix) and the projection
/// head (`head_vars`: `linear.weight`, `linear.bias`).
pub struct SentenceModel {
    pub(crate) source_dir: PathBuf,
    pub(crate) cfg: BertConfig,
    pub(crate) pipeline: Pipeline,
    pub(crate) tokenizer: Tokenizer,
    pub(crate) bert: Bert,
    pub(crate) base_vars: VarMap,
    pub(crate) head_vars: VarMap,
    pub(crate) head: Option<DenseHead>,
    /// `bert.` when the file's tensors carry that prefix.
    pub(crate) tensor_prefix: String,
    pub(crate) max_seq_len: usize,
    pub(crate) device: Device,
    pub(crate) dtype: DType,
}

impl SentenceModel {
    /// Loads `dir` (config.json, model.safetensors, tokenizer.json, module files).
    pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Self> {
        let cfg = BertConfig::from_file(&dir.join("config.json"))?;
        let mut pipeline = Pipeline::read(dir)?;
        let weights_path = dir.join("model.safetensors");
        if !weights_path.exists() {
            return Err(Error::model(
                dir,
                "model.safetensors not found (pytorch_model.bin is not supported: convert it to safetensors)",
            ));
        }
        let tensors = candle_core::safetensors::load(&weights_path, &Device::Cpu)
            .map_err(|e| Error::model(&weights_path, e.to_string()))?;
        let tensor_prefix = if tensors.contains_key("bert.embeddings.word_embeddings.weight") {
            "bert.".to_string()
        } else {
            String::new()
        };
        let base_vars = VarMap::new();
        {
            let mut data = base_vars.data().lock().expect("fresh VarMap lock");
            for name in bert::tensor_names(&cfg) {
                let key = format!("{tensor_prefix}{name}");
                let t = tensors.get(&key).ok_or_else(|| {
                    Error::model(&weights_path, format!("tensor `{key}` is missing"))
                })?;
                if !t.dtype().is_float() {
                    return Err(Error::model(
                        &weights_path,
                        format!(
                            "tensor `{key}` has dtype {:?}, expected a float type",
                            t.dtype()
                        ),
                    ));
                }
                let t = t.to_dtype(opts.dtype)?.to_device(&opts.device)?;
                data.insert(name, Var::from_tensor(&t)?);
            }
        }
        let vb = VarBuilder::from_varmap(&base_vars, opts.dtype, &opts.device);
        let bert = Bert::load(&cfg, vb).map_err(|e| Error::model(&weights_path, e.to_string()))?;

        let head_vars = VarMap::new();
        let head = match (&pipeline.dense_dir, opts.projection_dim) {
            (Some(_), Some(_)) => {
                return Err(Error::InvalidOption(format!(
                    "{} already has a Dense module; a new projection head cannot be added",
                    dir.display()
                )))
            }
            (Some(sub), None) => Some(load_dense(&dir.join(sub), &head_vars, opts)?),
            (None, Some(out)) => {
                let d = new_dense(cfg.hidden_size, out, &head_vars, opts)?;
                pipeline.dense_dir = Some("2_Dense".into());
                Some(d)
            }
            (None, None) => None,
        };
        let tok_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&tok_path)
            .map_err(|e| Error::model(&tok_path, format!("cannot load tokenizer: {e}")))?;
        let max_seq_len = opts
            .max_seq_len
            .or(pipeline.max_seq_length)
            .unwrap_or(512)
            .min(cfg.max_position_embeddings);
        configure_tokenizer(&mut tokenizer, max_seq_len)?;
        Ok(Self {
            source_dir: dir.to_path_buf(),
            cfg,
            pipeline,
            tokenizer,
            bert,
            base_vars,
            head_vars,
            head,
            tensor_prefix,
            max_seq_len,
            device: opts.device.clone(),
            dtype: opts.dtype,
        })
    }

    /// Embedding width (after the projection, if any).
    pub fn dim(&self) -> usize {
        self.head
            .as_ref()
            .map_or(self.cfg.hidden_size, |h| h.config.out_features)
    }

    pub fn config(&self) -> &BertConfig {
        &self.cfg
    }

    pub fn max_seq_len(&self) -> usize {
        self.max_seq_len
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn has_head(&self) -> bool {
        self.head.is_some()
    }

    /// Trainable transformer parameters, sorted by name.
    pub fn base_vars(&self) -> Vec<(String, Var)> {
        sorted_vars(&self.base_vars)
    }

    /// Trainable projection-head parameters (empty without a head), sorted by name.
    pub fn head_vars(&self) -> Vec<(String, Var)> {
        sorted_vars(&self.head_vars)
    }

    /// Tokenizes with truncation to `max_seq_len` and padding to the longest text of the batch.
    pub fn tokenize(&self, texts: &[&str]) -> Result<BertInput> {
        let enc = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        let b = enc.len();
        let t = enc.first().map_or(0, |e| e.len());
        let mut ids = Vec::with_capacity(b * t);
        let mut types = Vec::with_capacity(b * t);
        let mut mask = Vec::with_capacity(b * t);
        for e in &enc {
            ids.extend_from_slice(e.get_ids());
            types.extend_from_slice(e.get_type_ids());
            mask.extend(e.get_attention_mask().iter().map(|&m| m as f32));
        }
        let dev = &self.device;
        Ok(BertInput {
            input_ids: Tensor::from_vec(ids, (b, t), dev)?,
            token_type_ids: Tensor::from_vec(types, (b, t), dev)?,
            attention_mask: Tensor::from_vec(mask, (b, t), dev)?.to_dtype(self.dtype)?,
        })
    }

    /// Tokenizes with truncation to `max_seq_len`, without padding: the sequences end to end.
    pub fn tokenize_packed(&self, texts: &[&str]) -> Result<crate::packed::PackedBatch> {
        let enc = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        let mut batch = crate::packed::PackedBatch {
            ids: Vec::new(),
            type_ids: Vec::new(),
            starts: vec![0],
        };
        for e in &enc {
            let len = e.get_attention_mask().iter().filter(|&&m| m != 0).count();
            batch.ids.extend_from_slice(&e.get_ids()[..len]);
            batch.type_ids.extend_from_slice(&e.get_type_ids()[..len]);
            batch.starts.push(batch.ids.len());
        }
        Ok(batch)
    }

    /// The modules after pooling: the projection head (if any), then L2 normalisation (if the
    /// pipeline has it).
    pub fn finish(&self, pooled: &Tensor) -> Result<Tensor> {
        let mut out = pooled.clone();
        if let Some(head) = &self.head {
            out = head.forward(&out)?;
        }
        if self.pipeline.normalize {
            out = bert::l2_normalize(&out)?;
        }
        Ok(out)
    }

    /// Sentence embeddings `(batch, dim)` of one batch, with the graph for backward when `mode`
    /// is `Train`. With `frozen_base` the transformer runs without gradients (only the head learns).
    pub fn encode(&self, texts: &[&str], mode: &mut Mode, frozen_base: bool) -> Result<Tensor> {
        let input = self.tokenize(texts)?;
        let pooled = if frozen_base {
            self.pool(&input, &mut Mode::Inference)?.detach()
        } else {
            self.pool(&input, mode)?
        };
        self.finish(&pooled)
    }

    fn pool(&self, input: &BertInput, mode: &mut Mode) -> Result<Tensor> {
        let states = self.bert.forward(input, mode)?;
        match self.pipeline.pooling {
            Pooling::Mean => bert::mean_pool(&states, &input.attention_mask),
            Pooling::Cls => bert::cls_pool(&states),
        }
    }

    /// Inference embeddings, row-major `n x dim` f32, in batches of `batch_size` (texts sorted by
    /// length inside so padding stays small; output in input order).
    pub fn embed(&self, texts: &[&str], batch_size: usize) -> Result<Vec<f32>> {
        let dim = self.dim();
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(texts[i].len()));
        let mut out = vec![0f32; texts.len() * dim];
        for chunk in order.chunks(batch_size.max(1)) {
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
            let emb = self
                .encode(&batch, &mut Mode::Inference, false)?
                .to_dtype(DType::F32)?
                .to_vec2::<f32>()?;
            for (row, &i) in emb.iter().zip(chunk) {
                out[i * dim..(i + 1) * dim].copy_from_slice(row);
            }
        }
        Ok(out)
    }
}

fn sorted_vars(map: &VarMap) -> Vec<(String, Var)> {
    let data = map.data().lock().expect("VarMap lock");
    let mut v: Vec<(String, Var)> = data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn configure_tokenizer(tok: &mut Tokenizer, max_len: usize) -> Result<()> {
    tok.with_truncation(Some(TruncationParams {
        max_length: max_len,
        ..Default::default()
    }))
    .map_err(|e| Error::Tokenizer(e.to_string()))?;
    let pad_id = tok.token_to_id("[PAD]").unwrap_or(0);
    tok.with_padding(Some(PaddingParams {
        strategy: PaddingStrategy::BatchLongest,
        pad_id,
        pad_token: "[PAD]".into(),
        ..Default::default()
    }));
    Ok(())
}

fn load_dense(dir: &Path, vars: &VarMap, opts: &LoadOptions) -> Result<DenseHead> {
    let config: DenseConfig = crate::modules::read_json(&dir.join("config.json"))?;
    let activation = config.activation(&dir.join("config.json"))?;
    let path = dir.join("model.safetensors");
    let tensors: HashMap<String, Tensor> = candle_core::safetensors::load(&path, &Device::Cpu)
        .map_err(|e| Error::model(&path, e.to_string()))?;
    let mut data = vars.data().lock().expect("fresh VarMap lock");
    let mut get = |name: &str, shape: &[usize]| -> Result<Tensor> {
        let t = tensors
            .get(name)
            .ok_or_else(|| Error::model(&path, format!("tensor `{name}` is missing")))?;
        if t.dims() != shape {
            return Err(Error::model(
                &path,
                format!(
                    "tensor `{name}` has shape {:?}, expected {shape:?}",
                    t.dims()
                ),
            ));
        }
        let var = Var::from_tensor(&t.to_dtype(opts.dtype)?.to_device(&opts.device)?)?;
        let out = var.as_tensor().clone();
        data.insert(name.to_string(), var);
        Ok(out)
    };
    let weight = get("linear.weight", &[config.out_features, config.in_features])?;
    let bias = if config.bias {
        Some(get("linear.bias", &[config.out_features])?)
    } else {
        None
    };
    Ok(DenseHead {
        config,
        activation,
        weight,
        bias,
    })
}

/// A new projection initialised near the identity (identity on the first min(in, out) outputs
/// plus small seeded noise), so training starts from the base model's embeddings.
fn new_dense(inp: usize, out: usize, vars: &VarMap, opts: &LoadOptions) -> Result<DenseHead> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(opts.seed ^ 0x5eed_dea5);
    let mut w = vec![0f32; out * inp];
    for (r, row) in w.chunks_mut(inp).enumerate() {
        for (c, x) in row.iter_mut().enumerate() {
            *x = rng.random_range(-0.01f32..0.01) + if r == c { 1.0 } else { 0.0 };
        }
    }
    let weight =
        Var::from_tensor(&Tensor::from_vec(w, (out, inp), &opts.device)?.to_dtype(opts.dtype)?)?;
    let bias = Var::from_tensor(&Tensor::zeros(out, opts.dtype, &opts.device)?)?;
    let mut data = vars.data().lock().expect("fresh VarMap lock");
    data.insert("linear.weight".into(), weight.clone());
    data.insert("linear.bias".into(), bias.clone());
    Ok(DenseHead {
        config: DenseConfig {
            in_features: inp,
            out_features: out,
            bias: true,
            activation_function: DenseActivation::Identity.torch_name().into(),
        },
        activation: DenseActivation::Identity,
        weight: weight.as_tensor().clone(),
        bias: Some(bias.as_tensor().clone()),
    })
}

/// Finds a model folder from a path, `./models/<name>` or the local Hugging Face cache: the same
/// lookup as inference ([`trawl_embed::resolve_model_dir`]), so `trawl train --model` accepts
/// every name `trawl encode --model` does.
pub fn resolve_model_dir(name: &str) -> Result<PathBuf> {
    trawl_embed::resolve_model_dir(name).map_err(Error::ModelLookup)
}
