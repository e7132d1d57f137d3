//! Contrastive fine-tuning of dense retrievers in pure Rust (candle).
//!
//! Module map: [`config`] (BERT `config.json`), [`bert`] (a trainable BERT whose every op has a
//! backward pass), [`dropout`] (seeded masks), [`modules`] (sentence-transformers module files),
//! [`model`] (tokenizer + BERT + pooling + optional projection), [`loss`]
//! (MultipleNegativesRankingLoss), [`testkit`] (a tiny random model for tests).

pub mod bert;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod dropout;
pub mod error;
pub mod evaluate;
pub mod loss;
pub mod model;
pub mod modules;
pub mod optim;
pub mod testkit;
pub mod trainer;

pub use error::{Error, Result};
pub use loss::{mnrl_loss, MnrlConfig};
pub use model::{LoadOptions, SentenceModel};
