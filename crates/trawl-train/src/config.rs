//! The model hyper-parameters training needs: trawl-embed's [`BertConfig`], read from the folder by
//! the one sentence-transformers reader ([`trawl_embed::ModelConfig`]), plus the checks of what the
//! trainable encoder implements.

use std::path::Path;

pub use trawl_embed::BertConfig;

use crate::{Error, Result};

/// Refuses configurations the trainable encoder (candle graph and packed backward) does not implement.
pub fn check_trainable(cfg: &BertConfig, path: &Path) -> Result<()> {
    if cfg.model_type != "bert" {
        return Err(Error::model(
            path,
            format!(
                "model_type `{}` is not supported for training (only `bert`)",
                cfg.model_type
            ),
        ));
    }
    Ok(())
}
