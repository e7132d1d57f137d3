//! Python dicts (pytrec_eval's shapes) into trawl-eval's tables, with TypeError/ValueError for
//! values of the wrong kind. Ids are copied once into Rust strings so the evaluation itself can run
//! without the GIL.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use trawl_eval::trec_format::{QrelsTable, QueryJudgements, RunTable};

pub fn type_name(obj: &Bound<'_, PyAny>) -> String {
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

/// Calls `f` with each (key, value) of `dict` as `PyDict_Next`'s borrowed references: no reference
/// counting per entry, the loop of every evaluation. Before `f` runs Python code (a `__float__`,
/// an `__index__`), it must own what it still uses: that code could change or free the dict's
/// entries (PyDict_Next itself stays memory-safe on a changed dict).
pub fn for_each_item<'py>(
    dict: &Bound<'py, PyDict>,
    mut f: impl FnMut(Borrowed<'_, 'py, PyAny>, Borrowed<'_, 'py, PyAny>) -> PyResult<()>,
) -> PyResult<()> {
    let py = dict.py();
    let mut pos: ffi::Py_ssize_t = 0;
    let mut key: *mut ffi::PyObject = std::ptr::null_mut();
    let mut value: *mut ffi::PyObject = std::ptr::null_mut();
    // SAFETY: we hold `dict` and the GIL; the references stay valid until Python code runs.
    while unsafe { ffi::PyDict_Next(dict.as_ptr(), &mut pos, &mut key, &mut value) } != 0 {
        let (k, v) = unsafe { (Borrowed::from_ptr(py, key), Borrowed::from_ptr(py, value)) };
        f(k, v)?;
    }
    Ok(())
}

/// The text of `obj` when it is a str (borrowed from it, no copy), None otherwise.
pub fn str_of<'a>(obj: Borrowed<'a, '_, PyAny>) -> Option<PyResult<&'a str>> {
    let ptr = obj.as_ptr();
    // SAFETY: a type check, then reading a live str; the exact check is an inline pointer
    // comparison, the subclass check a call.
    unsafe {
        if ffi::PyUnicode_CheckExact(ptr) == 0 && ffi::PyUnicode_Check(ptr) == 0 {
            return None;
        }
        Some(crate::pystr::utf8_of_ptr(obj.py(), ptr))
    }
}

/// Reads one run entry and hands its document id and score to `push`; TypeError/ValueError name
/// what is wrong. An exact float score is read without a call into Python's number protocol.
pub fn run_entry(
    query_id: &str,
    doc: Borrowed<'_, '_, PyAny>,
    score: Borrowed<'_, '_, PyAny>,
    push: impl FnOnce(&str, f64),
) -> PyResult<()> {
    let id = match str_of(doc) {
        Some(id) => id?,
        None => {
            return Err(PyTypeError::new_err(format!(
                "a document id of run[{query_id:?}] must be a str, got {}",
                type_name(&doc)
            )))
        }
    };
    // SAFETY: PyFloat_AsDouble cannot fail on an exact float.
    if unsafe { ffi::PyFloat_CheckExact(score.as_ptr()) } != 0 {
        let s = unsafe { ffi::PyFloat_AsDouble(score.as_ptr()) };
        if s.is_finite() {
            push(id, s);
            return Ok(());
        }
    }
    // Owned while a __float__ runs (it could drop them from the dict); `id` is the owned doc's.
    let (_doc, score) = (doc.to_owned(), score.to_owned());
    let s: f64 = score.extract().map_err(|_| {
        PyTypeError::new_err(format!(
            "run[{query_id:?}][{id:?}] must be a float score, got {}",
            type_name(&score)
        ))
    })?;
    if !s.is_finite() {
        return Err(PyValueError::new_err(format!(
            "run[{query_id:?}][{id:?}] is {s}: scores must be finite numbers"
        )));
    }
    push(id, s);
    Ok(())
}

/// Appends the `{doc_id: score}` entries of `docs` to `r`.
fn read_docs(docs: &Bound<'_, PyDict>, r: &mut OwnedRanking) -> PyResult<()> {
    r.ids.reserve(docs.len() * 12);
    let query_id = r.query_id.clone();
    read_run_docs(docs, &query_id, |id, score| {
        r.ids.push_str(id);
        r.ends.push(r.ids.len());
        r.scores.push(score);
    })
}

/// Entries taken from the dict before any is read: their objects are prefetched meanwhile.
pub const WINDOW: usize = 16;

/// Hands each `{doc_id: score}` entry of `docs` (the run of `query_id`) to `push`, with
/// TypeError/ValueError as [`run_entry`] gives them.
///
/// Reading a run is bound by memory: each entry's str and float are objects somewhere in the
/// heap. So entries are taken a window at a time (PyDict_Next walks the dict's own array in
/// order) and their objects prefetched, so the cache misses overlap instead of queueing.
pub fn read_run_docs(
    docs: &Bound<'_, PyDict>,
    query_id: &str,
    mut push: impl FnMut(&str, f64),
) -> PyResult<()> {
    let py = docs.py();
    let mut window = [(std::ptr::null_mut(), std::ptr::null_mut()); WINDOW];
    let mut pos: ffi::Py_ssize_t = 0;
    loop {
        // The borrowed references stay valid until Python code runs, and none runs before the
        // window is owned (below).
        let n = next_window(docs, &mut pos, &mut window, 56); // a short str's text follows its header
        for (i, &(key, value)) in window[..n].iter().enumerate() {
            // SAFETY: live objects (see above); the type checks are inline pointer comparisons
            // and PyFloat_AsDouble cannot fail on an exact float.
            unsafe {
                if ffi::PyUnicode_CheckExact(key) != 0 && ffi::PyFloat_CheckExact(value) != 0 {
                    let score = ffi::PyFloat_AsDouble(value);
                    if score.is_finite() {
                        push(crate::pystr::utf8_of_ptr(py, key)?, score);
                        continue;
                    }
                }
            }
            // Another type or a bad score: run_entry may run Python code (a __float__) that could
            // drop the window's objects from the dict, so the rest of the window is owned first.
            let rest: Vec<(Bound<'_, PyAny>, Bound<'_, PyAny>)> = window[i..n]
                .iter()
                .map(|&(k, v)| unsafe {
                    (
                        Borrowed::from_ptr(py, k).to_owned(),
                        Borrowed::from_ptr(py, v).to_owned(),
                    )
                })
                .collect();
            for (k, v) in &rest {
                run_entry(query_id, k.as_borrowed(), v.as_borrowed(), &mut push)?;
            }
            break;
        }
        if n < WINDOW {
            return Ok(());
        }
    }
}

/// The next (up to) `WINDOW` entries of `dict` from `pos` as borrowed (key, value) pointers, their
/// objects prefetched (the key's first `key_bytes`, the float value of the value); how many.
pub fn next_window(
    dict: &Bound<'_, PyDict>,
    pos: &mut ffi::Py_ssize_t,
    window: &mut [(*mut ffi::PyObject, *mut ffi::PyObject); WINDOW],
    key_bytes: usize,
) -> usize {
    let mut n = 0;
    while n < WINDOW {
        let (mut key, mut value) = (std::ptr::null_mut(), std::ptr::null_mut());
        // SAFETY: we hold `dict` and the GIL.
        if unsafe { ffi::PyDict_Next(dict.as_ptr(), pos, &mut key, &mut value) } == 0 {
            break;
        }
        prefetch(key, key_bytes);
        prefetch(value, 16);
        window[n] = (key, value);
        n += 1;
    }
    n
}

/// Asks the CPU to bring the cache lines of an object's header and of byte `last` (objects are
/// 16-aligned, so these are all the lines of its first `last` bytes).
#[inline(always)]
fn prefetch(obj: *mut ffi::PyObject, last: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching is a hint; it never faults, whatever the address.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(obj as *const i8);
        _mm_prefetch::<_MM_HINT_T0>((obj as *const i8).wrapping_add(last));
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (obj, last);
}
