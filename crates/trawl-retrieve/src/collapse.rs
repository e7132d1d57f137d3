//! MaxP: a retriever over a chunked KB that ranks parent documents by their best chunk.

use std::sync::Arc;

use trawl_kb::KnowledgeBase;

use crate::retriever::{RetrievedDoc, Retriever};
use crate::Result;

/// Ranks parents by their best chunk (MaxP): each hit's id is the parent id, its score and
/// ordinal those of the best chunk. Retrieves chunks deeper (doubling) until `k` distinct
/// parents are found or the chunks run out, so the parents returned are exactly the top `k`.
pub struct MaxPRetriever {
    inner: Arc<dyn Retriever>,
    num_parents: usize,
    name: String,
}

impl MaxPRetriever {
    /// Wraps `inner`, a retriever over chunks of `num_parents` documents.
    pub fn new(inner: Arc<dyn Retriever>, num_parents: usize) -> Self {
        let name = inner.name().to_string();
        MaxPRetriever {
            inner,
            num_parents,
            name,
        }
    }
}

/// `retriever` collapsed with MaxP when `kb` is chunked (its manifest says so), as it is.
pub fn collapse_if_chunked(
    kb: &KnowledgeBase,
    retriever: Arc<dyn Retriever>,
) -> Arc<dyn Retriever> {
    match &kb.manifest().chunks {
        Some(c) => Arc::new(MaxPRetriever::new(retriever, c.num_parents as usize)),
        None => retriever,
    }
}

/// `retriever` ranking documents rather than chunks: collapsed with MaxP when the KB it ranks
/// is chunked, as it is otherwise. Rewards and evaluation use it: labels name documents.
/// Call it once, on a retriever over the chunks.
pub fn collapse_chunks(retriever: Arc<dyn Retriever>) -> Arc<dyn Retriever> {
    let parents = retriever
        .knowledge_base()
        .and_then(|kb| kb.manifest().chunks.as_ref())
        .map(|c| c.num_parents as usize);
    match parents {
        Some(n) => Arc::new(MaxPRetriever::new(retriever, n)),
        None => retriever,
    }
}

fn collapse(hits: Vec<RetrievedDoc>, k: usize) -> Vec<RetrievedDoc> {
    let keep = trawl_chunk::collapse_max(hits.iter().map(|h| &*h.id), k);
    keep.into_iter()
        .map(|i| {
            let h = &hits[i];
            RetrievedDoc {
                id: Arc::from(trawl_chunk::parent_id(&h.id)),
                score: h.score,
                ordinal: h.ordinal,
            }
        })
        .collect()
}

impl Retriever for MaxPRetriever {
    fn name(&self) -> &str {
        &self.name
    }

    fn retrieve_batch(&self, queries: &[&str], k: usize) -> Result<Vec<Vec<RetrievedDoc>>> {
        let total = self.inner.num_docs();
        let mut depth = k.saturating_mul(4).max(k).min(total.max(1));
        let mut out: Vec<Option<Vec<RetrievedDoc>>> = vec![None; queries.len()];
        let mut pending: Vec<usize> = (0..queries.len()).collect();
        while !pending.is_empty() {
            let batch: Vec<&str> = pending.iter().map(|&i| queries[i]).collect();
            let lists = self.inner.retrieve_batch(&batch, depth)?;
            let mut again = Vec::new();
            for (&qi, hits) in pending.iter().zip(lists) {
                let exhausted = hits.len() < depth || depth >= total;
                let parents = collapse(hits, k);
                if parents.len() < k && !exhausted {
                    again.push(qi);
                } else {
                    out[qi] = Some(parents);
                }
            }
            pending = again;
            depth = depth.saturating_mul(2).min(total);
        }
        Ok(out.into_iter().map(Option::unwrap_or_default).collect())
    }

    fn document_title(&self, ordinal: u32) -> Option<String> {
        self.inner.document_title(ordinal)
    }

    fn num_docs(&self) -> usize {
        self.num_parents
    }

    fn knowledge_base(&self) -> Option<&KnowledgeBase> {
        self.inner.knowledge_base()
    }

    fn embed_queries(&self, texts: &[&str]) -> Option<Result<Vec<Vec<f32>>>> {
        self.inner.embed_queries(texts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        compute_rewards, InMemoryRetriever, Labels, RewardItem, RewardSpec, RewriteFusion,
        RewriteMode, UnknownUidPolicy,
    };

    /// Parent `a` in two chunks: "apple" finds its chunk 0 first, "banana" its chunk 1.
    fn chunked() -> MaxPRetriever {
        let chunks = InMemoryRetriever::new(
            "bm25",
            &[
                ("a#0", "", "apple apple"),
                ("a#1", "", "banana banana"),
                ("b#0", "", "banana"),
                ("c#0", "", "apple"),
            ],
        );
        MaxPRetriever::new(Arc::new(chunks), 3)
    }

    fn rewards(mode: RewriteMode) -> (f64, Vec<f64>, Vec<Arc<str>>) {
        let labels = Labels::parse_json(r#"{"u": {"a": 1, "b": 1}}"#, "t".as_ref()).unwrap();
        let spec = RewardSpec {
            k: 10,
            mode,
            fusion: RewriteFusion::Rrf,
            metric: "ndcg@10".parse().unwrap(),
            unknown_uid: UnknownUidPolicy::Error,
        };
        let item = RewardItem {
            uid: "u".into(),
            queries: vec!["apple".into(), "banana".into()],
            relevant: None,
        };
        let out = compute_rewards(&chunked(), &[item], Some(&labels), &spec).unwrap();
        let r = out.into_iter().next().unwrap();
        (r.reward.unwrap(), r.per_query, r.doc_ids)
    }

    #[test]
    fn union_rewards_on_chunks_count_each_parent_once() {
        // RRF: a = 1/61 + 1/61 (best chunk a#0 in one rewrite, a#1 in the other), b and c
        // 1/62 each (a tie trec_eval breaks by id, descending). Documents a, c, b; relevant a, b.
        let (reward, _, ids) = rewards(RewriteMode::Union);
        let ids: Vec<&str> = ids.iter().map(|d| &**d).collect();
        assert_eq!(ids, ["a", "c", "b"]);
        let idcg = 1.0 + 1.0 / 3f64.log2();
        let want = (1.0 + 1.0 / 4f64.log2()) / idcg;
        assert!((reward - want).abs() < 1e-9, "{reward} vs {want}");
    }

    #[test]
    fn single_rewards_on_chunks_score_documents() {
        // "apple" -> a, c (1 / idcg); "banana" -> a, b (both relevant: nDCG 1).
        let (reward, per_query, _) = rewards(RewriteMode::Single);
        let idcg = 1.0 + 1.0 / 3f64.log2();
        assert!((per_query[0] - 1.0 / idcg).abs() < 1e-9, "{per_query:?}");
        assert!((per_query[1] - 1.0).abs() < 1e-9, "{per_query:?}");
        assert!((reward - (1.0 + 1.0 / idcg) / 2.0).abs() < 1e-9);
    }
}
