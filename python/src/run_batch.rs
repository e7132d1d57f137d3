//! A run's queries read from pytrec_eval's dicts into batches that worker threads rank without
//! the GIL (see `evaluator.rs`).
//!
//! Reading the run is the one part that cannot be parallel, and most of what it holds is never
//! needed: a ranking only needs every document's score, and ids only for the judged documents and
//! for documents whose score ties with one of them. So a query whose entries are all exact str ids
//! and finite exact float scores (the fast path) is read as scores alone; its judged documents are
//! then looked up in its dict by their own str objects (the ids' hashes are cached in them), and
//! only the few ties are converted to UTF-8. Anything else (int scores, str subclasses, NaN) takes
//! the slow path, which owns the entries first and reads each through Python's protocols, with
//! TypeError/ValueError for what is wrong.

use std::sync::OnceLock;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::{for_each_item, next_window, run_entry, WINDOW};
use crate::judgements::Judgements;
use crate::trec9_rank::{descending_key, Hit, Retrieved, Tie};

/// The end of one query's documents, hits and ties in its batch.
#[derive(Clone, Copy)]
struct QueryEnds {
    q: u32,
    keys: usize,
    hits: usize,
    ties: usize,
}

/// Whole queries' rankings, as the worker threads evaluate them.
#[derive(Default)]
pub struct Batch {
    /// The run-order index of its first query.
    pub first: usize,
    queries: Vec<QueryEnds>,
    keys: Vec<u32>,
    hits: Vec<Hit>,
    ties: Vec<Tie>,
    ids: Vec<u8>,
}

/// Buffers of the reading thread, reused from one query to the next.
#[derive(Default)]
pub struct ReadScratch {
    /// The fast path's document ids as str objects, borrowed from the dict (valid until Python
    /// code runs, and none runs before they are read).
    objs: Vec<*mut ffi::PyObject>,
    /// The slow path's document ids: document `e`'s is `ids[bounds[e]..bounds[e + 1]]`.
    ids: Vec<u8>,
    bounds: Vec<usize>,
    hit_keys: Vec<u32>,
    candidates: Vec<u32>,
}

impl Batch {
    pub fn restart(mut self, first: usize) -> Self {
        self.first = first;
        self.queries.clear();
        self.keys.clear();
        self.hits.clear();
        self.ties.clear();
        self.ids.clear();
        self
    }

    /// Retrieved documents in the batch.
    pub fn docs(&self) -> usize {
        self.keys.len()
    }

    pub fn queries(&self) -> usize {
        self.queries.len()
    }

    /// Each query's index in the qrels and its ranking.
    pub fn rankings(&self) -> impl Iterator<Item = (u32, Retrieved<'_>)> + '_ {
        let mut start = QueryEnds {
            q: 0,
            keys: 0,
            hits: 0,
            ties: 0,
        };
        self.queries.iter().map(move |end| {
            let docs = Retrieved {
                keys: &self.keys[start.keys..end.keys],
                hits: &self.hits[start.hits..end.hits],
                ties: &self.ties[start.ties..end.ties],
                tie_ids: &self.ids,
            };
            start = *end;
            (end.q, docs)
        })
    }

    /// Appends the ranking `docs` (`{doc_id: score}`, the run of `query_id`) of the judged query
    /// `q`.
    pub fn read_query(
        &mut self,
        judged: &Judgements,
        q: u32,
        query_id: &str,
        docs: &Bound<'_, PyDict>,
        scratch: &mut ReadScratch,
    ) -> PyResult<()> {
        let (keys, hits) = (self.keys.len(), self.hits.len());
        self.keys.reserve(docs.len());
        if !(read_exact(docs, &mut self.keys, &mut scratch.objs)
            && self.find_hits(judged, q, docs)?)
        {
            self.keys.truncate(keys);
            self.hits.truncate(hits);
            return self.read_slow(judged, q, query_id, docs, scratch);
        }
        let py = docs.py();
        let objs = &scratch.objs;
        // SAFETY: live str objects of `docs` (see `ReadScratch::objs`).
        let id_of = |e: usize| unsafe { crate::pystr::utf8_of_ptr(py, objs[e]).map(str::as_bytes) };
        self.add_ties(
            judged,
            q,
            keys,
            hits,
            &mut scratch.hit_keys,
            &mut scratch.candidates,
            id_of,
        )?;
        self.end_query(q);
        Ok(())
    }

    fn end_query(&mut self, q: u32) {
        self.queries.push(QueryEnds {
            q,
            keys: self.keys.len(),
            hits: self.hits.len(),
            ties: self.ties.len(),
        });
    }

    /// The fast path's hits: query `q`'s judged documents looked up in `docs`, which
    /// [`read_exact`] found to hold only exact strs and floats (so no lookup runs Python code).
    /// False if an entry is not what it was (then the slow path reads the query).
    fn find_hits(
        &mut self,
        judged: &Judgements,
        q: u32,
        docs: &Bound<'_, PyDict>,
    ) -> PyResult<bool> {
        for d in judged.docs(q) {
            // SAFETY: `docs` and the id are live; the borrowed value is read before anything else
            // happens, and PyFloat_AsDouble cannot fail on an exact float.
            unsafe {
                let score = ffi::PyDict_GetItemWithError(docs.as_ptr(), judged.obj(d).as_ptr());
                if score.is_null() {
                    if !ffi::PyErr_Occurred().is_null() {
                        return Err(PyErr::fetch(docs.py()));
                    }
                    continue;
                }
                if ffi::PyFloat_CheckExact(score) == 0 {
                    return Ok(false);
                }
                self.hits.push(Hit {
                    key: descending_key(ffi::PyFloat_AsDouble(score)),
                    grade: judged.grade_of(d),
                    doc: d as u32,
                });
            }
        }
        Ok(true)
    }

    /// The slow path: every entry owned first (a score's `__float__` could change the dict), then
    /// read through Python's protocols with its id copied.
    fn read_slow(
        &mut self,
        judged: &Judgements,
        q: u32,
        query_id: &str,
        docs: &Bound<'_, PyDict>,
        scratch: &mut ReadScratch,
    ) -> PyResult<()> {
        let mut entries = Vec::with_capacity(docs.len());
        for_each_item(docs, |k, v| {
            entries.push((k.to_owned(), v.to_owned()));
            Ok(())
        })?;
        let (keys, hits) = (self.keys.len(), self.hits.len());
        let ReadScratch {
            ids,
            bounds,
            hit_keys,
            candidates,
            ..
        } = scratch;
        ids.clear();
        bounds.clear();
        bounds.push(0);
        for (doc, score) in &entries {
            run_entry(
                query_id,
                doc.as_borrowed(),
                score.as_borrowed(),
                |id, score| {
                    self.keys.push(descending_key(score));
                    ids.extend_from_slice(id.as_bytes());
                    bounds.push(ids.len());
                },
            )?;
        }
        let id_of = |e: usize| -> PyResult<&[u8]> { Ok(&ids[bounds[e]..bounds[e + 1]]) };
        for e in 0..self.keys.len() - keys {
            if let Some(d) = judged.find(q, id_of(e)?) {
                self.hits.push(Hit {
                    key: self.keys[keys + e],
                    grade: judged.grade_of(d),
                    doc: d as u32,
                });
            }
        }
        self.add_ties(judged, q, keys, hits, hit_keys, candidates, id_of)?;
        self.end_query(q);
        Ok(())
    }

    /// Copies the ids of the query's unjudged documents whose key equals a hit's (the query's
    /// documents start at `keys`, its hits at `hits`; `id_of` gives document `e`'s id).
    #[allow(clippy::too_many_arguments)]
    fn add_ties<'i>(
        &mut self,
        judged: &Judgements,
        q: u32,
        keys: usize,
        hits: usize,
        hit_keys: &mut Vec<u32>,
        candidates: &mut Vec<u32>,
        id_of: impl Fn(usize) -> PyResult<&'i [u8]>,
    ) -> PyResult<()> {
        let hits = &self.hits[hits..];
        if hits.is_empty() {
            return Ok(());
        }
        hit_keys.clear();
        hit_keys.extend(hits.iter().map(|h| h.key));
        hit_keys.sort_unstable();
        hit_keys.dedup();
        // A 1024-bit filter of the hits' keys answers most documents without a search.
        let mut filter = [0u64; 16];
        let bit = |k: u32| (k.wrapping_mul(0x9e37_79b1) >> 22) as usize;
        for &k in hit_keys.iter() {
            filter[bit(k) >> 6] |= 1 << (bit(k) & 63);
        }
        candidates.clear();
        for (e, &k) in self.keys[keys..].iter().enumerate() {
            if filter[bit(k) >> 6] >> (bit(k) & 63) & 1 != 0 && hit_keys.binary_search(&k).is_ok() {
                candidates.push(e as u32);
            }
        }
        // Every hit is a candidate: as many candidates as hits means no unjudged ties.
        if candidates.len() == hits.len() {
            return Ok(());
        }
        for &e in candidates.iter() {
            let id = id_of(e as usize)?;
            if judged.find(q, id).is_some() {
                continue;
            }
            let start = self.ids.len();
            self.ids.extend_from_slice(id);
            self.ties.push(Tie {
                key: self.keys[keys + e as usize],
                start,
                end: self.ids.len(),
            });
        }
        Ok(())
    }
}

/// The fast path's first pass: the sort key of every entry of `docs` and its id object, or false
/// as soon as an entry is not an exact str with a finite exact float.
///
/// Reading a run is bound by memory: each entry's str and float are objects somewhere in the
/// heap. So entries are taken a window at a time (PyDict_Next walks the dict's own array in
/// order) and their objects prefetched, so the cache misses overlap instead of queueing.
fn read_exact(
    docs: &Bound<'_, PyDict>,
    keys: &mut Vec<u32>,
    objs: &mut Vec<*mut ffi::PyObject>,
) -> bool {
    objs.clear();
    objs.reserve(docs.len());
    let direct = float_value_at_16(docs.py());
    let mut window = [(std::ptr::null_mut(), std::ptr::null_mut()); WINDOW];
    let mut pos: ffi::Py_ssize_t = 0;
    loop {
        // No Python code runs in this function: the borrowed references stay valid.
        let n = next_window(docs, &mut pos, &mut window, 8); // the key's type
        for &(key, value) in &window[..n] {
            // SAFETY: live objects; the type checks are inline pointer comparisons and
            // PyFloat_AsDouble cannot fail on an exact float.
            unsafe {
                if ffi::PyUnicode_CheckExact(key) == 0 || ffi::PyFloat_CheckExact(value) == 0 {
                    return false;
                }
                let score = if direct {
                    value.cast::<f64>().add(2).read()
                } else {
                    ffi::PyFloat_AsDouble(value)
                };
                if !score.is_finite() {
                    return false;
                }
                keys.push(descending_key(score));
            }
            objs.push(key);
        }
        if n < WINDOW {
            return true;
        }
    }
}

/// Whether a float object's value is the double at byte 16 (after the object header), as in every
/// CPython the wheel loads into; checked once on probe floats, so another layout only costs the
/// call to PyFloat_AsDouble per score (a float object is at least 24 bytes, so the read is inside
/// it either way).
fn float_value_at_16(py: Python<'_>) -> bool {
    static DIRECT: OnceLock<bool> = OnceLock::new();
    *DIRECT.get_or_init(|| {
        [1.25f64, -3.5e300, 0.1].iter().all(|&x| {
            let f = pyo3::types::PyFloat::new(py, x);
            // SAFETY: a live float object of at least 24 bytes.
            unsafe { f.as_ptr().cast::<f64>().add(2).read() == x }
        })
    })
}
