//! Contrastive fine-tuning of dense retrievers in pure Rust (candle): MultipleNegativesRanking
//! loss with in-batch and hard negatives, hard-negative mining, evaluation during training, and
//! output as a sentence-transformers folder.
//!
//! Module map: [`config`] (BERT `config.json`), [`bert`] (a trainable BERT whose every op has a
//! backward pass), [`dropout`] (seeded masks), [`modules`] (sentence-transformers module files),
//! [`model`] (tokenizer + BERT + pooling + optional projection), [`packed`] (the fast CPU
//! training path: hand-written forward and backward over packed sequences), [`loss`] (MNRL / InfoNCE), [`isotropy`] (the isotropy regulariser),
//! [`data`] (training data readers, splits), [`optim`] (AdamW, schedule, clipping),
//! [`evaluate`] (dense evaluation with trawl-eval), [`trainer`] (the loop), [`job`] (a whole
//! `trawl train` run: locks, data, loop, output folder), [`checkpoint`]
//! (saving folders), [`resume`] (resumable state), [`mining`] (hard negatives), [`refresh`]
//! (ANCE-style re-mining of negatives during training), [`testkit`] (a tiny random model for tests).
//!
//! # Quickstart
//! ```
//! use trawl_train::data::TrainExample;
//! use trawl_train::trainer::{train, TrainConfig};
//! use trawl_train::{checkpoint, testkit, LoadOptions, SentenceModel};
//!
//! let dir = tempfile::tempdir()?;
//! testkit::write_tiny_model(dir.path(), 1)?; // or a real folder such as models/all-MiniLM-L6-v2
//! let model = SentenceModel::load(dir.path(), &LoadOptions::default())?;
//! let ex = |q: &str, p: &str| TrainExample { query: q.into(), positive: p.into(), negatives: vec![] };
//! let examples = vec![ex("what is the cat", "the cat sat"), ex("where is the dog", "the dog ran"),
//!                     ex("what is red", "the sky is blue"), ex("who reads", "read a book")];
//! let cfg = TrainConfig { batch_size: 2, max_steps: Some(2), lr: 1e-3, ..Default::default() };
//! let summary = train(&model, &examples, None, &cfg, &dir.path().join("run"), false, &mut |_| {})?;
//! assert_eq!(summary.steps, 2);
//! checkpoint::save_model(&model, &dir.path().join("my-model"), false, &[])?;
//! let reloaded = SentenceModel::load(&dir.path().join("my-model"), &LoadOptions::default())?;
//! assert_eq!(reloaded.embed(&["the cat"], 8)?, model.embed(&["the cat"], 8)?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod bert;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod dropout;
pub mod error;
pub mod evaluate;
pub mod fused;
pub mod isotropy;
pub mod job;
pub mod loss;
pub mod mining;
pub mod model;
pub mod modules;
pub mod optim;
pub mod packed;
pub mod refresh;
pub mod resume;
pub mod testkit;
pub mod trainer;

pub use error::{Error, Result};
pub use isotropy::{IsotropyConfig, IsotropyKind};
pub use loss::{mnrl_loss, MnrlConfig};
pub use model::{LoadOptions, SentenceModel};
