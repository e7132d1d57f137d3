//! The model hyper-parameters training needs: trawl-embed's [`BertConfig`], read from the folder by
//! the one sentence-transformers reader ([`trawl_embed::ModelConfig`]), plus the checks of what the
//! trainable encoder implements.

use std::path::Path;

pub use trawl_embed::BertConfig;

use crate::{Error, Result};

/// The `model_type`s the trainable encoder implements.
pub const TRAINABLE_MODEL_TYPES: &str = "bert, mpnet";

/// Refuses configurations the trainable encoder (candle graph and packed backward) does not implement.
pub fn check_trainable(cfg: &BertConfig, path: &Path) -> Result<()> {
    if !matches!(cfg.model_type.as_str(), "bert" | "mpnet") {
        return Err(Error::model(
            path,
            format!(
                "model_type `{}` is not supported for training (supported: {TRAINABLE_MODEL_TYPES})",
                cfg.model_type
            ),
        ));
    }
    Ok(())
}
