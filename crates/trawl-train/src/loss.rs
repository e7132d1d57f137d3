//! MultipleNegativesRankingLoss (InfoNCE over cosine similarity) with in-batch and hard negatives.
//!
//! Row `i` scores query `i` against every document column: the `B` positives first, then all hard
//! negatives. The target is column `i`. A column whose document is the same as query `i`'s own
//! positive (a duplicate positive elsewhere in the batch, or a hard negative equal to it) is masked
//! out, so one document is never both the answer and a negative.

use candle_core::{Tensor, D};

use crate::bert::l2_normalize;
use crate::{Error, Result};

/// Loss settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MnrlConfig {
    /// Multiplier on cosine similarities (sentence-transformers' default 20 = temperature 0.05).
    pub scale: f64,
    /// Add the document-to-query direction (MultipleNegativesSymmetricRankingLoss).
    pub symmetric: bool,
}

impl Default for MnrlConfig {
    fn default() -> Self {
        Self {
            scale: 20.0,
            symmetric: false,
        }
    }
}

impl MnrlConfig {
    /// The scale for a softmax temperature (`0.07` -> scale 1/0.07).
    pub fn from_temperature(temperature: f64, symmetric: bool) -> Result<Self> {
        if !(temperature > 0.0 && temperature.is_finite()) {
            return Err(Error::InvalidOption(format!(
                "temperature must be > 0, got {temperature}"
            )));
        }
        Ok(Self {
            scale: 1.0 / temperature,
            symmetric,
        })
    }
}

const MASKED: f64 = -1e9;

/// The loss of one batch.
///
/// * `queries`: `(B, d)` query embeddings;
/// * `docs`: `(B + N, d)`: the B positives (row i answers query i), then N hard negatives;
/// * `doc_keys`: identity of each document column (a doc id or its text), length `B + N`, used
///   to mask false negatives.
pub fn mnrl_loss(
    queries: &Tensor,
    docs: &Tensor,
    doc_keys: &[&str],
    cfg: &MnrlConfig,
) -> Result<Tensor> {
    let (b, _) = queries.dims2()?;
    let (n_docs, _) = docs.dims2()?;
    if n_docs < b || doc_keys.len() != n_docs {
        return Err(Error::InvalidOption(format!(
            "loss: {b} queries need at least {b} documents and one key per document (got {n_docs} documents, {} keys)",
            doc_keys.len()
        )));
    }
    let q = l2_normalize(queries)?;
    let d = l2_normalize(docs)?;
    let scores = (q.matmul(&d.t()?)? * cfg.scale)?; // (B, B + N)
    let mut bias = vec![0f64; b * n_docs];
    for i in 0..b {
        for j in 0..n_docs {
            if j != i && doc_keys[j] == doc_keys[i] {
                bias[i * n_docs + j] = MASKED;
            }
        }
    }
    let bias = Tensor::from_vec(bias, (b, n_docs), queries.device())?.to_dtype(scores.dtype())?;
    let targets = Tensor::arange(0u32, b as u32, queries.device())?;
    let forward = cross_entropy(&(scores.add(&bias))?, &targets)?;
    if !cfg.symmetric {
        return Ok(forward);
    }
    // Positive j against all queries: query i is a false negative when it shares j's positive.
    let back_scores = scores.narrow(1, 0, b)?.t()?; // (B docs, B queries)
    let back_bias: Vec<f64> = (0..b * b)
        .map(|k| {
            let (j, i) = (k / b, k % b);
            if i != j && doc_keys[i] == doc_keys[j] {
                MASKED
            } else {
                0.0
            }
        })
        .collect();
    let back_bias =
        Tensor::from_vec(back_bias, (b, b), queries.device())?.to_dtype(scores.dtype())?;
    let backward = cross_entropy(&back_scores.add(&back_bias)?, &targets)?;
    Ok(((forward + backward)? * 0.5)?)
}

/// Mean negative log-likelihood of `targets` under a row-wise softmax of `logits`.
fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let log_probs = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    Ok(candle_nn::loss::nll(&log_probs, targets)?)
}
