//! A run: ranked, scored documents per query.

use std::collections::HashMap;

/// A retrieved document with its score.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredDoc {
    pub doc_id: String,
    pub score: f64,
}

/// Retrieval results per query. Each list is kept in the order given; evaluation re-sorts by
/// score the way trec_eval does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Run {
    pub(crate) by_query: HashMap<String, Vec<ScoredDoc>>,
}

impl Run {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one retrieved document to the list of `query_id`.
    pub fn push(&mut self, query_id: impl Into<String>, doc_id: impl Into<String>, score: f64) {
        self.by_query
            .entry(query_id.into())
            .or_default()
            .push(ScoredDoc {
                doc_id: doc_id.into(),
                score,
            });
    }

    /// Replaces the whole list of one query.
    pub fn insert(&mut self, query_id: impl Into<String>, docs: Vec<ScoredDoc>) {
        self.by_query.insert(query_id.into(), docs);
    }

    pub fn get(&self, query_id: &str) -> Option<&[ScoredDoc]> {
        self.by_query.get(query_id).map(Vec::as_slice)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Vec<ScoredDoc>)> {
        self.by_query.iter()
    }

    pub fn num_queries(&self) -> usize {
        self.by_query.len()
    }
}
