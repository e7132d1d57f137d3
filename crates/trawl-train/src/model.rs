//! A trainable sentence-embedding model loaded from a sentence-transformers folder:
//! tokenizer -> BERT or MPNet -> pooling -> optional Dense projection -> optional L2 normalisation.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use trawl_embed::{ModelConfig, TextTokenizer};

use crate::bert::{self, Bert, BertInput, Mode};
use crate::config::BertConfig;
use crate::modules::{DenseActivation, DenseConfig, Pooling};
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
    /// The folder as trawl-embed reads it (pooling, Normalize, do_lower_case, prefixes, lengths).
    pub(crate) folder: ModelConfig,
    pub(crate) pooling: Pooling,
    pub(crate) tokenizer: TextTokenizer,
    pub(crate) bert: Bert,
    pub(crate) base_vars: VarMap,
    pub(crate) head_vars: VarMap,
    pub(crate) head: Option<DenseHead>,
    /// `bert.`, `mpnet.`, ... when the file's tensors carry that prefix.
    pub(crate) tensor_prefix: String,
    pub(crate) max_seq_len: usize,
    pub(crate) device: Device,
    pub(crate) dtype: DType,
}

impl SentenceModel {
    /// Loads `dir` (config.json, model.safetensors, tokenizer.json, module files), read by the
    /// same code as inference ([`trawl_embed::ModelConfig`]).
    pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Self> {
        let folder = ModelConfig::read(dir).map_err(Error::ModelLookup)?;
        let cfg = folder.bert.clone();
        crate::config::check_trainable(&cfg, &dir.join("config.json"))?;
        let pooling = Pooling::from_folder(folder.pooling, dir)?;
        let weights_path = dir.join("model.safetensors");
        if !weights_path.exists() {
            return Err(Error::model(
                dir,
                "model.safetensors not found (pytorch_model.bin is not supported: convert it to safetensors)",
            ));
        }
        let tensors = trawl_embed::read_tensors(&weights_path).map_err(Error::ModelLookup)?;
        let tensor_prefix = trawl_embed::tensor_prefix(
            &tensors,
            "embeddings.word_embeddings.weight",
            &weights_path,
        )
        .map_err(Error::ModelLookup)?
        .to_string();
        let base_vars = VarMap::new();
        {
            let mut data = base_vars.data().lock().expect("fresh VarMap lock");
            for name in bert::tensor_names(&cfg) {
                let key = format!("{tensor_prefix}{name}");
                let t = tensors.get(&key).ok_or_else(|| {
                    Error::model(&weights_path, format!("tensor `{key}` is missing"))
                })?;
                let t = trawl_embed::float_f32(t, &key, &weights_path)
                    .map_err(Error::ModelLookup)?
                    .to_dtype(opts.dtype)?
                    .to_device(&opts.device)?;
                data.insert(name, Var::from_tensor(&t)?);
            }
        }
        let vb = VarBuilder::from_varmap(&base_vars, opts.dtype, &opts.device);
        let bert = Bert::load(&cfg, vb).map_err(|e| Error::model(&weights_path, e.to_string()))?;

        let head_vars = VarMap::new();
        if folder.dense.len() > 1 {
            return Err(Error::model(
                &dir.join("modules.json"),
                "more than one Dense module is not supported for training",
            ));
        }
        let head = match (folder.dense.first(), opts.projection_dim) {
            (Some(_), Some(_)) => {
                return Err(Error::InvalidOption(format!(
                    "{} already has a Dense module; a new projection head cannot be added",
                    dir.display()
                )))
            }
            (Some(m), None) => Some(load_dense(m, &head_vars, opts)?),
            (None, Some(out)) => Some(new_dense(cfg.hidden_size, out, &head_vars, opts)?),
            (None, None) => None,
        };
        let max_seq_len = opts
            .max_seq_len
            .unwrap_or(folder.max_seq_length)
            .min(cfg.max_position_embeddings - cfg.position_offset);
        let tokenizer = TextTokenizer::load(dir, max_seq_len, folder.do_lower_case)
            .map_err(Error::ModelLookup)?;
        Ok(Self {
            source_dir: dir.to_path_buf(),
            cfg,
            folder,
            pooling,
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

    /// The folder's query prefix (its prompts, or the family convention), as inference uses it.
    pub fn query_prefix(&self) -> &str {
        &self.folder.query_prefix
    }

    /// The folder's document prefix, as inference uses it.
    pub fn document_prefix(&self) -> &str {
        &self.folder.document_prefix
    }

    /// Whether the folder lowercases text before tokenizing (sentence_bert_config.json).
    pub fn do_lower_case(&self) -> bool {
        self.folder.do_lower_case
    }

    /// `texts` with the query prefix in front (what training and evaluation embed as queries).
    pub fn with_query_prefix(&self, texts: &[&str]) -> Vec<String> {
        prefixed(&self.folder.query_prefix, texts)
    }

    /// `texts` with the document prefix in front.
    pub fn with_document_prefix(&self, texts: &[&str]) -> Vec<String> {
        prefixed(&self.folder.document_prefix, texts)
    }

    /// Inference embeddings of queries (with the query prefix), as [`SentenceModel::embed`].
    pub fn embed_queries(&self, texts: &[&str], batch_size: usize) -> Result<Vec<f32>> {
        let owned = self.with_query_prefix(texts);
        self.embed(&as_strs(&owned), batch_size)
    }

    /// Inference embeddings of documents (with the document prefix).
    pub fn embed_documents(&self, texts: &[&str], batch_size: usize) -> Result<Vec<f32>> {
        let owned = self.with_document_prefix(texts);
        self.embed(&as_strs(&owned), batch_size)
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

    /// Token ids of each text: lowercased when the folder says so, truncated to `max_seq_len`
    /// (the tokenizer inference uses).
    fn token_ids(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>> {
        let owned: Vec<String> = texts.iter().map(|t| t.to_string()).collect();
        self.tokenizer
            .encode_all(&owned)
            .map_err(|e| Error::Tokenizer(e.to_string()))
    }

    /// Tokenizes with truncation to `max_seq_len` and padding to the longest text of the batch
    /// (single texts: segment ids are all 0).
    pub fn tokenize(&self, texts: &[&str]) -> Result<BertInput> {
        let seqs = self.token_ids(texts)?;
        let b = seqs.len();
        let t = seqs.iter().map(Vec::len).max().unwrap_or(0);
        let mut ids = vec![0u32; b * t];
        let mut mask = vec![0f32; b * t];
        for (i, s) in seqs.iter().enumerate() {
            ids[i * t..i * t + s.len()].copy_from_slice(s);
            mask[i * t..i * t + s.len()].fill(1.0);
        }
        let dev = &self.device;
        Ok(BertInput {
            input_ids: Tensor::from_vec(ids, (b, t), dev)?,
            token_type_ids: Tensor::zeros((b, t), DType::U32, dev)?,
            attention_mask: Tensor::from_vec(mask, (b, t), dev)?.to_dtype(self.dtype)?,
        })
    }

    /// Tokenizes with truncation to `max_seq_len`, without padding: the sequences end to end.
    pub fn tokenize_packed(&self, texts: &[&str]) -> Result<crate::packed::PackedBatch> {
        let mut batch = crate::packed::PackedBatch {
            ids: Vec::new(),
            type_ids: Vec::new(),
            starts: vec![0],
        };
        for s in self.token_ids(texts)? {
            batch.ids.extend_from_slice(&s);
            batch.starts.push(batch.ids.len());
        }
        batch.type_ids = vec![0; batch.ids.len()];
        Ok(batch)
    }

    /// The modules after pooling: the projection head (if any), then L2 normalisation (if the
    /// pipeline has it).
    pub fn finish(&self, pooled: &Tensor) -> Result<Tensor> {
        let mut out = pooled.clone();
        if let Some(head) = &self.head {
            out = head.forward(&out)?;
        }
        if self.folder.normalize {
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
        match self.pooling {
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

fn prefixed(prefix: &str, texts: &[&str]) -> Vec<String> {
    texts.iter().map(|t| format!("{prefix}{t}")).collect()
}

fn as_strs(owned: &[String]) -> Vec<&str> {
    owned.iter().map(String::as_str).collect()
}

/// The folder's Dense module (read by trawl-embed, as inference reads it) as trainable `Var`s.
fn load_dense(
    m: &trawl_embed::DenseModule,
    vars: &VarMap,
    opts: &LoadOptions,
) -> Result<DenseHead> {
    let (weight, bias) = trawl_embed::load_dense_tensors(m).map_err(Error::ModelLookup)?;
    let mut data = vars.data().lock().expect("fresh VarMap lock");
    let mut var = |name: &str, t: Tensor| -> Result<Tensor> {
        let v = Var::from_tensor(&t.to_dtype(opts.dtype)?.to_device(&opts.device)?)?;
        let out = v.as_tensor().clone();
        data.insert(name.to_string(), v);
        Ok(out)
    };
    let weight = var("linear.weight", weight)?;
    let bias = bias.map(|b| var("linear.bias", b)).transpose()?;
    Ok(DenseHead {
        config: m.config.clone(),
        activation: m.activation,
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
