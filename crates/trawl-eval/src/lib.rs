//! Evaluation for trawl: trec_eval-exact measures, BEIR-style friendly metrics, and paired
//! significance tests.
//!
//! Module map: [`trec_format`] (trec_eval's reading rules: the trec_eval dialect of
//! [`trawl_data::trec_format`], the one reader; this crate only computes), [`ranking`] (ordering
//! a query's documents, grading them), [`measures`] (trec_eval's measures), [`trec_eval`] (the
//! drop-in driver and its output format), [`metric`] (BEIR-style names like `nDCG@10`),
//! [`evaluate`] (mean and per-query metrics; one ranked list for RL rewards), [`significance`]
//! (paired t-test, randomisation test).
//!
//! # Quickstart
//! ```
//! use std::collections::HashMap;
//! use trawl_data::{Qrels, Run};
//! use trawl_eval::{evaluate, score_ranking, EvalOptions, Metric};
//!
//! let mut qrels = Qrels::new();
//! qrels.insert("q1", "d1", 1);
//! qrels.insert("q1", "d3", 2);
//! let mut run = Run::new();
//! run.push("q1", "d1", 3.0);
//! run.push("q1", "d2", 2.0);
//! run.push("q1", "d3", 1.0);
//!
//! let metrics: Vec<Metric> = ["ndcg@10", "recall@100", "mrr@10"]
//!     .iter()
//!     .map(|m| m.parse().unwrap())
//!     .collect();
//! let eval = evaluate(&qrels, &run, &metrics, &EvalOptions::default()).unwrap();
//! assert_eq!(metrics[0].to_string(), "nDCG@10");
//! assert_eq!(eval.mean[1], 1.0); // both relevant documents retrieved
//! assert_eq!(eval.mean[2], 1.0); // first document relevant
//!
//! // One already-ranked list, e.g. an RL reward: equal to the per-query value above.
//! let judged: HashMap<String, i32> = [("d1".into(), 1), ("d3".into(), 2)].into();
//! let r = score_ranking(metrics[0], &["d1", "d2", "d3"], &judged, &EvalOptions::default());
//! assert_eq!(r, eval.per_query["q1"][0]);
//! ```

pub mod error;
pub mod evaluate;
pub mod measures;
pub mod metric;
pub mod ranking;
pub mod significance;
pub mod trec_eval;
pub mod trec_format;

pub use error::{Error, Result};
pub use evaluate::{
    evaluate, evaluate_table, recall_curve_table, score_ranking, EvalOptions, Evaluation,
};
pub use metric::Metric;
pub use trec_eval::{trec_eval, TrecEvalOptions};
