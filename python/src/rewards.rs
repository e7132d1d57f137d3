//! RL rewards in-process: `trawl.Retriever` (several rewrites per item, union / intersection /
//! single, trawl-retrieve's `retrieve_rewrites`) and `trawl.DocumentDataset` (ranked doc ids ->
//! ndcg / recall / hit / mrr / precision against labels, trawl-eval's `score_ranking`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use pyo3::exceptions::{PyKeyError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use rayon::prelude::*;
use trawl_retrieve::{
    retrieve_rewrites, Labels, Retriever as _, RewardMetric, RewriteFusion, RewriteMode,
};

use crate::errors::retrieve_error;
use crate::kb::{str_list, Kb};

/// Retrieval for RL rollouts: one batch call for every rewrite of every item.
#[pyclass(module = "trawl", name = "Retriever", frozen)]
pub struct PyRetriever {
    inner: Arc<dyn trawl_retrieve::Retriever>,
    #[pyo3(get)]
    name: String,
}

/// Items as lists of rewrites: a list of str is one rewrite per item.
fn rewrite_items(obj: &Bound<'_, PyAny>) -> PyResult<Vec<Vec<String>>> {
    if obj.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(
            "query_rewrites must be a list (one entry per item) of str or of lists of str",
        ));
    }
    let mut items = Vec::new();
    for (i, item) in obj.try_iter()?.enumerate() {
        let item = item?;
        if let Ok(s) = item.cast::<PyString>() {
            items.push(vec![s.to_cow()?.into_owned()]);
        } else {
            items.push(str_list(&item, &format!("query_rewrites[{i}]"))?);
        }
    }
    Ok(items)
}

#[pymethods]
impl PyRetriever {
    /// `kb`: a `trawl.KB`; `retriever`: bm25, dense or hybrid; `model`: the query encoder for
    /// dense/hybrid (default: the model recorded in the KB). On a KB built with `--chunk` the
    /// ids are the documents' (each ranked by its best chunk, MaxP), as labels name them.
    #[new]
    #[pyo3(signature = (kb, retriever = "bm25", model = None))]
    fn new(kb: &Bound<'_, Kb>, retriever: &str, model: Option<&str>) -> PyResult<Self> {
        // Rewards judge documents: on a chunked KB, each ranked by its best chunk (MaxP).
        let inner = trawl_retrieve::collapse_chunks(kb.get().retriever(retriever, model)?);
        Ok(PyRetriever {
            inner,
            name: retriever.to_string(),
        })
    }

    /// For each item (a list of rewrites, or one str) the ids of its top `k` documents, best
    /// first. `mode`: `union` (any rewrite's hits, fused), `intersection` (hits of every rewrite),
    /// `single` (the first rewrite's ranking). `fusion`: `rrf` (default) or `max_score`. With
    /// `return_scores`, `(id, score)` pairs.
    #[pyo3(signature = (query_rewrites, k = 10, mode = "union", fusion = "rrf", return_scores = false))]
    fn retrieve_batch<'py>(
        &self,
        py: Python<'py>,
        query_rewrites: &Bound<'py, PyAny>,
        k: usize,
        mode: &str,
        fusion: &str,
        return_scores: bool,
    ) -> PyResult<Vec<Bound<'py, PyAny>>> {
        if k == 0 {
            return Err(PyValueError::new_err("k must be a positive integer"));
        }
        let items = rewrite_items(query_rewrites)?;
        let mode: RewriteMode = mode.parse().map_err(retrieve_error)?;
        let fusion: RewriteFusion = fusion.parse().map_err(retrieve_error)?;
        let results = py
            .detach(|| retrieve_rewrites(self.inner.as_ref(), &items, k, mode, fusion))
            .map_err(retrieve_error)?;
        results
            .into_iter()
            .map(|r| {
                let docs = r.fused.into_iter().take(k);
                if return_scores {
                    let v: Vec<(String, f32)> = docs.map(|d| (d.id.to_string(), d.score)).collect();
                    v.into_pyobject(py).map(|o| o.into_any())
                } else {
                    let v: Vec<String> = docs.map(|d| d.id.to_string()).collect();
                    v.into_pyobject(py).map(|o| o.into_any())
                }
            })
            .collect()
    }

    fn __repr__(&self) -> String {
        format!(
            "Retriever({:?}, {} documents)",
            self.name,
            self.inner.num_docs()
        )
    }
}

/// Relevance labels by uid, for rewards.
#[pyclass(module = "trawl", name = "DocumentDataset", frozen)]
pub struct DocumentDataset {
    labels: HashMap<String, HashMap<String, i32>>,
}

#[pymethods]
impl DocumentDataset {
    /// `labels`: `{uid: [relevant doc ids]}` or `{uid: {doc_id: grade}}`, or the path of a qrels
    /// file (TREC or BEIR TSV) or labels JSON.
    #[new]
    fn new(py: Python<'_>, labels: &Bound<'_, PyAny>) -> PyResult<Self> {
        if !labels.is_instance_of::<PyDict>() {
            if let Ok(path) = labels.extract::<PathBuf>() {
                if !path.exists() {
                    return Err(pyo3::exceptions::PyFileNotFoundError::new_err(format!(
                        "{}: no such labels file",
                        path.display()
                    )));
                }
                let loaded = py.detach(|| Labels::load(&path)).map_err(retrieve_error)?;
                let labels = loaded
                    .labelled_uids()
                    .into_iter()
                    .map(|u| (u.to_string(), loaded.get(u).cloned().unwrap_or_default()))
                    .collect();
                return Ok(DocumentDataset { labels });
            }
            return Err(PyTypeError::new_err(
                "labels must be a dict {uid: [doc ids] or {doc id: grade}} or a path",
            ));
        }
        let dict = labels.cast::<PyDict>()?;
        let mut out = HashMap::with_capacity(dict.len());
        for (uid, docs) in dict.iter() {
            let uid: String = uid
                .extract()
                .map_err(|_| PyTypeError::new_err("label uids must be str"))?;
            let judged: HashMap<String, i32> = if let Ok(d) = docs.cast::<PyDict>() {
                d.extract().map_err(|_| {
                    PyTypeError::new_err(format!(
                        "labels[{uid:?}] must map str doc ids to int grades"
                    ))
                })?
            } else {
                str_list(&docs, &format!("labels[{uid:?}]"))?
                    .into_iter()
                    .map(|d| (d, 1))
                    .collect()
            };
            out.insert(uid, judged);
        }
        Ok(DocumentDataset { labels: out })
    }

    /// One reward per item: `method` (ndcg, recall, hit, mrr, precision) at `k` of the ranked
    /// `doc_ids[i]` against the labels of `uids[i]`. An unknown uid raises KeyError.
    #[pyo3(signature = (uids, doc_ids, method = "ndcg", k = 10))]
    fn compute_rewards_batch(
        &self,
        py: Python<'_>,
        uids: &Bound<'_, PyAny>,
        doc_ids: &Bound<'_, PyAny>,
        method: &str,
        k: usize,
    ) -> PyResult<Vec<f64>> {
        let uids = str_list(uids, "uids")?;
        let mut rankings = Vec::with_capacity(uids.len());
        for (i, d) in doc_ids.try_iter()?.enumerate() {
            rankings.push(str_list(&d?, &format!("doc_ids[{i}]"))?);
        }
        if rankings.len() != uids.len() {
            return Err(PyValueError::new_err(format!(
                "uids and doc_ids differ in length ({} vs {})",
                uids.len(),
                rankings.len()
            )));
        }
        let metric: RewardMetric = format!("{method}@{k}").parse().map_err(retrieve_error)?;
        let judged: Vec<&HashMap<String, i32>> = uids
            .iter()
            .map(|u| {
                self.labels.get(u).ok_or_else(|| {
                    PyKeyError::new_err(format!(
                        "unknown uid {u:?}: the dataset has labels for {} uids",
                        self.labels.len()
                    ))
                })
            })
            .collect::<PyResult<_>>()?;
        let opts = trawl_eval::EvalOptions::default();
        Ok(py.detach(|| {
            rankings
                .par_iter()
                .zip(judged.par_iter())
                .map(|(ranking, j)| {
                    let refs: Vec<&str> = ranking.iter().map(String::as_str).collect();
                    trawl_eval::score_ranking(*metric.metric(), &refs, j, &opts)
                })
                .collect()
        }))
    }

    fn __len__(&self) -> usize {
        self.labels.len()
    }

    fn __contains__(&self, uid: &str) -> bool {
        self.labels.contains_key(uid)
    }
}
