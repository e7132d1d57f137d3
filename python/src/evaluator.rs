//! Evaluation: pytrec_eval's `RelevanceEvaluator` (trec_eval's measures, per-query dicts) and
//! `trawl.evaluate` (BEIR-style metrics on dicts or files). The dicts are read with the GIL held;
//! the measures run meanwhile on worker threads, without it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender, TrySendError};
use std::sync::Mutex;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use trawl_data::trec_format::{parse_run, read_qrels, Dialect};
use trawl_eval::measures::{parse_measures, Context, Measure, RecallRounding};
use trawl_eval::ranking::RankedRels;
use trawl_eval::trec_format::read_text;
use trawl_eval::{evaluate_table, EvalOptions, Metric};

use crate::convert::{
    as_dict, for_each_item, qrels_from_dict, run_from_dict, run_table, str_of, type_name,
};
use crate::errors::{data_error, eval_error};
use crate::judgements::Judgements;
use crate::run_batch::{Batch, ReadScratch};
use crate::trec9_rank::{ranked_grades, Retrieved, Scratch};

/// Run documents per batch: whole queries, read with the GIL held while workers evaluate the
/// batches before (big enough to make the hand-over negligible, small enough to overlap).
const BATCH_DOCS: usize = 1 << 15;

/// trec_eval's measures over fixed qrels (the native half of `trawl.RelevanceEvaluator`, which
/// first turns pytrec_eval's measure spellings into trec_eval `-m` arguments).
#[pyclass(module = "trawl._trawl", subclass, name = "_RelevanceEvaluator")]
pub struct RelevanceEvaluator {
    judged: Judgements,
    measures: Vec<Measure>,
    /// Values per query (a measure can have several, e.g. `P_5`, `P_10`).
    width: usize,
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
        let judged = Judgements::from_dict(query_relevance)?;
        if measures.is_empty() {
            return Err(PyValueError::new_err(
                "no measures given (e.g. {'map', 'ndcg_cut.10', 'P.5'})",
            ));
        }
        let measures = parse_measures(&measures).map_err(eval_error)?;
        let width = measures.iter().map(|m| m.value_names.len()).sum();
        Ok(RelevanceEvaluator {
            judged,
            measures,
            width,
            ctx: Context {
                relevance_level,
                num_docs_in_coll: 0,
                // pytrec_eval embeds trec_eval 9, whose recall points round up from x.1.
                recall_rounding: RecallRounding::Legacy,
            },
            judged_docs_only: judged_docs_only_flag,
        })
    }

    /// `{query_id: {measure: value}}` for every query of `scores` that has judgements, in the
    /// run's order.
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        scores: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let run = as_dict(scores, "the run (scores)")?;
        let (query_keys, mut values) = self.read_and_evaluate(py, run)?;
        values.sort_unstable_by_key(|v| v.first);
        let names: Vec<Bound<'py, PyString>> = self
            .measures
            .iter()
            .flat_map(|m| m.value_names.iter())
            .map(|n| PyString::intern(py, n))
            .collect();
        // Thousands of new dicts would start collections that walk the whole heap (the run
        // included) although none of them can be garbage yet.
        let _paused = GcPause::new(py)?;
        let out = PyDict::new(py);
        for batch in &values {
            for (i, row) in batch.values.chunks(self.width).enumerate() {
                let per_query = PyDict::new(py);
                for (name, v) in names.iter().zip(row) {
                    per_query.set_item(name, *v)?;
                }
                out.set_item(&query_keys[batch.first + i], per_query)?;
            }
        }
        Ok(out)
    }
}

/// Python's cyclic garbage collector switched off until dropped (when it was on).
struct GcPause<'py>(Option<Bound<'py, PyModule>>);

impl<'py> GcPause<'py> {
    fn new(py: Python<'py>) -> PyResult<Self> {
        let gc = py.import("gc")?;
        if !gc.call_method0("isenabled")?.is_truthy()? {
            return Ok(GcPause(None));
        }
        gc.call_method0("disable")?;
        Ok(GcPause(Some(gc)))
    }
}

impl Drop for GcPause<'_> {
    fn drop(&mut self) {
        if let Some(gc) = &self.0 {
            // Cannot fail: gc.enable takes no arguments and returns None.
            let _ = gc.call_method0("enable");
        }
    }
}

/// A batch's values (`width` per query), with its buffers for reuse.
struct Done {
    first: usize,
    values: Vec<f64>,
    buffers: Batch,
}

/// The values of the batch starting at query `first`.
struct BatchValues {
    first: usize,
    values: Vec<f64>,
}

impl RelevanceEvaluator {
    /// Reads the run with the GIL held (no Python object can change meanwhile) into batches that
    /// worker threads evaluate as they come, without the GIL; then this thread joins them with
    /// the GIL released. So reading the dicts, the part that cannot be parallel, overlaps the
    /// measures. Returns the judged queries' keys in run order and the batches' values.
    fn read_and_evaluate<'py>(
        &self,
        py: Python<'py>,
        run: &Bound<'py, PyDict>,
    ) -> PyResult<(Vec<Bound<'py, PyAny>>, Vec<BatchValues>)> {
        let threads = rayon::current_num_threads().max(1);
        let (work_tx, work_rx) = mpsc::sync_channel::<Batch>(2 * threads);
        let work_rx = Mutex::new(work_rx);
        let (done_tx, done_rx) = mpsc::channel::<Done>();
        let mut query_keys = Vec::new();
        let mut results = Vec::new();
        let read = std::thread::scope(|s| {
            let mut workers = Vec::new();
            let mut scratch = Scratch::default();
            let mut spare = Vec::new();
            let mut read_scratch = ReadScratch::default();
            let mut batch = Batch::default().restart(0);
            let read = for_each_item(run, |q, docs| {
                let query_id = match str_of(q) {
                    Some(id) => id?,
                    None => {
                        return Err(PyTypeError::new_err(format!(
                            "a run query id must be a str, got {}",
                            type_name(&q)
                        )))
                    }
                };
                // The message only on error: formatting it for every query shows in the profile.
                let Ok(docs) = docs.cast::<PyDict>() else {
                    return Err(PyTypeError::new_err(format!(
                        "run[{query_id:?}] must be a dict, got {}",
                        type_name(&docs)
                    )));
                };
                let Some(qi) = self.judged.query(query_id) else {
                    return Ok(());
                };
                // Owned: a score's __float__ could drop them from the run while we read them.
                let (q, docs) = (q.to_owned(), docs.to_owned());
                batch.read_query(&self.judged, qi, query_id, &docs, &mut read_scratch)?;
                query_keys.push(q);
                if batch.docs() < BATCH_DOCS {
                    return Ok(());
                }
                // Buffers come back from the workers (new pages cost page faults).
                let next = match done_rx.try_recv() {
                    Ok(d) => {
                        results.push(BatchValues {
                            first: d.first,
                            values: d.values,
                        });
                        d.buffers
                    }
                    Err(_) => spare.pop().unwrap_or_default(),
                };
                let full = std::mem::replace(&mut batch, next.restart(query_keys.len()));
                if workers.len() + 1 < threads {
                    let (rx, tx) = (&work_rx, done_tx.clone());
                    workers.push(s.spawn(move || self.work(rx, &tx)));
                }
                // With the queue full (or no worker threads) this thread evaluates it.
                if let Err(TrySendError::Full(full) | TrySendError::Disconnected(full)) =
                    work_tx.try_send(full)
                {
                    let values = py.detach(|| self.evaluate_batch(&full, &mut scratch));
                    results.push(BatchValues {
                        first: full.first,
                        values,
                    });
                    spare.push(full);
                }
                Ok(())
            });
            drop(work_tx);
            let ok = read.is_ok();
            let last = py.detach(|| {
                let last = ok.then(|| BatchValues {
                    first: batch.first,
                    values: self.evaluate_batch(&batch, &mut scratch),
                });
                if ok {
                    self.work(&work_rx, &done_tx);
                }
                for w in workers {
                    if let Err(panic) = w.join() {
                        std::panic::resume_unwind(panic);
                    }
                }
                last
            });
            results.extend(last);
            read
        });
        drop(done_tx);
        read?;
        results.extend(done_rx.try_iter().map(|d| BatchValues {
            first: d.first,
            values: d.values,
        }));
        Ok((query_keys, results))
    }

    /// A worker: evaluates batches until the queue is closed and empty.
    fn work(&self, queue: &Mutex<Receiver<Batch>>, done: &Sender<Done>) {
        let mut scratch = Scratch::default();
        loop {
            let next = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
            let Ok(batch) = next else { return };
            let values = self.evaluate_batch(&batch, &mut scratch);
            let _ = done.send(Done {
                first: batch.first,
                values,
                buffers: batch,
            });
        }
    }

    fn evaluate_batch(&self, batch: &Batch, scratch: &mut Scratch) -> Vec<f64> {
        let mut values = vec![0.0; batch.queries() * self.width];
        for ((q, docs), out) in batch.rankings().zip(values.chunks_mut(self.width)) {
            self.evaluate_query(q, &docs, scratch, out);
        }
        values
    }

    fn evaluate_query(&self, q: u32, docs: &Retrieved<'_>, scratch: &mut Scratch, out: &mut [f64]) {
        let hit_id = |h: &crate::trec9_rank::Hit| self.judged.id(h.doc as usize);
        let ranked = ranked_grades(docs, hit_id, self.judged_docs_only, scratch);
        let all_grades = self.judged.grades(q).iter().copied();
        let rr = RankedRels::new(ranked.iter().copied(), all_grades, self.ctx.relevance_level);
        let mut at = 0;
        for m in &self.measures {
            let n = m.value_names.len();
            m.compute(&rr, &self.ctx, &mut out[at..at + n]);
            // pytrec_eval reports num_q per query as 1 (trec_eval counts it only in the summary).
            if m.value_names[0] == "num_q" {
                out[at] = 1.0;
            }
            at += n;
        }
    }
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
