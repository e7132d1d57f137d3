//! `SentenceEncoder`: text in, sentence-transformers-equal embeddings out.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use crate::candle_bert::CandleBert;
use crate::config::{Family, ModelConfig, Pooling};
use crate::dense::Dense;
use crate::fused::FusedBert;
use crate::qwen3::{Qwen3Candle, Qwen3Fused};
use crate::tokenize::TextTokenizer;
use crate::weights::{load_weights_from, read_tensors, weights_path};
use crate::{pooling, Embeddings, Error, Quantize, Result};

/// Where inference runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Device {
    #[default]
    Cpu,
    /// A CUDA GPU by ordinal (needs the `cuda` cargo feature).
    Cuda(usize),
}

/// Which forward implementation runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// Fused CPU kernels on CPU, candle tensors on a GPU.
    #[default]
    Auto,
    /// The fused CPU path (packed sequences, no padding). CPU only.
    Fused,
    /// candle tensor operations (padded batches); any device.
    Candle,
}

/// How to load and run a model. `Default` gives CPU, batch 32, the model's own settings.
#[derive(Debug, Clone)]
pub struct EncoderOptions {
    pub device: Device,
    pub backend: Backend,
    /// Texts per forward pass (sorted by length first, like sentence-transformers).
    pub batch_size: usize,
    /// Tokens per text including [CLS]/[SEP]; None: the model's max_seq_length.
    pub max_seq_len: Option<usize>,
    /// Overrides the model's query prefix ("query: " for e5, an instruction for BGE).
    pub query_prefix: Option<String>,
    /// Overrides the model's document prefix ("passage: " for e5).
    pub document_prefix: Option<String>,
    /// Overrides whether vectors are L2-normalised (default: a Normalize module in modules.json).
    pub normalize: Option<bool>,
    /// `Int8`: dynamic int8 quantisation of the encoder's Linear layers (fused CPU backend).
    pub quantize: Quantize,
}

impl Default for EncoderOptions {
    fn default() -> Self {
        EncoderOptions {
            device: Device::Cpu,
            backend: Backend::Auto,
            batch_size: 32,
            max_seq_len: None,
            query_prefix: None,
            document_prefix: None,
            normalize: None,
            quantize: Quantize::None,
        }
    }
}

enum Engine {
    Fused(FusedBert),
    Candle(CandleBert),
    Qwen3Fused(Qwen3Fused),
    Qwen3Candle(Qwen3Candle),
}

/// A loaded sentence-embedding model.
pub struct SentenceEncoder {
    name: String,
    cfg: ModelConfig,
    tokenizer: TextTokenizer,
    engine: Engine,
    /// The Dense modules after pooling, in order.
    dense: Vec<Dense>,
    batch_size: usize,
    max_seq_len: usize,
    normalize: bool,
    query_prefix: String,
    document_prefix: String,
}

/// Called with (texts done, texts total) as batches finish; may be called from several threads.
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Sync);

impl SentenceEncoder {
    /// Loads a model from a folder path or a hub id (see [`crate::resolve_model_dir`]).
    pub fn load(name_or_path: &str, opts: &EncoderOptions) -> Result<SentenceEncoder> {
        let dir = crate::resolve_model_dir(name_or_path)?;
        let mut cfg = ModelConfig::read(&dir)?;
        // Prefix conventions follow the name the user gave (a hub id), else the folder name.
        let (q, d) = crate::config::known_prefixes(name_or_path);
        if !q.is_empty() || !d.is_empty() {
            (cfg.query_prefix, cfg.document_prefix) = (q, d);
        }
        if opts.batch_size == 0 {
            return Err(Error::InvalidOption("batch size must be at least 1".into()));
        }
        let max_seq_len = match opts.max_seq_len {
            Some(n) if n < 2 => {
                return Err(Error::InvalidOption(format!(
                    "max sequence length {n} leaves no room for [CLS] and [SEP]"
                )))
            }
            Some(n) => n.min(cfg.bert.max_position_embeddings - cfg.bert.position_offset),
            None => cfg.max_seq_length,
        };
        let tokenizer = TextTokenizer::load(&dir, max_seq_len, cfg.do_lower_case)?;
        let candle_device = match opts.device {
            Device::Cpu => None,
            Device::Cuda(ordinal) => Some(cuda_device(ordinal)?),
        };
        let path = weights_path(&dir)?;
        let tensors = read_tensors(&path)?;
        let mut dense = Vec::with_capacity(cfg.dense.len());
        let mut width = cfg.bert.hidden_size;
        for m in &cfg.dense {
            let d = Dense::load(m)?;
            if d.in_features() != width {
                return Err(Error::BadConfig {
                    path: m.dir.join("config.json"),
                    message: format!(
                        "in_features is {}, but the module before it gives vectors of width {width}",
                        d.in_features()
                    ),
                });
            }
            width = d.out_features();
            dense.push(d);
        }
        if let (Backend::Fused, Some(_)) = (opts.backend, &candle_device) {
            return Err(Error::InvalidOption(
                "the fused backend runs on CPU only".into(),
            ));
        }
        let fused =
            matches!(opts.backend, Backend::Auto | Backend::Fused) && candle_device.is_none();
        if opts.quantize != Quantize::None && !fused {
            return Err(Error::InvalidOption(format!(
                "--quantize {} runs on the fused CPU backend only, not on {}",
                opts.quantize,
                if candle_device.is_some() {
                    "a GPU"
                } else {
                    "the candle backend"
                }
            )));
        }
        if opts.quantize != Quantize::None && cfg.bert.family == Family::Qwen3 {
            return Err(Error::InvalidOption(format!(
                "--quantize {} is not available for Qwen3 models yet; encode them with --quantize none",
                opts.quantize
            )));
        }
        let device = candle_device.unwrap_or(candle_core::Device::Cpu);
        let to_vecs = |t: candle_core::Tensor| Ok(t.flatten_all()?.to_vec1::<f32>()?);
        let engine = if cfg.bert.family == Family::Qwen3 {
            let weights = crate::qwen3::load_weights(&tensors, &path, &cfg.bert)?;
            if fused {
                Engine::Qwen3Fused(Qwen3Fused::new(cfg.bert.clone(), weights.try_map(to_vecs)?))
            } else {
                let left = crate::qwen3::pads_left(&dir);
                Engine::Qwen3Candle(Qwen3Candle::new(cfg.bert.clone(), weights, device, left)?)
            }
        } else {
            let weights = load_weights_from(&tensors, &path, &cfg.bert)?;
            if fused {
                let mut m = FusedBert::new(cfg.bert.clone(), weights.try_map(to_vecs)?);
                if opts.quantize == Quantize::Int8 {
                    m.quantize_int8();
                }
                Engine::Fused(m)
            } else {
                Engine::Candle(CandleBert::new(cfg.bert.clone(), weights, device)?)
            }
        };
        drop(tensors);
        Ok(SentenceEncoder {
            name: model_name(name_or_path, &dir),
            normalize: opts.normalize.unwrap_or(cfg.normalize),
            query_prefix: opts
                .query_prefix
                .clone()
                .unwrap_or_else(|| cfg.query_prefix.clone()),
            document_prefix: opts
                .document_prefix
                .clone()
                .unwrap_or_else(|| cfg.document_prefix.clone()),
            batch_size: opts.batch_size,
            max_seq_len,
            cfg,
            tokenizer,
            engine,
            dense,
        })
    }

    /// Embedding width (the last Dense module's output, else the hidden size).
    pub fn dim(&self) -> usize {
        self.dense
            .last()
            .map_or(self.cfg.bert.hidden_size, Dense::out_features)
    }
    /// The model's name as given (hub id or folder name).
    pub fn model_name(&self) -> &str {
        &self.name
    }
    /// Alias of [`SentenceEncoder::model_name`].
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn model_dir(&self) -> &Path {
        &self.cfg.dir
    }
    /// Tokens per text (with [CLS]/[SEP]) beyond which text is truncated.
    pub fn max_seq_len(&self) -> usize {
        self.max_seq_len
    }
    pub fn pooling(&self) -> Pooling {
        self.cfg.pooling
    }
    /// Whether output vectors are L2-normalised (then inner product = cosine).
    pub fn normalizes(&self) -> bool {
        self.normalize
    }
    pub fn query_prefix(&self) -> &str {
        &self.query_prefix
    }
    pub fn document_prefix(&self) -> &str {
        &self.document_prefix
    }
    /// How the encoder's Linear layers run (f32, or int8 after `EncoderOptions::quantize`).
    pub fn quantize(&self) -> Quantize {
        match &self.engine {
            Engine::Fused(m) if m.is_int8() => Quantize::Int8,
            _ => Quantize::None,
        }
    }

    /// Embeds queries (with the model's query prefix).
    pub fn encode_queries(&self, texts: &[&str]) -> Result<Embeddings> {
        self.encode_with_prefix(texts, &self.query_prefix, None)
    }
    /// Embeds documents/passages (with the model's document prefix).
    pub fn encode_documents(&self, texts: &[&str]) -> Result<Embeddings> {
        self.encode_with_prefix(texts, &self.document_prefix, None)
    }
    /// Like [`SentenceEncoder::encode_documents`], reporting progress for long corpora.
    pub fn encode_documents_with_progress(
        &self,
        texts: &[&str],
        progress: Progress<'_>,
    ) -> Result<Embeddings> {
        self.encode_with_prefix(texts, &self.document_prefix, Some(progress))
    }
    /// Like [`SentenceEncoder::encode_queries`], reporting progress.
    pub fn encode_queries_with_progress(
        &self,
        texts: &[&str],
        progress: Progress<'_>,
    ) -> Result<Embeddings> {
        self.encode_with_prefix(texts, &self.query_prefix, Some(progress))
    }
    /// Embeds texts without a query or document prefix (as sentence-transformers' `encode`
    /// without a prompt: only the folder's default prompt, if `default_prompt_name` names one).
    pub fn encode(&self, texts: &[&str]) -> Result<Embeddings> {
        self.encode_with_prefix(texts, &self.cfg.default_prompt, None)
    }

    fn encode_with_prefix(
        &self,
        texts: &[&str],
        prefix: &str,
        progress: Option<Progress<'_>>,
    ) -> Result<Embeddings> {
        let owned: Vec<String> = texts.iter().map(|t| format!("{prefix}{t}")).collect();
        let ids = self.tokenizer.encode_all(&owned)?;
        self.encode_ids(&ids, progress)
    }

    /// Runs token id sequences (already with special tokens) through the model.
    fn encode_ids(&self, ids: &[Vec<u32>], progress: Option<Progress<'_>>) -> Result<Embeddings> {
        let (n, h, dim) = (ids.len(), self.cfg.bert.hidden_size, self.dim());
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(ids[i].len()));
        let batches: Vec<&[usize]> = order.chunks(self.batch_size).collect();
        let done = AtomicUsize::new(0);
        let threads = rayon::current_num_threads();
        let run = |batch: &&[usize], inner_threads: usize| -> Result<Vec<f32>> {
            let seqs: Vec<Vec<u32>> = batch.iter().map(|&i| ids[i].clone()).collect();
            let (hidden, starts) = match &self.engine {
                Engine::Fused(m) => m.forward(&seqs, inner_threads),
                Engine::Candle(m) => m.forward(&seqs)?,
                Engine::Qwen3Fused(m) => m.forward(&seqs, inner_threads),
                Engine::Qwen3Candle(m) => m.forward(&seqs)?,
            };
            let mut out = vec![0f32; seqs.len() * h];
            pooling::pool(&hidden, &starts, h, self.cfg.pooling, &mut out);
            for d in &self.dense {
                out = d.apply(&out);
            }
            if self.normalize {
                pooling::normalize(&mut out, dim);
            }
            let d = done.fetch_add(seqs.len(), Ordering::Relaxed) + seqs.len();
            if let Some(p) = progress {
                p(d, n);
            }
            Ok(out)
        };
        // Many batches on the fused path: one batch per core, each single-threaded (no
        // synchronisation inside a batch). Few batches or candle: batches in turn, each parallel.
        let pooled: Vec<Vec<f32>> = match &self.engine {
            Engine::Fused(_) | Engine::Qwen3Fused(_)
                if batches.len() >= 2 * threads && threads > 1 =>
            {
                batches
                    .par_iter()
                    .with_max_len(1)
                    .map(|b| run(b, 1))
                    .collect::<Result<_>>()?
            }
            _ => batches
                .iter()
                .map(|b| run(b, threads))
                .collect::<Result<_>>()?,
        };
        let mut data = vec![0f32; n * dim];
        for (batch, vecs) in batches.iter().zip(&pooled) {
            for (j, &i) in batch.iter().enumerate() {
                data[i * dim..(i + 1) * dim].copy_from_slice(&vecs[j * dim..(j + 1) * dim]);
            }
        }
        Ok(Embeddings { data, n, dim })
    }
}

pub(crate) fn model_name(given: &str, dir: &Path) -> String {
    if PathBuf::from(given).is_dir() {
        dir.canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()))
            .unwrap_or_else(|| given.to_string())
    } else {
        given.to_string()
    }
}

#[cfg(feature = "cuda")]
fn cuda_device(ordinal: usize) -> Result<candle_core::Device> {
    candle_core::Device::new_cuda(ordinal).map_err(|e| Error::CudaUnavailable {
        ordinal,
        message: e.to_string(),
    })
}

#[cfg(not(feature = "cuda"))]
fn cuda_device(_ordinal: usize) -> Result<candle_core::Device> {
    Err(Error::CudaNotCompiled)
}
