//! Relevance judgements: query id -> document id -> graded relevance.

use std::collections::HashMap;

/// Relevance judgements. Grades are kept as given (0 and negatives too); which grade counts as
/// relevant is the evaluator's decision.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Qrels {
    pub(crate) by_query: HashMap<String, HashMap<String, i32>>,
}

impl Qrels {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the grade of `doc_id` for `query_id` (a later judgement replaces an earlier one).
    pub fn insert(&mut self, query_id: impl Into<String>, doc_id: impl Into<String>, grade: i32) {
        self.by_query
            .entry(query_id.into())
            .or_default()
            .insert(doc_id.into(), grade);
    }

    /// The judgements of one query.
    pub fn get(&self, query_id: &str) -> Option<&HashMap<String, i32>> {
        self.by_query.get(query_id)
    }

    /// All judged queries, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &HashMap<String, i32>)> {
        self.by_query.iter()
    }

    pub fn num_queries(&self) -> usize {
        self.by_query.len()
    }
}
