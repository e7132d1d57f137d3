//! Tokenization as sentence-transformers does it: optional lowercasing, [CLS] text [SEP],
//! truncation to max_seq_length tokens, no padding (the forward pass packs sequences).

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use tokenizers::{Tokenizer, TruncationParams};

use crate::{Error, Result};

/// A folder's tokenizer.json set up as sentence-transformers uses it (shared by inference and
/// training, so both lowercase and truncate alike).
pub struct TextTokenizer {
    inner: Tokenizer,
    path: PathBuf,
    lowercase: bool,
}

impl TextTokenizer {
    /// `dir`/tokenizer.json, truncating to `max_len` tokens, lowercasing first when `lowercase`.
    pub fn load(dir: &Path, max_len: usize, lowercase: bool) -> Result<TextTokenizer> {
        let path = dir.join("tokenizer.json");
        if !path.exists() {
            return Err(Error::MissingFile {
                path,
                what: "tokenizer (tokenizer.json)".into(),
            });
        }
        let err = |e: Box<dyn std::error::Error + Send + Sync>| Error::Tokenizer {
            path: path.clone(),
            message: e.to_string(),
        };
        let mut inner = Tokenizer::from_file(&path).map_err(err)?;
        inner.with_padding(None);
        inner
            .with_truncation(Some(TruncationParams {
                max_length: max_len,
                ..Default::default()
            }))
            .map_err(err)?;
        Ok(TextTokenizer {
            inner,
            path,
            lowercase,
        })
    }

    /// The tokenizer.json this was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Token ids and token type ids of each (first, second) pair as the tokenizer's pair template
    /// joins them (BERT: `[CLS] a [SEP] b [SEP]`, types 0 then 1), truncated `longest_first`
    /// (one token at a time from the longer side) as Hugging Face tokenizers do for pairs.
    pub fn encode_pairs(&self, pairs: &[(&str, &str)]) -> Result<Vec<(Vec<u32>, Vec<u32>)>> {
        pairs
            .par_iter()
            .with_min_len(64)
            .map(|&(a, b)| {
                let (a, b) = if self.lowercase {
                    (a.to_lowercase(), b.to_lowercase())
                } else {
                    (a.to_string(), b.to_string())
                };
                let enc = self
                    .inner
                    .encode((a, b), true)
                    .map_err(|e| Error::Tokenizer {
                        path: self.path.clone(),
                        message: e.to_string(),
                    })?;
                Ok((enc.get_ids().to_vec(), enc.get_type_ids().to_vec()))
            })
            .collect()
    }

    /// Token ids of each text (with special tokens, truncated), tokenized in parallel.
    pub fn encode_all(&self, texts: &[String]) -> Result<Vec<Vec<u32>>> {
        texts
            .par_iter()
            .with_min_len(64)
            .map(|t| {
                let lowered;
                let text = if self.lowercase {
                    lowered = t.to_lowercase();
                    lowered.as_str()
                } else {
                    t.as_str()
                };
                let enc = self
                    .inner
                    .encode(text, true)
                    .map_err(|e| Error::Tokenizer {
                        path: self.path.clone(),
                        message: e.to_string(),
                    })?;
                Ok(enc.get_ids().to_vec())
            })
            .collect()
    }
}
