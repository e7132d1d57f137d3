//! The next hop's query by pseudo-relevance feedback, a deterministic RM3-style rule.
//!
//! From the documents of the previous hop (title and full text):
//! 1. each document `d` gets a weight `w_d`: its score over the sum of the scores when every
//!    score is positive (BM25), otherwise `1/n` (RM3's `P(q|d)`, normalised);
//! 2. candidate terms are the words of 3 or more letters (alphabetic only) that the KB's BM25
//!    analyzer keeps as exactly one term (stopwords drop out) and whose analysed term is not in
//!    the question or an earlier hop's query; words are grouped by analysed term (stem), shown
//!    in their most frequent spelling (ties: the smallest);
//! 3. `weight(t) = sum_d w_d * tf(t, d) / len(d) * idf(t)` with `len(d)` the words of `d` and
//!    `idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5))` from the KB's BM25 index (1 without one);
//! 4. the `n` heaviest terms (ties: alphabetical) are appended to the question.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use trawl_bm25::analysis::tokenizer::tokenize;
use trawl_bm25::Analyzer;
use trawl_kb::KnowledgeBase;

use crate::Result;

/// An expansion term and its weight.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Term {
    pub term: String,
    pub weight: f64,
}

/// A feedback document: its title and text, and the retriever's score.
pub struct Feedback<'a> {
    pub title: &'a str,
    pub text: &'a str,
    pub score: f32,
}

/// The analyzer of the KB's BM25 index, or Lucene's English analyzer when it has none.
pub fn analyzer(kb: &KnowledgeBase) -> Result<Analyzer> {
    let config = kb.bm25().map(|b| b.config().clone()).unwrap_or_default();
    Analyzer::new(&config).map_err(|e| crate::Error::Invalid(e.to_string()))
}

/// The `n` expansion terms of the rule above.
pub fn expansion_terms(
    kb: &KnowledgeBase,
    analyzer: &Analyzer,
    asked: &[&str],
    docs: &[Feedback<'_>],
    n: usize,
) -> Vec<Term> {
    if docs.is_empty() || n == 0 {
        return Vec::new();
    }
    let excluded: HashSet<String> = asked.iter().flat_map(|q| analyzer.analyze(q)).collect();
    let positive = docs.iter().all(|d| d.score > 0.0);
    let total: f64 = docs.iter().map(|d| f64::from(d.score)).sum();
    let mut weight: HashMap<String, f64> = HashMap::new();
    // stem -> spelling -> count, for the shown form.
    let mut spellings: HashMap<String, BTreeMap<String, usize>> = HashMap::new();
    for d in docs {
        let w_d = if positive {
            f64::from(d.score) / total
        } else {
            1.0 / docs.len() as f64
        };
        let mut tf: HashMap<String, usize> = HashMap::new();
        let mut len = 0usize;
        let mut visit = |raw: &str| {
            len += 1;
            let word = raw.to_lowercase();
            if word.chars().count() < 3 || !word.chars().all(char::is_alphabetic) {
                return;
            }
            let mut terms = analyzer.analyze(&word);
            if terms.len() != 1 {
                return;
            }
            let stem = terms.pop().unwrap_or_default();
            if excluded.contains(&stem) {
                return;
            }
            *spellings
                .entry(stem.clone())
                .or_default()
                .entry(word)
                .or_default() += 1;
            *tf.entry(stem).or_default() += 1;
        };
        tokenize(d.title, &mut visit);
        tokenize(d.text, &mut visit);
        for (stem, count) in tf {
            *weight.entry(stem).or_default() += w_d * count as f64 / len.max(1) as f64;
        }
    }
    let n_docs = kb.num_docs() as f64;
    let mut terms: Vec<Term> = weight
        .into_iter()
        .map(|(stem, w)| {
            let idf = match kb.bm25() {
                Some(index) => {
                    let df = index.doc_freq(&stem) as f64;
                    (1.0 + (n_docs - df + 0.5) / (df + 0.5)).ln()
                }
                None => 1.0,
            };
            let shown = spellings[&stem]
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
                .map(|(s, _)| s.clone())
                .unwrap_or(stem);
            Term {
                term: shown,
                weight: w * idf,
            }
        })
        .collect();
    terms.sort_by(|a, b| {
        b.weight
            .total_cmp(&a.weight)
            .then_with(|| a.term.cmp(&b.term))
    });
    terms.truncate(n);
    terms
}
