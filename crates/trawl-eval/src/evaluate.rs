//! Friendly evaluation: BEIR-style metrics, mean and per query, and single-list scoring for RL
//! rewards. Numbers equal pytrec_eval's (trec_eval's rules: score-descending order, ties by docid
//! descending, grade >= threshold relevant, gains = grades).
//!
//! Which queries count: those present in both the qrels and the run, as trec_eval (without `-c`),
//! pytrec_eval and BEIR do. A qrels query the run never answered is left out of the mean; a run
//! query without judgements is ignored.

use std::collections::{BTreeMap, HashMap, HashSet};

use rayon::prelude::*;
use serde::Serialize;
use trawl_data::{Qrels, Run};

use crate::error::{Error, Result};
use crate::measures::{
    average_precision, map_at, ndcg, ndcg_at, precision_at, recall_at, recip_rank, success_at,
};
use crate::metric::Metric;
use crate::ranking::{grade_ranking, sort_ranking, RankedRels};
use trawl_data::trec_format::{QrelsTable, RunTable};

/// Options BEIR users rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvalOptions {
    /// Minimum grade that counts as relevant (trec_eval `-l`; default 1). nDCG gains stay the
    /// grades themselves, as in trec_eval.
    pub relevance_threshold: i32,
    /// Drop a retrieved document whose id equals the query id (BEIR does this for ArguAna, Quora).
    pub ignore_identical_ids: bool,
    /// Evaluate only the first N documents of each ranking (trec_eval `-M`).
    pub max_docs: Option<usize>,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            relevance_threshold: 1,
            ignore_identical_ids: false,
            max_docs: None,
        }
    }
}

/// Per-query and mean values, in the order of the requested metrics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub metrics: Vec<Metric>,
    pub per_query: BTreeMap<String, Vec<f64>>,
    pub mean: Vec<f64>,
}

/// The value of one metric on one ranked relevance list.
pub fn metric_value(metric: Metric, rr: &RankedRels, level: i32) -> f64 {
    let mut out = [0.0];
    match metric {
        Metric::Ndcg(Some(k)) => ndcg_at(rr, &[k as i64], &mut out),
        Metric::Ndcg(None) => out[0] = ndcg(rr, &[]),
        Metric::Recall(k) => recall_at(rr, level, &[k as i64], &mut out),
        Metric::Mrr(k) => out[0] = recip_rank(rr, level, k.unwrap_or(usize::MAX)),
        Metric::Map(Some(k)) => map_at(rr, level, &[k as i64], &mut out),
        Metric::Map(None) => out[0] = average_precision(rr, level),
        Metric::Precision(k) => precision_at(rr, level, &[k as i64], &mut out),
        Metric::Hit(k) => success_at(rr, level, &[k as i64], &mut out),
    }
    out[0]
}

/// One query's ranking in trec_eval's order (after `opts`), graded against its judgements.
fn ranked_rels<'a>(
    qid: &str,
    mut ranking: Vec<(&'a str, f64)>,
    judged: impl ExactSizeIterator<Item = (&'a str, i32)> + Clone,
    opts: &EvalOptions,
) -> Result<RankedRels> {
    if opts.ignore_identical_ids {
        ranking.retain(|(d, _)| *d != qid);
    }
    sort_ranking(&mut ranking, opts.max_docs.unwrap_or(usize::MAX));
    let grades = grade_ranking(qid, &ranking, judged.clone())?;
    Ok(RankedRels::new(
        grades.into_iter(),
        judged.map(|(_, g)| g),
        opts.relevance_threshold,
    ))
}

fn score_query<'a>(
    qid: &str,
    ranking: Vec<(&'a str, f64)>,
    judged: impl ExactSizeIterator<Item = (&'a str, i32)> + Clone,
    metrics: &[Metric],
    opts: &EvalOptions,
) -> Result<Vec<f64>> {
    let rr = ranked_rels(qid, ranking, judged, opts)?;
    Ok(metrics
        .iter()
        .map(|&m| metric_value(m, &rr, opts.relevance_threshold))
        .collect())
}

/// Means over queries summed in sorted query-id order, whatever order the queries were scored
/// in (hash-map order, thread scheduling): the same input gives bit-identical means.
fn finish(metrics: &[Metric], per_query: Vec<(String, Vec<f64>)>) -> Result<Evaluation> {
    if per_query.is_empty() {
        return Err(Error::NoQueries);
    }
    let per_query: BTreeMap<String, Vec<f64>> = per_query.into_iter().collect();
    let mean = mean_in_id_order(metrics.len(), &per_query);
    Ok(Evaluation {
        metrics: metrics.to_vec(),
        per_query,
        mean,
    })
}

/// The mean of each of `width` columns over `per_query`, summed in its (sorted) key order.
pub fn mean_in_id_order(width: usize, per_query: &BTreeMap<String, Vec<f64>>) -> Vec<f64> {
    let mut mean = vec![0.0; width];
    for v in per_query.values() {
        for (m, x) in mean.iter_mut().zip(v) {
            *m += x;
        }
    }
    let n = per_query.len() as f64;
    mean.iter_mut().for_each(|m| *m /= n);
    mean
}

/// Evaluates `run` against `qrels` (queries in both; queries evaluated in parallel).
/// Fails on a document listed twice for one query, or when no query is in both.
pub fn evaluate(
    qrels: &Qrels,
    run: &Run,
    metrics: &[Metric],
    opts: &EvalOptions,
) -> Result<Evaluation> {
    let queries: Vec<_> = run
        .iter()
        .filter_map(|(q, docs)| qrels.get(q).map(|j| (q, docs, j)))
        .collect();
    let per_query = queries
        .par_iter()
        .map(|(q, docs, judged)| {
            let values = score_query(
                q,
                docs.iter().map(|d| (d.doc_id.as_str(), d.score)).collect(),
                judged.iter().map(|(d, g)| (d.as_str(), *g)),
                metrics,
                opts,
            )?;
            Ok(((*q).clone(), values))
        })
        .collect::<Result<Vec<_>>>()?;
    finish(metrics, per_query)
}

/// [`evaluate`] on the borrowed tables of [`trawl_data::trec_format`] (the fast path from files).
/// Consumes the run: each query's list is sorted in place.
pub fn evaluate_table(
    qrels: &QrelsTable,
    run: RunTable<'_>,
    metrics: &[Metric],
    opts: &EvalOptions,
) -> Result<Evaluation> {
    let per_query = run
        .queries
        .into_par_iter()
        .filter_map(|(q, docs)| qrels.get(q).map(|j| (q, docs, j)))
        .map(|(q, docs, judged)| {
            let values = score_query(
                q,
                docs,
                judged.docs.iter().map(|(d, g)| (d.as_str(), *g)),
                metrics,
                opts,
            )?;
            Ok((q.to_string(), values))
        })
        .collect::<Result<Vec<_>>>()?;
    finish(metrics, per_query)
}

/// Mean Recall@k for every k = 1..=`max_k` (one pass over each ranking; `recall.k` of
/// trec_eval at each cut-off), over the queries in both files as [`evaluate_table`] counts them.
pub fn recall_curve_table(
    qrels: &QrelsTable,
    run: RunTable<'_>,
    max_k: usize,
    opts: &EvalOptions,
) -> Result<Vec<f64>> {
    let cutoffs: Vec<i64> = (1..=max_k as i64).collect();
    let per_query = run
        .queries
        .into_par_iter()
        .filter_map(|(q, docs)| qrels.get(q).map(|j| (q, docs, j)))
        .map(|(q, ranking, judged)| {
            let judged = judged.docs.iter().map(|(d, g)| (d.as_str(), *g));
            let rr = ranked_rels(q, ranking, judged, opts)?;
            let mut out = vec![0.0; cutoffs.len()];
            recall_at(&rr, opts.relevance_threshold, &cutoffs, &mut out);
            Ok((q.to_string(), out))
        })
        .collect::<Result<BTreeMap<String, Vec<f64>>>>()?;
    if per_query.is_empty() {
        return Err(Error::NoQueries);
    }
    Ok(mean_in_id_order(max_k, &per_query))
}

/// Scores one already-ranked list (rank order as given; a repeated id counts only at its first
/// position, so a policy cannot earn reward by repeating a relevant document). Equals the
/// per-query value of [`evaluate`] for the same ranking. `ignore_identical_ids` does not apply
/// (there is no query id here).
pub fn score_ranking(
    metric: Metric,
    ranked_doc_ids: &[&str],
    judgements: &HashMap<String, i32>,
    opts: &EvalOptions,
) -> f64 {
    let mut seen = HashSet::with_capacity(ranked_doc_ids.len());
    let limit = opts.max_docs.unwrap_or(usize::MAX);
    let rr = RankedRels::new(
        ranked_doc_ids
            .iter()
            .filter(|d| seen.insert(**d))
            .take(limit)
            .map(|d| judgements.get(*d).copied()),
        judgements.values().copied(),
        opts.relevance_threshold,
    );
    metric_value(metric, &rr, opts.relevance_threshold)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> (Qrels, Run) {
        let mut qrels = Qrels::new();
        for (q, d, g) in [
            ("q1", "a", 2),
            ("q1", "b", 1),
            ("q1", "z", 0),
            ("q2", "c", 1),
            ("q3", "x", 1),
        ] {
            qrels.insert(q, d, g);
        }
        let mut run = Run::new();
        for (q, d, s) in [
            ("q1", "z", 3.0),
            ("q1", "a", 2.0),
            ("q1", "q1", 9.0),
            ("q2", "d", 1.0),
            ("q2", "c", 0.5),
            ("q9", "c", 1.0),
        ] {
            run.push(q, d, s);
        }
        (qrels, run)
    }

    #[test]
    fn means_cover_queries_in_both_and_match_hand_computed_values() {
        let (qrels, run) = fixture();
        let metrics = [
            Metric::Mrr(Some(10)),
            Metric::Recall(10),
            Metric::Precision(2),
            Metric::Hit(1),
        ];
        let e = evaluate(&qrels, &run, &metrics, &EvalOptions::default()).unwrap();
        assert_eq!(e.per_query.keys().collect::<Vec<_>>(), ["q1", "q2"]);
        // q1 ranking: q1(9, unjudged), z(0), a(2): first relevant at rank 3.
        assert_eq!(e.per_query["q1"], [1.0 / 3.0, 0.5, 0.0, 0.0]);
        assert_eq!(e.per_query["q2"], [0.5, 1.0, 0.5, 0.0]);
        assert!((e.mean[0] - (1.0 / 3.0 + 0.5) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn ignore_identical_ids_drops_the_query_itself() {
        let (qrels, run) = fixture();
        let opts = EvalOptions {
            ignore_identical_ids: true,
            ..Default::default()
        };
        let e = evaluate(&qrels, &run, &[Metric::Mrr(None)], &opts).unwrap();
        assert_eq!(e.per_query["q1"], [0.5]);
    }

    #[test]
    fn ndcg_uses_grades_as_gains_with_log2_discount() {
        let (qrels, run) = fixture();
        let e = evaluate(
            &qrels,
            &run,
            &[Metric::Ndcg(Some(10))],
            &EvalOptions::default(),
        )
        .unwrap();
        let dcg = 2.0 / 4f64.log2();
        let idcg = 2.0 + 1.0 / 3f64.log2();
        assert!((e.per_query["q1"][0] - dcg / idcg).abs() < 1e-12);
    }

    #[test]
    fn score_ranking_equals_evaluate_and_ignores_repeats() {
        let (qrels, run) = fixture();
        let metrics = [Metric::Ndcg(Some(3)), Metric::Map(None), Metric::Recall(2)];
        let e = evaluate(&qrels, &run, &metrics, &EvalOptions::default()).unwrap();
        let judged = qrels.get("q1").unwrap();
        for (i, m) in metrics.iter().enumerate() {
            let r = score_ranking(*m, &["q1", "z", "a"], judged, &EvalOptions::default());
            assert_eq!(r, e.per_query["q1"][i], "{m}");
        }
        let once = score_ranking(
            Metric::Precision(2),
            &["a", "b"],
            judged,
            &EvalOptions::default(),
        );
        let twice = score_ranking(
            Metric::Precision(2),
            &["a", "a", "b"],
            judged,
            &EvalOptions::default(),
        );
        assert_eq!(once, twice);
    }

    #[test]
    fn threshold_and_errors() {
        let (qrels, mut run) = fixture();
        let opts = EvalOptions {
            relevance_threshold: 2,
            ..Default::default()
        };
        let e = evaluate(&qrels, &run, &[Metric::Recall(10)], &opts).unwrap();
        assert_eq!(e.per_query["q1"], [1.0]);
        assert_eq!(e.per_query["q2"], [0.0]);
        run.push("q2", "c", 0.1);
        let err =
            evaluate(&qrels, &run, &[Metric::Recall(10)], &EvalOptions::default()).unwrap_err();
        assert!(
            err.to_string().contains("'c' appears more than once"),
            "{err}"
        );
        let empty = evaluate(
            &qrels,
            &Run::new(),
            &[Metric::Recall(10)],
            &EvalOptions::default(),
        );
        assert!(matches!(empty, Err(Error::NoQueries)));
    }
    #[test]
    fn recall_curve_equals_recall_at_each_k() {
        use trawl_data::trec_format::{parse_run, read_qrels, Dialect};
        let dir = tempfile::tempdir().unwrap();
        let qrels_path = dir.path().join("qrels");
        std::fs::write(&qrels_path, "q1 0 a 2\nq1 0 b 1\nq1 0 z 0\nq2 0 c 1\n").unwrap();
        let qrels = read_qrels(&qrels_path, Dialect::Permissive).unwrap();
        let text = "q1 Q0 z 1 3 t\nq1 Q0 a 2 2 t\nq1 Q0 x 3 1 t\nq1 Q0 b 4 0.5 t\nq2 Q0 d 1 1 t\nq2 Q0 c 2 0.5 t\n";
        let path = std::path::Path::new("run");
        let curve = recall_curve_table(
            &qrels,
            parse_run(text, path, Dialect::Permissive).unwrap(),
            6,
            &EvalOptions::default(),
        )
        .unwrap();
        for (i, got) in curve.iter().enumerate() {
            let run = parse_run(text, path, Dialect::Permissive).unwrap();
            let m = [Metric::Recall(i + 1)];
            let e = evaluate_table(&qrels, run, &m, &EvalOptions::default()).unwrap();
            assert_eq!(*got, e.mean[0], "k={}", i + 1);
        }
        // Hand-computed: k=1 none, k=2 q1 a (1/2) and q2 c (1) -> 0.75, k>=4 everything.
        assert_eq!(curve[..4], [0.0, 0.75, 0.75, 1.0]);
    }
}
