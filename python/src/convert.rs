//! Python dicts (pytrec_eval's shapes) into trawl-eval's tables, with TypeError/ValueError for
//! values of the wrong kind. Ids are copied once into Rust strings so the evaluation itself can run
//! without the GIL.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyString};
use trawl_eval::trec_format::{QrelsTable, QueryJudgements, RunTable};

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// `obj` as a dict, or a TypeError naming `what` and the type found.
pub fn as_dict<'a, 'py>(
    obj: &'a Bound<'py, PyAny>,
    what: &str,
) -> PyResult<&'a Bound<'py, PyDict>> {
    obj.cast::<PyDict>()
        .map_err(|_| PyTypeError::new_err(format!("{what} must be a dict, got {}", type_name(obj))))
}

/// A str key or value as Rust text; TypeError otherwise.
pub fn id_str(obj: &Bound<'_, PyAny>, what: &dyn Fn() -> String) -> PyResult<String> {
    let s = obj.cast::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!("{} must be a str, got {}", what(), type_name(obj)))
    })?;
    Ok(crate::pystr::utf8(s)?.to_owned())
}

/// `{query_id: {doc_id: grade}}` into trawl-eval's sorted qrels table. Queries without
/// judgements are dropped (pytrec_eval does the same).
pub fn qrels_from_dict(obj: &Bound<'_, PyAny>) -> PyResult<QrelsTable> {
    let dict = as_dict(obj, "qrels (query_relevance)")?;
    let mut queries = Vec::with_capacity(dict.len());
    for (q, judged) in dict.iter() {
        let query_id = id_str(&q, &|| "a qrels query id".into())?;
        let judged = as_dict(&judged, &format!("qrels[{query_id:?}]"))?;
        let mut docs = Vec::with_capacity(judged.len());
        for (d, g) in judged.iter() {
            let doc = id_str(&d, &|| format!("a document id of qrels[{query_id:?}]"))?;
            let grade: i32 = g.extract().map_err(|_| {
                PyTypeError::new_err(format!(
                    "qrels[{query_id:?}][{doc:?}] must be an int relevance grade, got {}",
                    type_name(&g)
                ))
            })?;
            docs.push((doc, grade));
        }
        if docs.is_empty() {
            continue;
        }
        docs.sort_by(|a, b| a.0.cmp(&b.0));
        queries.push(QueryJudgements { query_id, docs });
    }
    queries.sort_by(|a, b| a.query_id.cmp(&b.query_id));
    Ok(QrelsTable {
        queries,
        notes: Vec::new(),
    })
}

/// One query's retrieved documents: ids packed into one buffer, with their scores.
#[derive(Default)]
pub struct OwnedRanking {
    pub query_id: String,
    ids: String,
    ends: Vec<usize>,
    scores: Vec<f64>,
}

impl OwnedRanking {
    pub fn docs(&self) -> Vec<(&str, f64)> {
        let mut start = 0;
        self.ends
            .iter()
            .zip(&self.scores)
            .map(|(&end, &s)| {
                let id = &self.ids[start..end];
                start = end;
                (id, s)
            })
            .collect()
    }
}

/// `{query_id: {doc_id: score}}` into owned rankings. `keep` decides from the query id whether a
/// query is needed at all (queries without judgements are skipped without reading their docs).
/// Scores must be finite numbers.
pub fn run_from_dict(
    obj: &Bound<'_, PyAny>,
    keep: &dyn Fn(&str) -> bool,
) -> PyResult<Vec<OwnedRanking>> {
    let dict = as_dict(obj, "the run (scores)")?;
    let mut out = Vec::with_capacity(dict.len());
    for (q, docs) in dict.iter() {
        let query_id = id_str(&q, &|| "a run query id".into())?;
        let docs = as_dict(&docs, &format!("run[{query_id:?}]"))?;
        if !keep(&query_id) {
            continue;
        }
        let mut r = OwnedRanking {
            query_id,
            ids: String::new(),
            ends: Vec::with_capacity(docs.len()),
            scores: Vec::with_capacity(docs.len()),
        };
        read_docs(docs, &mut r)?;
        out.push(r);
    }
    Ok(out)
}

/// A run table borrowing from owned rankings (for trawl-eval's table functions).
pub fn run_table(rankings: &[OwnedRanking]) -> RunTable<'_> {
    RunTable {
        queries: rankings
            .iter()
            .map(|r| (r.query_id.as_str(), r.docs()))
            .collect(),
        run_id: "",
        notes: Vec::new(),
    }
}

/// Appends the `{doc_id: score}` entries of `docs` to `r`. The loop of every evaluation: it walks
/// the dict with `PyDict_Next` and borrowed references (no reference counting per entry).
fn read_docs(docs: &Bound<'_, PyDict>, r: &mut OwnedRanking) -> PyResult<()> {
    let py = docs.py();
    r.ids.reserve(docs.len() * 12);
    let mut pos: ffi::Py_ssize_t = 0;
    let mut key: *mut ffi::PyObject = std::ptr::null_mut();
    let mut value: *mut ffi::PyObject = std::ptr::null_mut();
    // SAFETY: PyDict_Next hands out borrowed references that stay valid while the dict is not
    // modified; nothing below runs Python code (no __eq__/__hash__/__float__ calls on the fast
    // path), so the dict cannot change under us. The slow path re-borrows them as Bound values.
    while unsafe { ffi::PyDict_Next(docs.as_ptr(), &mut pos, &mut key, &mut value) } != 0 {
        let (d, s) = unsafe { (Borrowed::from_ptr(py, key), Borrowed::from_ptr(py, value)) };
        let d = d.cast::<PyString>().map_err(|_| {
            PyTypeError::new_err(format!(
                "a document id of run[{:?}] must be a str, got {}",
                r.query_id,
                type_name(&d)
            ))
        })?;
        let score = if let Ok(f) = s.cast::<PyFloat>() {
            f.value()
        } else {
            s.extract::<f64>().map_err(|_| {
                PyTypeError::new_err(format!(
                    "run[{:?}][{:?}] must be a float score, got {}",
                    r.query_id,
                    d.to_string_lossy(),
                    type_name(&s)
                ))
            })?
        };
        if !score.is_finite() {
            return Err(PyValueError::new_err(format!(
                "run[{:?}][{:?}] is {score}: scores must be finite numbers",
                r.query_id,
                d.to_string_lossy()
            )));
        }
        r.ids.push_str(crate::pystr::utf8(&d)?);
        r.ends.push(r.ids.len());
        r.scores.push(score);
    }
    Ok(())
}
