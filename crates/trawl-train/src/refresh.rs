//! ANCE-style refresh of hard negatives during training (Xiong et al., 2021): every N optimizer
//! steps the mining corpus is re-encoded with the current weights and every training query's
//! negatives are re-mined from that index. A refresh is `trawl mine-negatives --retriever dense`
//! run in-process: the same embedding ([`embed_corpus`], [`embed_queries`]: the model's
//! inference forward, as evaluation uses it), the same exact top-k and the same selection
//! ([`mine`]), so the lines a refresh at step s mines equal what `trawl mine-negatives` writes
//! with the checkpoint of step s and the same settings (the training seed as `--seed`, the
//! evaluation batch size as `--batch-size`).
//!
//! The corpus is a BEIR folder given as training data (its documents, its training queries and
//! qrels) or a knowledge base ([`corpus_from_kb`]: its live documents, the training queries, and
//! each positive found in it by text).

use std::collections::HashMap;
use std::time::Instant;

use crate::data::{document_text, EvalSet, TrainExample};
use crate::mining::{
    dense_candidates_from, embed_corpus, embed_queries, mine, MinedExample, MiningConfig, ScoreKind,
};
use crate::model::SentenceModel;
use crate::{Error, Result};

/// When and how negatives are re-mined.
#[derive(Debug, Clone)]
pub struct RefreshConfig {
    /// Refresh after optimizer steps N, 2N, ... (not after the last step: nothing would use it).
    pub every: u64,
    /// Negatives per query, candidate ranks, margin, strategy and seed (as `trawl mine-negatives`).
    pub mining: MiningConfig,
}

impl RefreshConfig {
    pub fn validate(&self) -> Result<()> {
        if self.every == 0 {
            return Err(Error::InvalidOption(
                "--refresh-negatives-every must be at least 1 (optimizer steps between refreshes)"
                    .into(),
            ));
        }
        if self.mining.num == 0 {
            return Err(Error::InvalidOption(
                "--refresh-num must be at least 1 (negatives mined per query)".into(),
            ));
        }
        Ok(())
    }

    /// Whether a refresh follows optimizer step `step` of a run of `total` steps.
    pub fn due(&self, step: u64, total: u64) -> bool {
        self.every > 0 && step > 0 && step < total && step.is_multiple_of(self.every)
    }
}

/// What one refresh did and cost.
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshReport {
    pub step: u64,
    pub documents: usize,
    pub queries: usize,
    /// Mined lines (one per query and positive) and the negatives in them.
    pub lines: usize,
    pub negatives: usize,
    /// Embedding the corpus and the queries.
    pub encode_seconds: f64,
    /// Exact top-k and selection.
    pub mine_seconds: f64,
    /// The corpus embeddings were computed once for this step's evaluation and this refresh.
    pub shared_with_eval: bool,
}

impl RefreshReport {
    pub fn seconds(&self) -> f64 {
        self.encode_seconds + self.mine_seconds
    }

    /// The `train_log.jsonl` record.
    pub fn log_record(&self) -> serde_json::Value {
        serde_json::json!({
            "event": "refresh", "step": self.step, "documents": self.documents,
            "queries": self.queries, "lines": self.lines, "negatives": self.negatives,
            "encode_seconds": self.encode_seconds, "mine_seconds": self.mine_seconds,
            "seconds": self.seconds(), "shared_with_eval": self.shared_with_eval,
        })
    }
}

/// Re-mines negatives for `set` with `model`'s current weights. `corpus` holds the corpus
/// embeddings when already computed at this step ([`embed_corpus`] with `batch_size`), with the
/// seconds they took.
pub fn refresh(
    model: &SentenceModel,
    set: &EvalSet,
    cfg: &MiningConfig,
    batch_size: usize,
    corpus: Option<(&[f32], f64)>,
    step: u64,
) -> Result<(Vec<MinedExample>, RefreshReport)> {
    let t = Instant::now();
    let owned;
    let (docs, docs_seconds) = match corpus {
        Some((d, secs)) => (d, secs),
        None => {
            owned = embed_corpus(model, set, batch_size)?;
            (owned.as_slice(), 0.0)
        }
    };
    let queries = embed_queries(model, set, batch_size)?;
    let encode_seconds = t.elapsed().as_secs_f64() + docs_seconds;
    let t = Instant::now();
    // As `trawl mine-negatives`: candidates a little past the range (positives are skipped).
    let k = cfg.range.1 + 16;
    let cands = dense_candidates_from(set, docs, &queries, model.dim(), k)?;
    let mined = mine(set, &cands, ScoreKind::Cosine, cfg)?;
    let report = RefreshReport {
        step,
        documents: set.corpus.len(),
        queries: set.queries.len(),
        lines: mined.len(),
        negatives: mined.iter().map(|m| m.negatives.len()).sum(),
        encode_seconds,
        mine_seconds: t.elapsed().as_secs_f64(),
        shared_with_eval: corpus.is_some(),
    };
    Ok((mined, report))
}

/// Gives every example the negatives mined for its (query, positive) pair (replacing the ones it
/// had); an example without a mined line keeps its own. Returns how many were replaced.
pub fn apply(examples: &mut [TrainExample], mined: &[MinedExample]) -> usize {
    let by_pair: HashMap<(&str, &str), &MinedExample> = mined
        .iter()
        .rev() // the first line of a pair wins
        .map(|m| ((m.query.as_str(), m.positive.as_str()), m))
        .collect();
    let mut replaced = 0;
    for e in examples.iter_mut() {
        if let Some(m) = by_pair.get(&(e.query.as_str(), e.positive.as_str())) {
            e.negatives = m.negatives.clone();
            replaced += 1;
        }
    }
    replaced
}

/// A mining set over a knowledge base: its live documents (`title text`, as BEIR documents are
/// embedded) in ordinal order, the distinct training queries (ids `q0`, `q1`, ... in order of
/// appearance) and, as each query's positives, the documents whose text equals one of its
/// examples' positive. A positive the KB does not hold joins the corpus (id `train-positive-N`),
/// so that every example gets mined negatives and no positive is mined as its own negative.
pub fn corpus_from_kb(kb: &trawl_kb::KnowledgeBase, examples: &[TrainExample]) -> Result<EvalSet> {
    let mut corpus = Vec::with_capacity(kb.num_live());
    for ordinal in 0..kb.num_docs() as u32 {
        if kb.is_deleted(ordinal) {
            continue;
        }
        let d = kb.document(ordinal)?;
        corpus.push((d.id.to_string(), document_text(d.title, d.text)));
    }
    if corpus.is_empty() {
        return Err(Error::InvalidOption(format!(
            "knowledge base {} has no documents to mine negatives from",
            kb.dir().display()
        )));
    }
    let mut by_text: HashMap<String, String> = HashMap::new();
    for (id, text) in &corpus {
        by_text.entry(text.clone()).or_insert_with(|| id.clone());
    }
    let mut set = EvalSet::default();
    let mut query_ids: HashMap<&str, String> = HashMap::new();
    let mut extra = 0usize;
    for e in examples {
        let qid = match query_ids.get(e.query.as_str()) {
            Some(q) => q.clone(),
            None => {
                let q = format!("q{}", query_ids.len());
                query_ids.insert(&e.query, q.clone());
                set.queries.push((q.clone(), e.query.clone()));
                q
            }
        };
        let doc = match by_text.get(e.positive.trim()) {
            Some(id) => id.clone(),
            None => {
                let id = format!("train-positive-{extra}");
                extra += 1;
                corpus.push((id.clone(), e.positive.trim().to_string()));
                by_text.insert(e.positive.trim().to_string(), id.clone());
                id
            }
        };
        set.qrels.insert(qid, doc, 1);
    }
    set.corpus = corpus;
    Ok(set)
}

/// Where a KB came from and which content it held: folder, generation, content hash, live
/// documents (what a training log records so the model can be traced to the exact KB).
pub fn kb_source(kb: &trawl_kb::KnowledgeBase) -> serde_json::Value {
    serde_json::json!({
        "path": kb.dir().display().to_string(),
        "generation": kb.generation(),
        "content_hash": kb.manifest().content_hash,
        "num_live": kb.num_live(),
    })
}
