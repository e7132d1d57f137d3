//! Evaluation during training: embed an [`EvalSet`]'s corpus and queries, exact cosine top-k,
//! then the same metric code as `trawl eval` (trawl-eval).

use candle_core::{Device, Tensor};
use trawl_data::Run;
use trawl_eval::{EvalOptions, Metric};

use crate::data::EvalSet;
use crate::model::SentenceModel;
use crate::{Error, Result};

/// Metric values by name (`nDCG@10`, ...) in the order asked.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalScores {
    pub values: Vec<(String, f64)>,
}

impl EvalScores {
    pub fn get(&self, metric: &Metric) -> Option<f64> {
        let name = metric.to_string();
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }
}

/// The metrics reported during training: nDCG@10, MRR@10, Recall@100.
pub fn default_metrics() -> Vec<Metric> {
    vec![
        Metric::Ndcg(Some(10)),
        Metric::Mrr(Some(10)),
        Metric::Recall(100),
    ]
}

/// Divides every row of the row-major `v` by its L2 norm.
pub(crate) fn normalize_rows(v: &mut [f32], dim: usize) {
    for row in v.chunks_mut(dim) {
        let n = row.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        row.iter_mut().for_each(|x| *x /= n);
    }
}

/// Exact top-`k` by inner product: `(doc index, score)` per query, best first (ties: lower index).
pub fn exact_top_k(
    queries: &[f32],
    docs: &[f32],
    dim: usize,
    k: usize,
) -> Result<Vec<Vec<(usize, f32)>>> {
    let nd = docs.len() / dim;
    let d = Tensor::from_slice(docs, (nd, dim), &Device::Cpu)?
        .t()?
        .contiguous()?;
    let mut out = Vec::new();
    for chunk in queries.chunks(256 * dim) {
        let q = Tensor::from_slice(chunk, (chunk.len() / dim, dim), &Device::Cpu)?;
        for row in q.matmul(&d)?.to_vec2::<f32>()? {
            let mut idx: Vec<usize> = (0..nd).collect();
            let by_score = |a: &usize, b: &usize| row[*b].total_cmp(&row[*a]).then(a.cmp(b));
            let kk = k.min(nd);
            if kk < nd {
                idx.select_nth_unstable_by(kk, by_score);
                idx.truncate(kk);
            }
            idx.sort_by(by_score);
            out.push(idx.into_iter().map(|i| (i, row[i])).collect());
        }
    }
    Ok(out)
}

/// Embeds `set` with `model` (inference mode) and evaluates `metrics`.
pub fn evaluate_dense(
    model: &SentenceModel,
    set: &EvalSet,
    metrics: &[Metric],
    batch_size: usize,
) -> Result<EvalScores> {
    evaluate_dense_with(model, set, metrics, batch_size, None)
}

/// [`evaluate_dense`], given the corpus's embeddings when they are already computed (by
/// [`crate::mining::embed_corpus`] with the same weights and batch size, e.g. for a negatives
/// refresh over the same corpus at the same step).
pub fn evaluate_dense_with(
    model: &SentenceModel,
    set: &EvalSet,
    metrics: &[Metric],
    batch_size: usize,
    corpus_embeddings: Option<&[f32]>,
) -> Result<EvalScores> {
    if set.queries.is_empty() || set.corpus.is_empty() {
        return Err(Error::InvalidOption(
            "evaluation set has no queries or no documents".into(),
        ));
    }
    let dim = model.dim();
    let owned;
    let docs = match corpus_embeddings {
        Some(d) if d.len() == set.corpus.len() * dim => d,
        _ => {
            owned = crate::mining::embed_corpus(model, set, batch_size)?;
            &owned
        }
    };
    let qs = crate::mining::embed_queries(model, set, batch_size)?;
    let k = metrics.iter().map(depth).max().unwrap_or(100).max(1);
    let mut run = Run::new();
    for ((qid, _), hits) in set.queries.iter().zip(exact_top_k(&qs, docs, dim, k)?) {
        for (i, score) in hits {
            run.push(qid.clone(), set.corpus[i].0.clone(), score as f64);
        }
    }
    let ev = trawl_eval::evaluate(&set.qrels, &run, metrics, &EvalOptions::default())
        .map_err(|e| Error::InvalidOption(format!("evaluation failed: {e}")))?;
    Ok(EvalScores {
        values: metrics.iter().map(|m| m.to_string()).zip(ev.mean).collect(),
    })
}

fn depth(m: &Metric) -> usize {
    match *m {
        Metric::Ndcg(k) | Metric::Mrr(k) | Metric::Map(k) => k.unwrap_or(1000),
        Metric::Recall(k) | Metric::Precision(k) | Metric::Hit(k) => k,
    }
}
