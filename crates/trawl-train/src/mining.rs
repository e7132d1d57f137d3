//! Hard-negative mining: retrieve candidates for each training query (BM25 or a dense model),
//! skip the query's positives, keep ranks inside `range`, drop candidates scoring too close to
//! the positive (likely unlabelled positives), then pick `num` by strategy.
//!
//! Margins: with dense retrieval scores are cosines and the margin is absolute (drop when
//! `score > positive - margin`); with BM25 scores are unbounded and the margin is relative (drop
//! when `score > positive * (1 - margin)`), applied only when a positive was retrieved (its BM25
//! score is then known).

use std::collections::{HashMap, HashSet};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::data::EvalSet;
use crate::evaluate::{exact_top_k, normalize_rows};
use crate::model::SentenceModel;
use crate::{Error, Result};

/// How negatives are picked among the surviving candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// The highest-ranked candidates.
    Top,
    /// A seeded uniform sample.
    Random,
    /// The highest-ranked candidates scoring below the positive by at least the margin and at
    /// most the margin plus `semi_hard_band` (FaceNet's semi-hard band); needs the positive's score.
    SemiHard,
}

impl std::str::FromStr for Strategy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "top" => Ok(Strategy::Top),
            "random" => Ok(Strategy::Random),
            "semi-hard" | "semihard" => Ok(Strategy::SemiHard),
            _ => Err(Error::InvalidOption(format!(
                "unknown strategy `{s}` (top, random, semi-hard)"
            ))),
        }
    }
}

/// Mining settings.
#[derive(Debug, Clone)]
pub struct MiningConfig {
    pub num: usize,
    /// 1-based inclusive rank range of candidates (e.g. 10..=100).
    pub range: (usize, usize),
    pub margin: Option<f64>,
    pub strategy: Strategy,
    /// Width of the semi-hard band below `positive - margin`.
    pub semi_hard_band: f64,
    pub seed: u64,
}

impl Default for MiningConfig {
    fn default() -> Self {
        Self {
            num: 5,
            range: (1, 100),
            margin: None,
            strategy: Strategy::Top,
            semi_hard_band: 0.1,
            seed: 42,
        }
    }
}

/// Parses "10-100" into (10, 100).
pub fn parse_range(s: &str) -> Result<(usize, usize)> {
    let bad = || {
        Error::InvalidOption(format!(
            "range `{s}`: expected FROM-TO with 1 <= FROM <= TO, e.g. 10-100"
        ))
    };
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let (a, b): (usize, usize) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    );
    if a == 0 || a > b {
        return Err(bad());
    }
    Ok((a, b))
}

/// Which kind of scores the candidates carry (decides how the margin applies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreKind {
    Cosine,
    Bm25,
}

/// Ranked candidates for one query and the best score among its positives, when known.
#[derive(Debug, Clone)]
pub struct Candidates {
    pub ranked: Vec<(usize, f32)>,
    pub positive_score: Option<f32>,
}

/// One mined training line.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MinedExample {
    pub query: String,
    pub positive: String,
    pub negatives: Vec<String>,
    pub query_id: String,
    pub positive_id: String,
    pub negative_ids: Vec<String>,
}

/// Picks negatives for one query from `cands` (see module docs).
pub fn select_negatives(
    cands: &Candidates,
    positives: &HashSet<usize>,
    kind: ScoreKind,
    cfg: &MiningConfig,
    rng: &mut ChaCha8Rng,
) -> Vec<usize> {
    let (lo, hi) = cfg.range;
    let limit = |pos: f32, m: f64| -> f32 {
        match kind {
            ScoreKind::Cosine => pos - m as f32,
            ScoreKind::Bm25 => pos * (1.0 - m as f32),
        }
    };
    let ceiling = match (cfg.margin, cands.positive_score) {
        (Some(m), Some(p)) => limit(p, m),
        (None, Some(p)) if cfg.strategy == Strategy::SemiHard => p,
        _ => f32::INFINITY,
    };
    let floor = match (cfg.strategy, cands.positive_score) {
        (Strategy::SemiHard, Some(p)) => limit(p, cfg.margin.unwrap_or(0.0) + cfg.semi_hard_band),
        _ => f32::NEG_INFINITY,
    };
    let mut pool: Vec<usize> = cands
        .ranked
        .iter()
        .enumerate()
        .filter(|(rank, _)| (lo..=hi).contains(&(rank + 1)))
        .filter(|(_, (doc, score))| {
            !positives.contains(doc) && *score <= ceiling && *score >= floor
        })
        .map(|(_, (doc, _))| *doc)
        .collect();
    if cfg.strategy == Strategy::Random {
        pool.shuffle(rng);
    }
    pool.truncate(cfg.num);
    pool
}

/// Dense candidates: embeds corpus and queries with `model`, exact cosine top-`k`.
pub fn dense_candidates(
    model: &SentenceModel,
    set: &EvalSet,
    k: usize,
    batch_size: usize,
) -> Result<Vec<Candidates>> {
    let docs = embed_corpus(model, set, batch_size)?;
    let queries = embed_queries(model, set, batch_size)?;
    dense_candidates_from(set, &docs, &queries, model.dim(), k)
}

/// The set's documents embedded by `model` (document prefix, inference mode) and L2-normalised,
/// row-major: what [`dense_candidates`] and evaluation search.
pub fn embed_corpus(model: &SentenceModel, set: &EvalSet, batch_size: usize) -> Result<Vec<f32>> {
    let docs: Vec<&str> = set.corpus.iter().map(|(_, t)| t.as_str()).collect();
    let mut d = model.embed_documents(&docs, batch_size)?;
    normalize_rows(&mut d, model.dim());
    Ok(d)
}

/// The set's queries embedded by `model` (query prefix) and L2-normalised.
pub fn embed_queries(model: &SentenceModel, set: &EvalSet, batch_size: usize) -> Result<Vec<f32>> {
    let queries: Vec<&str> = set.queries.iter().map(|(_, t)| t.as_str()).collect();
    let mut q = model.embed_queries(&queries, batch_size)?;
    normalize_rows(&mut q, model.dim());
    Ok(q)
}

/// [`dense_candidates`] from embeddings already computed ([`embed_corpus`], [`embed_queries`]).
pub fn dense_candidates_from(
    set: &EvalSet,
    d: &[f32],
    q: &[f32],
    dim: usize,
    k: usize,
) -> Result<Vec<Candidates>> {
    let index = doc_index(set);
    let hits = exact_top_k(q, d, dim, k)?;
    Ok(set
        .queries
        .iter()
        .enumerate()
        .zip(hits)
        .map(|((qi, (qid, _)), ranked)| {
            let qv = &q[qi * dim..(qi + 1) * dim];
            let positive_score = positives_of(set, &index, qid)
                .iter()
                .map(|&p| {
                    d[p * dim..(p + 1) * dim]
                        .iter()
                        .zip(qv)
                        .map(|(a, b)| a * b)
                        .sum::<f32>()
                })
                .reduce(f32::max);
            Candidates {
                ranked,
                positive_score,
            }
        })
        .collect())
}

/// BM25 candidates (Lucene-style English analysis, k1 0.9, b 0.4) over the set's corpus.
pub fn bm25_candidates(set: &EvalSet, k: usize) -> Result<Vec<Candidates>> {
    let mut builder = trawl_bm25::Bm25Builder::new(Default::default(), Default::default())
        .map_err(|e| Error::InvalidOption(format!("BM25: {e}")))?;
    let docs: Vec<&str> = set.corpus.iter().map(|(_, t)| t.as_str()).collect();
    builder.add_documents(&docs);
    let index = builder
        .build()
        .map_err(|e| Error::InvalidOption(format!("BM25: {e}")))?;
    let queries: Vec<&str> = set.queries.iter().map(|(_, t)| t.as_str()).collect();
    let ids = doc_index(set);
    Ok(set
        .queries
        .iter()
        .zip(index.search_batch(&queries, k))
        .map(|((qid, _), hits)| {
            let pos = positives_of(set, &ids, qid);
            let ranked: Vec<(usize, f32)> =
                hits.iter().map(|h| (h.doc as usize, h.score)).collect();
            let positive_score = ranked
                .iter()
                .filter(|(d, _)| pos.contains(d))
                .map(|(_, s)| *s)
                .reduce(f32::max);
            Candidates {
                ranked,
                positive_score,
            }
        })
        .collect())
}

fn doc_index(set: &EvalSet) -> HashMap<&str, usize> {
    set.corpus
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (id.as_str(), i))
        .collect()
}

fn positives_of(set: &EvalSet, index: &HashMap<&str, usize>, qid: &str) -> HashSet<usize> {
    set.qrels
        .get(qid)
        .map(|j| {
            j.iter()
                .filter(|(_, g)| **g > 0)
                .filter_map(|(d, _)| index.get(d.as_str()).copied())
                .collect()
        })
        .unwrap_or_default()
}

/// Mines negatives for every (query, relevant document) pair of `set`, given candidates from
/// [`dense_candidates`] or [`bm25_candidates`] (one per query, in `set.queries` order).
pub fn mine(
    set: &EvalSet,
    cands: &[Candidates],
    kind: ScoreKind,
    cfg: &MiningConfig,
) -> Result<Vec<MinedExample>> {
    if cands.len() != set.queries.len() {
        return Err(Error::InvalidOption(
            "one candidate list per query is required".into(),
        ));
    }
    let index = doc_index(set);
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut out = Vec::new();
    for ((qid, qtext), c) in set.queries.iter().zip(cands) {
        let positives = positives_of(set, &index, qid);
        let negs = select_negatives(c, &positives, kind, cfg, &mut rng);
        let mut pos: Vec<usize> = positives.into_iter().collect();
        pos.sort_unstable();
        for p in pos {
            out.push(MinedExample {
                query: qtext.clone(),
                positive: set.corpus[p].1.clone(),
                negatives: negs.iter().map(|&n| set.corpus[n].1.clone()).collect(),
                query_id: qid.clone(),
                positive_id: set.corpus[p].0.clone(),
                negative_ids: negs.iter().map(|&n| set.corpus[n].0.clone()).collect(),
            });
        }
    }
    Ok(out)
}

/// Writes mined lines as JSONL to `path` atomically (temp file, then rename).
pub fn write_jsonl(path: &std::path::Path, mined: &[MinedExample]) -> Result<()> {
    let mut bytes = Vec::new();
    for m in mined {
        serde_json::to_writer(&mut bytes, m).expect("mined lines serialise");
        bytes.push(b'\n');
    }
    trawl_store::write_file_atomic(path, &bytes)?;
    Ok(())
}

/// Reads lines written by [`write_jsonl`] (or `trawl mine-negatives --out`).
pub fn read_jsonl(path: &std::path::Path) -> Result<Vec<MinedExample>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| {
                Error::data(
                    path,
                    i + 1,
                    format!("not a mined line ({e}); expected what `trawl mine-negatives` writes"),
                )
            })
        })
        .collect()
}
