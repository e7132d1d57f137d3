//! Evaluation: pytrec_eval's `RelevanceEvaluator` (trec_eval's measures, per-query dicts) and
//! `trawl.evaluate` (BEIR-style metrics on dicts or files). The dicts are read with the GIL held;
//! the measures run in parallel with it released.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use rayon::prelude::*;
use trawl_data::trec_format::{parse_run, read_qrels, Dialect};
use trawl_eval::measures::{parse_measures, Context, Measure, RecallRounding};
use trawl_eval::ranking::RankedRels;
use trawl_eval::trec_format::{read_text, QrelsTable};
use trawl_eval::{evaluate_table, EvalOptions, Metric};

use crate::convert::{qrels_from_dict, run_from_dict, run_table, OwnedRanking};
use crate::errors::{data_error, eval_error};

/// trec_eval's measures over fixed qrels (the native half of `trawl.RelevanceEvaluator`, which
/// first turns pytrec_eval's measure spellings into trec_eval `-m` arguments).
#[pyclass(module = "trawl._trawl", subclass, name = "_RelevanceEvaluator")]
pub struct RelevanceEvaluator {
    qrels: QrelsTable,
    /// Each qrels query's grades by document id (dict keys never repeat, so one lookup per
    /// ranked document is all grading needs).
    grades: Vec<HashMap<String, i32, foldhash::fast::RandomState>>,
    measures: Vec<Measure>,
    ctx: Context,
    judged_docs_only: bool,
}

#[pymethods]
impl RelevanceEvaluator {
    #[new]
    #[pyo3(signature = (query_relevance, measures, relevance_level = 1, judged_docs_only_flag = false))]
    fn new(
        query_relevance: &Bound<'_, PyAny>,
        measures: Vec<String>,
        relevance_level: i32,
        judged_docs_only_flag: bool,
    ) -> PyResult<Self> {
        let qrels = qrels_from_dict(query_relevance)?;
        if measures.is_empty() {
            return Err(PyValueError::new_err(
                "no measures given (e.g. {'map', 'ndcg_cut.10', 'P.5'})",
            ));
        }
        let measures = parse_measures(&measures).map_err(eval_error)?;
        let grades = qrels
            .queries
            .iter()
            .map(|q| q.docs.iter().cloned().collect())
            .collect();
        Ok(RelevanceEvaluator {
            qrels,
            grades,
            measures,
            ctx: Context {
                relevance_level,
                num_docs_in_coll: 0,
                // pytrec_eval embeds trec_eval 9, whose recall points round up from x.1.
                recall_rounding: RecallRounding::Legacy,
            },
            judged_docs_only: judged_docs_only_flag,
        })
    }

    /// `{query_id: {measure: value}}` for every query of `scores` that has judgements.
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        scores: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let run = run_from_dict(scores, &|q| self.qrels.get(q).is_some())?;
        let values: Vec<Vec<f64>> =
            py.detach(|| run.par_iter().map(|r| self.evaluate_query(r)).collect());
        let names: Vec<Bound<'py, PyString>> = self
            .measures
            .iter()
            .flat_map(|m| m.value_names.iter())
            .map(|n| PyString::intern(py, n))
            .collect();
        let out = PyDict::new(py);
        for (r, values) in run.iter().zip(values) {
            let per_query = PyDict::new(py);
            for (name, v) in names.iter().zip(values) {
                per_query.set_item(name, v)?;
            }
            out.set_item(&r.query_id, per_query)?;
        }
        Ok(out)
    }
}

impl RelevanceEvaluator {
    fn evaluate_query(&self, r: &OwnedRanking) -> Vec<f64> {
        let at = self
            .qrels
            .queries
            .binary_search_by(|q| q.query_id.as_str().cmp(&r.query_id))
            .expect("run_from_dict keeps judged queries only");
        let (judged, table) = (&self.qrels.queries[at], &self.grades[at]);
        let ranking = trec9_order(r.docs());
        let grades = ranking.iter().map(|(d, _)| table.get(*d).copied());
        let all_grades = judged.docs.iter().map(|(_, g)| *g);
        let level = self.ctx.relevance_level;
        // trec_eval -J: unjudged documents leave the ranking before anything is computed.
        let rr = if self.judged_docs_only {
            let kept = grades
                .into_iter()
                .filter(|g| matches!(g, Some(g) if *g >= 0));
            RankedRels::new(kept, all_grades, level)
        } else {
            RankedRels::new(grades.into_iter(), all_grades, level)
        };
        let width = self.measures.iter().map(|m| m.value_names.len()).sum();
        let mut values = vec![0.0; width];
        let mut at = 0;
        for m in &self.measures {
            let n = m.value_names.len();
            m.compute(&rr, &self.ctx, &mut values[at..at + n]);
            // pytrec_eval reports num_q per query as 1 (trec_eval counts it only in the summary).
            if m.value_names[0] == "num_q" {
                values[at] = 1.0;
            }
            at += n;
        }
        values
    }
}

/// `docs` in the order of trec_eval 9 (inside pytrec_eval): score descending with scores held
/// as C floats, so doubles equal in single precision tie, and ties by doc id descending.
/// Sorting packed integer keys (the float's order-preserving bits, then the position) is several
/// times faster than comparing (score, id) pairs; only runs of equal scores compare ids.
fn trec9_order(docs: Vec<(&str, f64)>) -> Vec<(&str, f64)> {
    let descending = |score: f64| {
        let f = score as f32;
        let bits = if f == 0.0 { 0.0f32 } else { f }.to_bits(); // -0.0 ties with 0.0, as in C
        let ascending = if bits >> 31 == 1 {
            !bits
        } else {
            bits | 0x8000_0000
        };
        !ascending
    };
    let mut keys: Vec<u64> = docs
        .iter()
        .enumerate()
        .map(|(i, (_, s))| (u64::from(descending(*s)) << 32) | i as u64)
        .collect();
    keys.sort_unstable();
    let mut start = 0;
    while start < keys.len() {
        let score = keys[start] >> 32;
        let end = start
            + keys[start..]
                .iter()
                .take_while(|k| *k >> 32 == score)
                .count();
        if end - start > 1 {
            keys[start..end].sort_unstable_by(|a, b| {
                let (da, db) = (docs[(*a as u32) as usize].0, docs[(*b as u32) as usize].0);
                db.cmp(da)
            });
        }
        start = end;
    }
    keys.into_iter()
        .map(|k| {
            let (d, s) = docs[(k as u32) as usize];
            (d, f64::from(s as f32))
        })
        .collect()
}

/// The value names `measures` (trec_eval `-m` arguments) produce, in trec_eval's order; raises
/// ValueError for an unknown or unimplemented measure.
#[pyfunction]
pub fn trec_measures(measures: Vec<String>) -> PyResult<Vec<String>> {
    let parsed = parse_measures(&measures).map_err(eval_error)?;
    Ok(parsed
        .into_iter()
        .flat_map(|m| m.value_names.into_iter())
        .collect())
}

/// A qrels or run argument: a dict, or a path to a TREC/BEIR file.
fn as_path(obj: &Bound<'_, PyAny>) -> Option<PathBuf> {
    if obj.is_instance_of::<PyDict>() {
        return None;
    }
    obj.extract::<PathBuf>().ok()
}

/// BEIR-style metrics (`ndcg@10`, `recall@100`, `mrr@10`, `map@100`, `p@10`, `hit@10`) of a run
/// against qrels; dicts or file paths. Returns `{metric: mean}` or, with `per_query`,
/// `{query_id: {metric: value}}`.
#[pyfunction]
#[pyo3(signature = (qrels, run, metrics = None, *, per_query = false, relevance_threshold = 1, ignore_identical_ids = false))]
pub fn evaluate<'py>(
    py: Python<'py>,
    qrels: &Bound<'py, PyAny>,
    run: &Bound<'py, PyAny>,
    metrics: Option<Vec<String>>,
    per_query: bool,
    relevance_threshold: i32,
    ignore_identical_ids: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let names = metrics.unwrap_or_else(|| {
        ["ndcg@10", "recall@100", "mrr@10", "map@100"]
            .map(String::from)
            .to_vec()
    });
    let metrics: Vec<Metric> = names
        .iter()
        .map(|m| m.parse::<Metric>().map_err(eval_error))
        .collect::<PyResult<_>>()?;
    let opts = EvalOptions {
        relevance_threshold,
        ignore_identical_ids,
        max_docs: None,
    };
    let qrels = match as_path(qrels) {
        Some(path) => py
            .detach(|| read_qrels(&path, Dialect::Permissive))
            .map_err(data_error)?,
        None => qrels_from_dict(qrels)?,
    };
    let eval = match as_path(run) {
        Some(path) => py
            .detach(|| -> trawl_eval::Result<_> {
                let text = read_text(&path)?;
                // As `trawl eval`: BEIR TSV or TREC qrels, headers and comments allowed.
                let table = parse_run(&text, &path, Dialect::Permissive)?;
                evaluate_table(&qrels, table, &metrics, &opts)
            })
            .map_err(eval_error)?,
        None => {
            let rankings = run_from_dict(run, &|q| qrels.get(q).is_some())?;
            py.detach(|| evaluate_table(&qrels, run_table(&rankings), &metrics, &opts))
                .map_err(eval_error)?
        }
    };
    let keys: Vec<String> = eval.metrics.iter().map(|m| m.to_string()).collect();
    let out = PyDict::new(py);
    if per_query {
        let per: &BTreeMap<String, Vec<f64>> = &eval.per_query;
        for (q, values) in per {
            let d = PyDict::new(py);
            for (k, v) in keys.iter().zip(values) {
                d.set_item(k, v)?;
            }
            out.set_item(q, d)?;
        }
    } else {
        for (k, v) in keys.iter().zip(&eval.mean) {
            out.set_item(k, v)?;
        }
    }
    Ok(out)
}
