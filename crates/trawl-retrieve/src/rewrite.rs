//! Several rewrites per query: retrieve every text of a request in one batch call, then rank
//! each item by mode (`single`, `union`, `intersection`).

use std::collections::HashMap;
use std::str::FromStr;

use crate::fusion::{fuse, Fusion, DEFAULT_RRF_K};
use crate::retriever::{RetrievedDoc, Retriever};
use crate::{Error, Result};

/// How the rewrites of one item are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RewriteMode {
    /// Each rewrite is ranked on its own; the item's ranking is the first rewrite's.
    #[default]
    Single,
    /// Any document retrieved by any rewrite, ranked by fused score.
    Union,
    /// Documents in every rewrite's top-k, ranked by fused score.
    Intersection,
}

impl FromStr for RewriteMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "single" => Ok(RewriteMode::Single),
            "union" => Ok(RewriteMode::Union),
            "intersection" => Ok(RewriteMode::Intersection),
            other => Err(Error::InvalidArgument {
                field: "mode",
                message: format!("`{other}` is not a mode: use single, union or intersection"),
            }),
        }
    }
}

/// How the scores of rewrites are fused in union and intersection modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RewriteFusion {
    /// Reciprocal rank fusion with k = 60.
    #[default]
    Rrf,
    /// The best raw score any rewrite gave the document.
    MaxScore,
}

impl FromStr for RewriteFusion {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "rrf" => Ok(RewriteFusion::Rrf),
            "max" | "max_score" | "maxscore" => Ok(RewriteFusion::MaxScore),
            other => Err(Error::InvalidArgument {
                field: "fuse",
                message: format!("`{other}` is not a fusion: use rrf or max_score"),
            }),
        }
    }
}

/// The rankings of one item: the combined one and one per rewrite (same order as given).
#[derive(Debug, Clone, PartialEq)]
pub struct RewriteResult {
    pub fused: Vec<RetrievedDoc>,
    pub per_query: Vec<Vec<RetrievedDoc>>,
}

/// Retrieves the top `k` for every rewrite of every item with ONE `retrieve_batch` call
/// (identical texts are retrieved once), then combines each item's rankings by `mode`.
/// Every item needs at least one rewrite.
pub fn retrieve_rewrites(
    retriever: &dyn Retriever,
    items: &[Vec<String>],
    k: usize,
    mode: RewriteMode,
    fusion: RewriteFusion,
) -> Result<Vec<RewriteResult>> {
    let mut unique: Vec<&str> = Vec::new();
    let mut slot: HashMap<&str, usize> = HashMap::new();
    let mut item_slots: Vec<Vec<usize>> = Vec::with_capacity(items.len());
    for (i, queries) in items.iter().enumerate() {
        if queries.is_empty() {
            return Err(Error::InvalidArgument {
                field: "queries",
                message: format!("item {i} has no query text; give at least one rewrite"),
            });
        }
        item_slots.push(
            queries
                .iter()
                .map(|q| {
                    *slot.entry(q.as_str()).or_insert_with(|| {
                        unique.push(q.as_str());
                        unique.len() - 1
                    })
                })
                .collect(),
        );
    }
    let rankings = retriever.retrieve_batch(&unique, k)?;
    if rankings.len() != unique.len() {
        return Err(Error::Engine {
            retriever: retriever.name().to_string(),
            message: format!(
                "returned {} rankings for {} queries",
                rankings.len(),
                unique.len()
            ),
        });
    }
    let fusion = match fusion {
        RewriteFusion::Rrf => Fusion::Rrf { k: DEFAULT_RRF_K },
        RewriteFusion::MaxScore => Fusion::MaxScore,
    };
    Ok(item_slots
        .into_iter()
        .map(|slots| {
            let per_query: Vec<Vec<RetrievedDoc>> =
                slots.iter().map(|&s| rankings[s].clone()).collect();
            let fused = match mode {
                RewriteMode::Single => per_query[0].clone(),
                RewriteMode::Union | RewriteMode::Intersection => {
                    let lists: Vec<&[RetrievedDoc]> = per_query.iter().map(Vec::as_slice).collect();
                    fuse(&lists, &[], fusion, k, mode == RewriteMode::Intersection)
                }
            };
            RewriteResult { fused, per_query }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InMemoryRetriever;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counting {
        inner: InMemoryRetriever,
        calls: AtomicUsize,
        texts: AtomicUsize,
    }
    impl Retriever for Counting {
        fn name(&self) -> &str {
            "counting"
        }
        fn retrieve_batch(&self, q: &[&str], k: usize) -> Result<Vec<Vec<RetrievedDoc>>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.texts.fetch_add(q.len(), Ordering::SeqCst);
            self.inner.retrieve_batch(q, k)
        }
        fn num_docs(&self) -> usize {
            self.inner.num_docs()
        }
    }

    fn fixture() -> Counting {
        Counting {
            inner: InMemoryRetriever::new(
                "m",
                &[
                    ("a", "", "apple banana"),
                    ("b", "", "banana cherry"),
                    ("c", "", "cherry durian"),
                    ("d", "", "durian apple"),
                ],
            ),
            calls: AtomicUsize::new(0),
            texts: AtomicUsize::new(0),
        }
    }

    fn ids(docs: &[RetrievedDoc]) -> Vec<&str> {
        let mut v: Vec<&str> = docs.iter().map(|d| &*d.id).collect();
        v.sort();
        v
    }

    #[test]
    fn one_batch_call_for_all_rewrites_with_duplicates_retrieved_once() {
        let r = fixture();
        let items = vec![
            vec!["apple".to_string(), "cherry".to_string()],
            vec!["apple".to_string()],
            vec![
                "durian".to_string(),
                "banana".to_string(),
                "cherry".to_string(),
            ],
        ];
        let out =
            retrieve_rewrites(&r, &items, 10, RewriteMode::Union, RewriteFusion::Rrf).unwrap();
        assert_eq!(r.calls.load(Ordering::SeqCst), 1);
        assert_eq!(r.texts.load(Ordering::SeqCst), 4);
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].per_query.len(), 2);
        assert_eq!(ids(&out[0].fused), ["a", "b", "c", "d"]);
    }

    #[test]
    fn intersection_keeps_documents_in_every_rewrite() {
        let r = fixture();
        let items = vec![vec!["apple".to_string(), "banana".to_string()]];
        for fuse in [RewriteFusion::Rrf, RewriteFusion::MaxScore] {
            let out = retrieve_rewrites(&r, &items, 10, RewriteMode::Intersection, fuse).unwrap();
            assert_eq!(ids(&out[0].fused), ["a"]);
        }
        let none = vec![vec!["apple".to_string(), "cherry".to_string()]];
        let out = retrieve_rewrites(&r, &none, 10, RewriteMode::Intersection, RewriteFusion::Rrf)
            .unwrap();
        assert!(out[0].fused.is_empty());
    }

    #[test]
    fn single_mode_ranks_by_first_rewrite_and_union_truncates_to_k() {
        let r = fixture();
        let items = vec![vec!["cherry".to_string(), "apple".to_string()]];
        let single =
            retrieve_rewrites(&r, &items, 10, RewriteMode::Single, RewriteFusion::Rrf).unwrap();
        assert_eq!(single[0].fused, single[0].per_query[0]);
        let union =
            retrieve_rewrites(&r, &items, 1, RewriteMode::Union, RewriteFusion::Rrf).unwrap();
        assert_eq!(union[0].fused.len(), 1);
    }

    #[test]
    fn empty_rewrites_and_unknown_modes_are_named_errors() {
        let r = fixture();
        let err = retrieve_rewrites(&r, &[vec![]], 10, RewriteMode::Single, RewriteFusion::Rrf)
            .unwrap_err();
        assert!(
            err.to_string().contains("item 0 has no query text"),
            "{err}"
        );
        let err = "both".parse::<RewriteMode>().unwrap_err();
        assert!(err.to_string().contains("single, union or intersection"));
    }
}
