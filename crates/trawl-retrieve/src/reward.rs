//! Rewards: a metric of an item's ranking against the labels of its uid, computed by
//! `trawl_eval::score_ranking` so that a reward equals what `trawl eval` reports for that ranking.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::labels::Labels;
use crate::retriever::{RetrievedDoc, Retriever};
use crate::rewrite::{retrieve_rewrites, RewriteFusion, RewriteMode};
use crate::{Error, Result};

/// A reward metric: ndcg@K, recall@K, hit@K, mrr@K or precision@K (`p@K` also accepted).
#[derive(Debug, Clone, PartialEq)]
pub struct RewardMetric {
    metric: trawl_eval::Metric,
    name: String,
}

impl RewardMetric {
    pub fn metric(&self) -> &trawl_eval::Metric {
        &self.metric
    }

    /// The cut-off K of `name@K`: how many ranked documents the metric looks at.
    pub fn cutoff(&self) -> usize {
        use trawl_eval::Metric as M;
        match self.metric {
            M::Ndcg(Some(k))
            | M::Mrr(Some(k))
            | M::Map(Some(k))
            | M::Recall(k)
            | M::Precision(k)
            | M::Hit(k) => k,
            // Not produced by `from_str`, which requires a cut-off.
            M::Ndcg(None) | M::Mrr(None) | M::Map(None) => usize::MAX,
        }
    }
}

impl fmt::Display for RewardMetric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl FromStr for RewardMetric {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let given = s.trim();
        let lower = given.to_ascii_lowercase();
        let unknown = |detail: String| Error::UnknownMetric {
            given: given.to_string(),
            detail,
        };
        let Some((family, cutoff)) = lower.split_once('@') else {
            return Err(unknown(": the cutoff is missing, e.g. ndcg@10".into()));
        };
        let family = match family {
            "ndcg" | "recall" | "hit" | "mrr" => family,
            "precision" | "p" => "p",
            _ => return Err(unknown(String::new())),
        };
        match cutoff.parse::<usize>() {
            Ok(k) if k > 0 => {}
            _ => {
                return Err(unknown(format!(
                    ": cutoff `{cutoff}` is not a positive integer"
                )))
            }
        }
        let metric: trawl_eval::Metric = format!("{family}@{cutoff}")
            .parse()
            .map_err(|e| unknown(format!(": {e}")))?;
        Ok(RewardMetric {
            metric,
            name: lower,
        })
    }
}

/// Why an item has no reward.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RewardError {
    #[error("unknown uid `{uid}`: {hint}")]
    UnknownUid { uid: String, hint: String },
}

/// What to do with an item whose uid has no labels.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum UnknownUidPolicy {
    /// A per-item error; the item's reward is `None`.
    #[default]
    Error,
    /// This reward, stated explicitly by whoever configured the service.
    Default(f64),
}

/// The metric of `ranking` (best first) against the labels of `uid`.
pub fn reward(
    metric: &RewardMetric,
    ranking: &[RetrievedDoc],
    labels: &Labels,
    uid: &str,
) -> std::result::Result<f64, RewardError> {
    let judgements = judgements_of(uid, None, Some(labels))?;
    Ok(reward_with_judgements(metric, ranking, judgements))
}

/// The metric of `ranking` against explicit judgements (doc id -> grade).
///
/// Documents with equal scores are put in trec_eval's order (id descending) first, so the
/// reward equals what `trawl eval` reports for a run file holding this ranking's ids and scores.
pub fn reward_with_judgements(
    metric: &RewardMetric,
    ranking: &[RetrievedDoc],
    judgements: &HashMap<String, i32>,
) -> f64 {
    trawl_eval::score_ranking(
        metric.metric,
        &trec_order(ranking),
        judgements,
        &trawl_eval::EvalOptions::default(),
    )
}

/// The ids of `ranking` in trec_eval's order: score descending, ties by id descending (scores
/// compare as C doubles: -0.0 equals 0.0, NaN last).
pub fn trec_order(ranking: &[RetrievedDoc]) -> Vec<&str> {
    let key = |s: f32| {
        let x = s as f64;
        if x.is_nan() {
            f64::NEG_INFINITY
        } else if x == 0.0 {
            0.0
        } else {
            x
        }
    };
    let mut docs: Vec<(&str, f64)> = ranking.iter().map(|d| (&*d.id, key(d.score))).collect();
    docs.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| b.0.cmp(a.0)));
    docs.into_iter().map(|d| d.0).collect()
}

fn judgements_of<'a>(
    uid: &str,
    inline: Option<&'a HashMap<String, i32>>,
    labels: Option<&'a Labels>,
) -> std::result::Result<&'a HashMap<String, i32>, RewardError> {
    if let Some(j) = inline {
        return Ok(j);
    }
    let hint = match labels {
        Some(l) => match l.get(uid) {
            Some(j) => return Ok(j),
            None => format!(
                "it has no labels ({} uids are labelled); check the uid or the labels file",
                l.num_queries()
            ),
        },
        None => "no labels are loaded (pass --labels) and the item gives no `relevant` doc ids"
            .to_string(),
    };
    Err(RewardError::UnknownUid {
        uid: uid.to_string(),
        hint,
    })
}

/// One item of a reward request: its uid, its rewrites and, optionally, its own judgements
/// (doc id -> grade), which take precedence over the labels of `uid`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RewardItem {
    pub uid: String,
    pub queries: Vec<String>,
    pub relevant: Option<HashMap<String, i32>>,
}

/// The reward of one item. In single mode `reward` is the mean of `per_query`; in union and
/// intersection modes it is the metric of the fused ranking. `doc_ids` is the item's ranking
/// (single mode: the first rewrite's) in the order it was scored: by score, ties by id
/// descending as trec_eval orders them.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemReward {
    pub uid: String,
    pub reward: Option<f64>,
    pub per_query: Vec<f64>,
    pub doc_ids: Vec<Arc<str>>,
    pub error: Option<String>,
}

/// Settings of a reward computation.
#[derive(Debug, Clone)]
pub struct RewardSpec {
    /// Documents retrieved per rewrite; raised to the metric's cut-off when smaller (see
    /// [`RewardSpec::depth`]), so that `recall@100` is never scored on 10 documents.
    pub k: usize,
    pub mode: RewriteMode,
    pub fusion: RewriteFusion,
    pub metric: RewardMetric,
    pub unknown_uid: UnknownUidPolicy,
}

impl RewardSpec {
    /// The retrieval depth used: `max(k, metric cut-off)`. A metric at K scored on fewer than K
    /// retrieved documents would be a different (smaller) number under the same name.
    pub fn depth(&self) -> usize {
        self.k.max(self.metric.cutoff())
    }
}

/// Retrieves every rewrite of every item in one batch, to [`RewardSpec::depth`] documents,
/// and scores each item.
pub fn compute_rewards(
    retriever: &dyn Retriever,
    items: &[RewardItem],
    labels: Option<&Labels>,
    spec: &RewardSpec,
) -> Result<Vec<ItemReward>> {
    let texts: Vec<Vec<String>> = items.iter().map(|i| i.queries.clone()).collect();
    let rankings = retrieve_rewrites(retriever, &texts, spec.depth(), spec.mode, spec.fusion)?;
    Ok(items
        .iter()
        .zip(rankings)
        .map(|(item, r)| {
            // In the order the reward scores them (ties as trec_eval breaks them).
            let doc_ids = trec_order(&r.fused).into_iter().map(Arc::from).collect();
            let scored = judgements_of(&item.uid, item.relevant.as_ref(), labels).map(|j| {
                let per_query: Vec<f64> = r
                    .per_query
                    .iter()
                    .map(|ranking| reward_with_judgements(&spec.metric, ranking, j))
                    .collect();
                let value = match spec.mode {
                    RewriteMode::Single => per_query.iter().sum::<f64>() / per_query.len() as f64,
                    _ => reward_with_judgements(&spec.metric, &r.fused, j),
                };
                (value, per_query)
            });
            match (scored, spec.unknown_uid) {
                (Ok((value, per_query)), _) => ItemReward {
                    uid: item.uid.clone(),
                    reward: Some(value),
                    per_query,
                    doc_ids,
                    error: None,
                },
                (Err(_), UnknownUidPolicy::Default(d)) => ItemReward {
                    uid: item.uid.clone(),
                    reward: Some(d),
                    per_query: vec![d; item.queries.len()],
                    doc_ids,
                    error: None,
                },
                (Err(e), UnknownUidPolicy::Error) => ItemReward {
                    uid: item.uid.clone(),
                    reward: None,
                    per_query: Vec::new(),
                    doc_ids,
                    error: Some(e.to_string()),
                },
            }
        })
        .collect())
}

/// Scores a stream of items in batches of `batch` (one [`compute_rewards`] call each) and hands
/// each batch's rewards to `sink`, in input order, before the next batch is read: at most
/// `batch` items are held at a time, however long the input. Returns the number of items.
pub fn score_stream<E: From<Error>>(
    retriever: &dyn Retriever,
    items: impl Iterator<Item = std::result::Result<RewardItem, E>>,
    labels: Option<&Labels>,
    spec: &RewardSpec,
    batch: usize,
    mut sink: impl FnMut(&[ItemReward]) -> std::result::Result<(), E>,
) -> std::result::Result<u64, E> {
    let batch = batch.max(1);
    let mut pending = Vec::with_capacity(batch);
    let mut n = 0u64;
    let mut items = items.peekable();
    while items.peek().is_some() {
        pending.clear();
        for item in items.by_ref().take(batch) {
            pending.push(item?);
        }
        sink(&compute_rewards(retriever, &pending, labels, spec)?)?;
        n += pending.len() as u64;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InMemoryRetriever;

    #[test]
    fn metric_names_parse_and_unknown_ones_are_named() {
        for ok in [
            "ndcg@10",
            "Recall@100",
            "hit@1",
            "mrr@10",
            "precision@5",
            "p@5",
        ] {
            assert!(ok.parse::<RewardMetric>().is_ok(), "{ok}");
        }
        for bad in ["map@10", "ndcg", "ndcg@0", "ndcg@x", "bleu@4"] {
            let err = bad.parse::<RewardMetric>().unwrap_err().to_string();
            assert!(err.contains(&format!("unknown metric `{bad}`")), "{err}");
        }
    }

    fn fixture() -> (InMemoryRetriever, Labels) {
        let r = InMemoryRetriever::new(
            "m",
            &[
                ("a", "", "apple banana"),
                ("b", "", "banana cherry"),
                ("c", "", "cherry durian"),
            ],
        );
        let labels = Labels::parse_json(r#"{"q": {"b": 1, "c": 2}}"#, "t".as_ref()).unwrap();
        (r, labels)
    }

    fn spec(mode: RewriteMode, metric: &str, unknown_uid: UnknownUidPolicy) -> RewardSpec {
        RewardSpec {
            k: 10,
            mode,
            fusion: RewriteFusion::Rrf,
            metric: metric.parse().unwrap(),
            unknown_uid,
        }
    }

    fn item(uid: &str, queries: &[&str]) -> RewardItem {
        RewardItem {
            uid: uid.into(),
            queries: queries.iter().map(|q| q.to_string()).collect(),
            relevant: None,
        }
    }

    #[test]
    fn single_mode_averages_rewrites_and_union_scores_the_fused_ranking() {
        let (r, labels) = fixture();
        let items = [item("q", &["apple", "durian"])];
        let s = compute_rewards(
            &r,
            &items,
            Some(&labels),
            &spec(RewriteMode::Single, "recall@10", UnknownUidPolicy::Error),
        )
        .unwrap();
        // "apple" finds a only (recall 0); "durian" finds c (recall 1/2).
        assert_eq!(s[0].per_query, [0.0, 0.5]);
        assert_eq!(s[0].reward, Some(0.25));
        let u = compute_rewards(
            &r,
            &items,
            Some(&labels),
            &spec(RewriteMode::Union, "recall@10", UnknownUidPolicy::Error),
        )
        .unwrap();
        assert_eq!(u[0].reward, Some(0.5));
        assert_eq!(u[0].doc_ids.len(), 2);
    }

    #[test]
    fn unknown_uid_is_an_error_or_the_configured_default_never_a_silent_zero() {
        let (r, labels) = fixture();
        let items = [item("missing", &["banana"])];
        let e = compute_rewards(
            &r,
            &items,
            Some(&labels),
            &spec(RewriteMode::Single, "ndcg@10", UnknownUidPolicy::Error),
        )
        .unwrap();
        assert_eq!(e[0].reward, None);
        assert!(e[0]
            .error
            .as_deref()
            .unwrap()
            .contains("unknown uid `missing`"));
        let d = compute_rewards(
            &r,
            &items,
            Some(&labels),
            &spec(
                RewriteMode::Single,
                "ndcg@10",
                UnknownUidPolicy::Default(-1.0),
            ),
        )
        .unwrap();
        assert_eq!((d[0].reward, d[0].error.as_deref()), (Some(-1.0), None));
        let n = compute_rewards(
            &r,
            &items,
            None,
            &spec(RewriteMode::Single, "ndcg@10", UnknownUidPolicy::Error),
        )
        .unwrap();
        assert!(n[0]
            .error
            .as_deref()
            .unwrap()
            .contains("no labels are loaded"));
    }

    #[test]
    fn a_cutoff_beyond_k_raises_the_retrieval_depth_instead_of_scoring_k_documents() {
        // Ten filler documents match the query better than the relevant one, which ranks 11th.
        let mut docs: Vec<(String, String)> = (0..10)
            .map(|i| (format!("f{i:02}"), "needle needle needle".to_string()))
            .collect();
        docs.push(("rel".into(), "needle haystack".into()));
        let docs: Vec<(&str, &str, &str)> = docs
            .iter()
            .map(|(id, text)| (id.as_str(), "", text.as_str()))
            .collect();
        let r = InMemoryRetriever::new("m", &docs);
        let labels = Labels::parse_json(r#"{"q": ["rel"]}"#, "t".as_ref()).unwrap();
        let items = [item("q", &["needle"])];
        let s = spec(RewriteMode::Single, "recall@100", UnknownUidPolicy::Error);
        assert_eq!((s.k, s.depth()), (10, 100));
        let out = compute_rewards(&r, &items, Some(&labels), &s).unwrap();
        assert_eq!(out[0].reward, Some(1.0), "{out:?}");
        assert_eq!(out[0].doc_ids.len(), 11);
        // A cut-off within k keeps k.
        let s = spec(RewriteMode::Single, "recall@5", UnknownUidPolicy::Error);
        assert_eq!(s.depth(), 10);
        assert_eq!(
            compute_rewards(&r, &items, Some(&labels), &s).unwrap()[0].reward,
            Some(0.0)
        );
    }

    #[test]
    fn tied_scores_are_scored_in_trec_eval_order() {
        let metric: RewardMetric = "hit@1".parse().unwrap();
        let doc = |id: &str, ordinal| RetrievedDoc {
            id: id.into(),
            score: 1.0,
            ordinal,
        };
        let judged: HashMap<String, i32> = [("z".to_string(), 1)].into();
        // Ranked a, z by ordinal; trec_eval puts z (id descending) first.
        assert_eq!(
            reward_with_judgements(&metric, &[doc("a", 0), doc("z", 1)], &judged),
            1.0
        );
    }

    #[test]
    fn streamed_rewards_hold_one_batch_and_equal_one_call() {
        use std::cell::Cell;
        let (r, labels) = fixture();
        let s = spec(
            RewriteMode::Union,
            "ndcg@10",
            UnknownUidPolicy::Default(0.0),
        );
        let all: Vec<RewardItem> = (0..10)
            .map(|i| {
                let q = ["apple", "cherry durian", "banana", "nothing"][i % 4];
                item(if i % 3 == 0 { "q" } else { "other" }, &[q, "cherry"])
            })
            .collect();
        let want = compute_rewards(&r, &all, Some(&labels), &s).unwrap();
        let pulled = Cell::new(0usize);
        let mut written = Vec::new();
        let mut most_in_flight = 0;
        let stream = all.iter().cloned().map(|i| {
            pulled.set(pulled.get() + 1);
            Ok::<_, Error>(i)
        });
        let n = score_stream(&r, stream, Some(&labels), &s, 3, |batch| {
            most_in_flight = most_in_flight.max(pulled.get() - written.len());
            written.extend(batch.iter().map(|x| x.reward));
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 10);
        assert_eq!(most_in_flight, 3, "rows read ahead of the rows written");
        assert_eq!(written, want.iter().map(|x| x.reward).collect::<Vec<_>>());
    }
}
