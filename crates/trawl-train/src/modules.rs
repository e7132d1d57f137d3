//! What training supports of a folder's sentence-transformers modules. The folder itself
//! (modules.json, pooling, Dense, Normalize, prompts, do_lower_case) is read by trawl-embed's
//! [`trawl_embed::ModelConfig`], the same reader inference uses.

use std::path::Path;

pub use trawl_embed::{DenseActivation, DenseConfig};

use crate::{Error, Result};

/// The poolings the training backward implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    Mean,
    Cls,
}

impl Pooling {
    /// The folder's pooling, if training supports it.
    pub fn from_folder(p: trawl_embed::Pooling, dir: &Path) -> Result<Self> {
        match p {
            trawl_embed::Pooling::Mean => Ok(Pooling::Mean),
            trawl_embed::Pooling::Cls => Ok(Pooling::Cls),
            other => Err(Error::model(
                dir,
                format!("{other:?} pooling is not supported for training (mean or CLS)"),
            )),
        }
    }
}

pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::model(path, format!("invalid JSON: {e}")))
}
