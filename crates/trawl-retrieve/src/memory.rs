//! `InMemoryRetriever`: a tiny term-overlap ranker over documents held in memory.
//!
//! It exists so that fusion, multi-rewrite batches, rewards and the HTTP service can be tested
//! and demonstrated without building a knowledge base. Scoring: the sum, over distinct query
//! terms, of `tf * ln(1 + N / df)` (lowercased alphanumeric tokens).

use std::collections::HashMap;
use std::sync::Arc;

use crate::retriever::{sort_ranking, RetrievedDoc, Retriever};
use crate::Result;

/// An in-memory ranker for tests, examples and small fixtures.
pub struct InMemoryRetriever {
    name: String,
    ids: Vec<Arc<str>>,
    titles: Vec<String>,
    /// term -> (ordinal, term frequency)
    postings: HashMap<String, Vec<(u32, f32)>>,
    num_docs: usize,
}

fn tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
}

impl InMemoryRetriever {
    /// Indexes `(id, title, text)` triples; ordinals follow the input order.
    pub fn new(name: &str, docs: &[(&str, &str, &str)]) -> Self {
        let mut postings: HashMap<String, Vec<(u32, f32)>> = HashMap::new();
        for (ordinal, (_, title, text)) in docs.iter().enumerate() {
            let mut tf: HashMap<String, f32> = HashMap::new();
            for t in tokens(title).chain(tokens(text)) {
                *tf.entry(t).or_default() += 1.0;
            }
            for (term, f) in tf {
                postings.entry(term).or_default().push((ordinal as u32, f));
            }
        }
        InMemoryRetriever {
            name: name.to_string(),
            ids: docs.iter().map(|d| Arc::from(d.0)).collect(),
            titles: docs.iter().map(|d| d.1.to_string()).collect(),
            postings,
            num_docs: docs.len(),
        }
    }

    fn search(&self, query: &str, k: usize) -> Vec<RetrievedDoc> {
        let mut terms: Vec<String> = tokens(query).collect();
        terms.sort();
        terms.dedup();
        let mut acc: HashMap<u32, f32> = HashMap::new();
        for term in &terms {
            if let Some(list) = self.postings.get(term) {
                let idf = (1.0 + self.num_docs as f32 / list.len() as f32).ln();
                for &(ord, tf) in list {
                    *acc.entry(ord).or_default() += tf * idf;
                }
            }
        }
        let mut hits: Vec<RetrievedDoc> = acc
            .into_iter()
            .map(|(ordinal, score)| RetrievedDoc {
                id: self.ids[ordinal as usize].clone(),
                score,
                ordinal,
            })
            .collect();
        sort_ranking(&mut hits);
        hits.truncate(k);
        hits
    }
}

impl Retriever for InMemoryRetriever {
    fn name(&self) -> &str {
        &self.name
    }
    fn retrieve_batch(&self, queries: &[&str], k: usize) -> Result<Vec<Vec<RetrievedDoc>>> {
        Ok(queries.iter().map(|q| self.search(q, k)).collect())
    }
    fn document_title(&self, ordinal: u32) -> Option<String> {
        self.titles.get(ordinal as usize).cloned()
    }
    fn num_docs(&self) -> usize {
        self.num_docs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_documents_sharing_rare_terms_first() {
        let r = InMemoryRetriever::new(
            "mem",
            &[
                ("a", "", "the cat sat"),
                ("b", "", "the dog barked at the cat"),
                ("c", "", "zebra"),
            ],
        );
        let out = r
            .retrieve_batch(&["dog cat", "zebra", "nothing"], 10)
            .unwrap();
        assert_eq!(&*out[0][0].id, "b");
        assert_eq!(out[0].len(), 2);
        assert_eq!(&*out[1][0].id, "c");
        assert!(out[2].is_empty());
    }
}
