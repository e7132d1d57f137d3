//! Token boundaries from a Hugging Face `tokenizer.json` (feature `tokenizers`).

use std::path::{Path, PathBuf};

use crate::{Error, Result, Tokenize};

/// A `tokenizer.json` used only for where tokens start: no special tokens, no truncation.
pub struct HfTokenizer {
    inner: tokenizers::Tokenizer,
    path: PathBuf,
}

impl HfTokenizer {
    /// Loads `path`: a `tokenizer.json` file, or a model folder holding one.
    pub fn load(path: &Path) -> Result<Self> {
        let file = if path.is_dir() {
            path.join("tokenizer.json")
        } else {
            path.to_path_buf()
        };
        let err = |message: String| Error::Tokenizer {
            path: file.clone(),
            message,
        };
        if !file.is_file() {
            return Err(err(
                "not found; give a model folder holding tokenizer.json, or the file itself".into(),
            ));
        }
        let mut inner = tokenizers::Tokenizer::from_file(&file).map_err(|e| err(e.to_string()))?;
        inner.with_padding(None);
        inner
            .with_truncation(None)
            .map_err(|e| err(e.to_string()))?;
        Ok(HfTokenizer { inner, path: file })
    }
}

impl Tokenize for HfTokenizer {
    fn token_starts(&self, text: &str) -> Result<Vec<usize>> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| Error::Tokenizer {
                path: self.path.clone(),
                message: e.to_string(),
            })?;
        Ok(enc
            .get_offsets()
            .iter()
            .filter(|(s, e)| e > s)
            .map(|(s, _)| *s)
            .collect())
    }
}
