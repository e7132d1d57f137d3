//! Retrieval over a trawl knowledge base, for RAG and RL: the [`Retriever`] trait with BM25,
//! dense (cargo feature `dense`) and hybrid implementations, rank [`fusion`], several rewrites
//! per query ([`retrieve_rewrites`]) and rewards computed with `trawl-eval`'s metric code.
//!
//! Quickstart, with the in-memory ranker used in tests (a [`Bm25Retriever`] over a knowledge base works the same way):
//!
//! ```
//! use trawl_retrieve::{
//!     compute_rewards, InMemoryRetriever, Labels, RewardItem, RewardSpec, RewriteFusion,
//!     RewriteMode, UnknownUidPolicy,
//! };
//!
//! let retriever = InMemoryRetriever::new("mem", &[
//!     ("d1", "Cats", "cats purr and sleep"),
//!     ("d2", "Dogs", "dogs bark at cats"),
//! ]);
//! let labels = Labels::parse_json(r#"{"q1": ["d2"]}"#, "inline".as_ref())?;
//! let spec = RewardSpec {
//!     k: 10,
//!     mode: RewriteMode::Single,
//!     fusion: RewriteFusion::Rrf,
//!     metric: "ndcg@10".parse()?,
//!     unknown_uid: UnknownUidPolicy::Error,
//! };
//! let items = [RewardItem {
//!     uid: "q1".into(),
//!     queries: vec!["dogs".into(), "cats".into()],
//!     relevant: None,
//! }];
//! let out = compute_rewards(&retriever, &items, Some(&labels), &spec)?;
//! // "dogs" ranks d2 first (nDCG 1); "cats" ranks d1 first, d2 second (nDCG 1/log2(3)).
//! let expected = (1.0 + 1.0 / 3f64.log2()) / 2.0;
//! assert!((out[0].reward.unwrap() - expected).abs() < 1e-9);
//! # Ok::<(), trawl_retrieve::Error>(())
//! ```

pub mod collapse;
pub mod dense;
pub mod diversity;
pub mod error;
pub mod fusion;
pub mod hybrid;
pub mod kb;
pub mod labels;
pub mod memory;
#[cfg(feature = "rerank")]
pub mod rerank;
pub mod retriever;
pub mod reward;
pub mod rewrite;

pub use collapse::{collapse_chunks, collapse_if_chunked, MaxPRetriever};
pub use dense::{open_dense, open_dense_with};
pub use diversity::{combine as combine_diversity, equivalence_classes, Combine, Diversity};
pub use error::{Error, Result};
pub use fusion::{fuse, Fusion, Normalization, DEFAULT_RRF_K};
pub use hybrid::{HybridConfig, HybridRetriever, DEFAULT_CANDIDATE_DEPTH};
pub use kb::{open_all, open_named, Bm25Retriever, KbRetrieverOptions, KbRetrievers};
pub use labels::Labels;
pub use memory::InMemoryRetriever;
#[cfg(feature = "rerank")]
pub use rerank::{passage_text, RerankRetriever, Reranker};
pub use retriever::{RetrievedDoc, Retriever};
pub use reward::score_stream;
pub use reward::{
    compute_rewards, reward, reward_with_judgements, trec_order, ItemReward, RewardError,
    RewardItem, RewardMetric, RewardSpec, UnknownUidPolicy,
};
pub use rewrite::{retrieve_rewrites, RewriteFusion, RewriteMode, RewriteResult};
