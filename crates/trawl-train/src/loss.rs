//! MultipleNegativesRankingLoss (InfoNCE over cosine similarity) with in-batch and hard negatives.
//!
//! Row `i` scores query `i` against every document column: the `B` positives first, then all hard
//! negatives. The target is column `i`. A column whose document is the same as query `i`'s own
//! positive (a duplicate positive elsewhere in the batch, or a hard negative equal to it) is masked
//! out, so one document is never both the answer and a negative; so is the positive of another
//! row with the same query (a query with several relevant documents).

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
///   to mask false negatives;
/// * `query_keys`: identity of each query (length `B`), or empty when all queries differ.
pub fn mnrl_loss(
    queries: &Tensor,
    docs: &Tensor,
    doc_keys: &[&str],
    query_keys: &[&str],
    cfg: &MnrlConfig,
) -> Result<Tensor> {
    let (b, _) = queries.dims2()?;
    let (n_docs, _) = docs.dims2()?;
    if n_docs < b || doc_keys.len() != n_docs || !(query_keys.is_empty() || query_keys.len() == b) {
        return Err(Error::InvalidOption(format!(
            "loss: {b} queries need at least {b} documents and one key per document (got {n_docs} documents, {} keys)",
            doc_keys.len()
        )));
    }
    let same_query = |i: usize, j: usize| !query_keys.is_empty() && query_keys[i] == query_keys[j];
    let q = l2_normalize(queries)?;
    let d = l2_normalize(docs)?;
    let scores = (q.matmul(&d.t()?)? * cfg.scale)?; // (B, B + N)
    let mut bias = vec![0f64; b * n_docs];
    for i in 0..b {
        for j in 0..n_docs {
            if j != i && (doc_keys[j] == doc_keys[i] || (j < b && same_query(i, j))) {
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
            if i != j && (doc_keys[i] == doc_keys[j] || same_query(i, j)) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn ce(row: &[f64], target: usize) -> f64 {
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = row.iter().map(|x| (x - m).exp()).sum::<f64>().ln() + m;
        lse - row[target]
    }

    #[test]
    fn masks_duplicate_positives_and_same_query_positives() {
        let dev = Device::Cpu;
        // Unit vectors: cosine = dot product.
        let q = Tensor::new(&[[1f64, 0.0], [0.0, 1.0], [1.0, 0.0]], &dev).unwrap();
        let d = Tensor::new(&[[0.6f64, 0.8], [0.8, 0.6], [0.0, 1.0], [1.0, 0.0]], &dev).unwrap();
        let cfg = MnrlConfig {
            scale: 2.0,
            symmetric: false,
        };
        // Doc 0 and doc 2 differ; doc 3 (a hard negative) duplicates doc 1; queries 0 and 2 are
        // the same query, so doc 2 is relevant to query 0 and doc 0 to query 2.
        let got = mnrl_loss(&q, &d, &["a", "b", "c", "b"], &["x", "y", "x"], &cfg).unwrap();
        let s = |i: usize, j: usize| {
            2.0 * q
                .get(i)
                .unwrap()
                .mul(&d.get(j).unwrap())
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f64>()
                .unwrap()
        };
        let want = (ce(&[s(0, 0), s(0, 1), s(0, 3)], 0)
            + ce(&[s(1, 0), s(1, 1), s(1, 2)], 1)
            + ce(&[s(2, 1), s(2, 2), s(2, 3)], 1))
            / 3.0;
        assert!((got.to_scalar::<f64>().unwrap() - want).abs() < 1e-12);
        // Without keys nothing is masked: a different value.
        let plain = mnrl_loss(&q, &d, &["a", "b", "c", "d"], &[], &cfg).unwrap();
        assert!((plain.to_scalar::<f64>().unwrap() - want).abs() > 1e-3);
    }
}
