//! The qrels of `RelevanceEvaluator` in a few flat arrays: every judged document's id in one
//! buffer and a small open-addressing table per query, so grading a ranked document is one hash of
//! its id and (almost always) one probe, and building or dropping the qrels costs a handful of
//! allocations however many judgements there are. Each judged id is also kept as an exact str,
//! for looking it up in a run's dict (its hash is cached there).

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::ops::Range;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use crate::convert::{as_dict, for_each_item, str_of, type_name};

/// An empty slot (a real slot holds the id hash's high half and a document index < u32::MAX).
const EMPTY: u64 = u64::MAX;

/// Each query's judged documents: `{query_id: {doc_id: grade}}` without the dicts.
pub struct Judgements {
    /// Query id -> index into `queries`.
    index: HashMap<Box<str>, u32, foldhash::fast::RandomState>,
    queries: Vec<QueryTable>,
    /// All queries' hash tables, one power-of-two region each.
    slots: Vec<u64>,
    grades: Vec<i32>,
    /// Document `d`'s id is `ids[id_ends[d - 1]..id_ends[d]]` (0 for the first).
    id_ends: Vec<usize>,
    ids: Vec<u8>,
    /// Document `d`'s id as an exact str (a str subclass's __hash__/__eq__ could run Python code).
    objs: Vec<Py<PyString>>,
    hasher: foldhash::fast::FixedState,
}

struct QueryTable {
    slots: usize,
    mask: usize,
    docs: Range<usize>,
}

impl Judgements {
    /// Reads pytrec_eval's `query_relevance`. Queries without judgements are dropped (pytrec_eval
    /// does the same); ids must be str and grades int.
    pub fn from_dict(obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        let dict = as_dict(obj, "qrels (query_relevance)")?;
        let mut j = Judgements {
            index: HashMap::default(),
            queries: Vec::with_capacity(dict.len()),
            slots: Vec::new(),
            grades: Vec::new(),
            id_ends: Vec::new(),
            ids: Vec::new(),
            objs: Vec::new(),
            hasher: foldhash::fast::FixedState::with_seed(0x0074_7261_776c),
        };
        for_each_item(dict, |q, judged| {
            let query_id = match str_of(q) {
                Some(id) => id?.to_owned(),
                None => {
                    return Err(PyTypeError::new_err(format!(
                        "a qrels query id must be a str, got {}",
                        type_name(&q)
                    )))
                }
            };
            // Owned: a grade's __index__ could drop this dict from the qrels while we read it.
            let Ok(judged) = judged.cast::<PyDict>() else {
                return Err(PyTypeError::new_err(format!(
                    "qrels[{query_id:?}] must be a dict, got {}",
                    type_name(&judged)
                )));
            };
            let judged = judged.to_owned();
            let first = j.grades.len();
            j.read_query(&query_id, &judged)?;
            if j.grades.len() > first && !j.index.contains_key(query_id.as_str()) {
                let at = u32::try_from(j.queries.len())
                    .map_err(|_| PyValueError::new_err("more than 4,294,967,295 qrels queries"))?;
                j.index.insert(query_id.into_boxed_str(), at);
                j.queries.push(QueryTable {
                    slots: 0,
                    mask: 0,
                    docs: first..j.grades.len(),
                });
            } else {
                j.truncate(first);
            }
            Ok(())
        })?;
        if j.grades.len() >= u32::MAX as usize {
            return Err(PyValueError::new_err("more than 4,294,967,294 judgements"));
        }
        j.build_tables();
        Ok(j)
    }

    fn read_query(&mut self, query_id: &str, judged: &Bound<'_, PyDict>) -> PyResult<()> {
        for_each_item(judged, |d, g| {
            let id = match str_of(d) {
                Some(id) => id?,
                None => {
                    return Err(PyTypeError::new_err(format!(
                        "a document id of qrels[{query_id:?}] must be a str, got {}",
                        type_name(&d)
                    )))
                }
            };
            self.ids.extend_from_slice(id.as_bytes());
            self.id_ends.push(self.ids.len());
            // SAFETY: a type check of a live object (an inline pointer comparison).
            let obj = if unsafe { pyo3::ffi::PyUnicode_CheckExact(d.as_ptr()) } != 0 {
                d.to_owned().cast_into::<PyString>()?
            } else {
                PyString::new(d.py(), id)
            };
            self.objs.push(obj.unbind());
            if let Some(grade) = exact_int(g) {
                self.grades.push(grade);
                return Ok(());
            }
            // The id is copied: extracting may run Python code (__index__), so only `g` is used.
            let g = g.to_owned();
            let grade: i32 = g.extract().map_err(|_| {
                PyTypeError::new_err(format!(
                    "qrels[{query_id:?}][{:?}] must be an int relevance grade, got {}",
                    String::from_utf8_lossy(self.id(self.id_ends.len() - 1)),
                    type_name(&g)
                ))
            })?;
            self.grades.push(grade);
            Ok(())
        })
    }

    fn truncate(&mut self, docs: usize) {
        self.grades.truncate(docs);
        self.id_ends.truncate(docs);
        self.objs.truncate(docs);
        self.ids
            .truncate(docs.checked_sub(1).map_or(0, |d| self.id_ends[d]));
    }

    /// One table per query with at least four times as many slots as documents: most ranked
    /// documents are not judged, and a sparse table answers those at the first probe.
    fn build_tables(&mut self) {
        let total: usize = self
            .queries
            .iter()
            .map(|q| (4 * q.docs.len()).next_power_of_two())
            .sum();
        self.slots = vec![EMPTY; total];
        let mut start = 0;
        for qi in 0..self.queries.len() {
            let size = (4 * self.queries[qi].docs.len()).next_power_of_two();
            self.queries[qi].slots = start;
            self.queries[qi].mask = size - 1;
            for d in self.queries[qi].docs.clone() {
                let h = self.hasher.hash_one(self.id(d));
                let mut i = h as usize & (size - 1);
                while self.slots[start + i] != EMPTY {
                    i = (i + 1) & (size - 1);
                }
                self.slots[start + i] = (h & !0xffff_ffff) | d as u64;
            }
            start += size;
        }
    }

    /// Document `d`'s id.
    pub fn id(&self, d: usize) -> &[u8] {
        let start = d.checked_sub(1).map_or(0, |p| self.id_ends[p]);
        &self.ids[start..self.id_ends[d]]
    }

    /// The index of a judged query.
    pub fn query(&self, query_id: &str) -> Option<u32> {
        self.index.get(query_id).copied()
    }

    /// Query `q`'s judged documents (indices for [`Self::id`], [`Self::obj`], [`Self::grade_of`]).
    pub fn docs(&self, q: u32) -> Range<usize> {
        self.queries[q as usize].docs.clone()
    }

    /// Document `d`'s id as an exact str.
    pub fn obj(&self, d: usize) -> &Py<PyString> {
        &self.objs[d]
    }

    pub fn grade_of(&self, d: usize) -> i32 {
        self.grades[d]
    }

    /// The judged document of query `q` with id `id`, None when it is not judged for `q`.
    pub fn find(&self, q: u32, id: &[u8]) -> Option<usize> {
        let t = &self.queries[q as usize];
        let h = self.hasher.hash_one(id);
        let mut i = h as usize & t.mask;
        loop {
            let slot = self.slots[t.slots + i];
            if slot == EMPTY {
                return None;
            }
            let d = slot as u32 as usize;
            if slot >> 32 == h >> 32 && self.id(d) == id {
                return Some(d);
            }
            i = (i + 1) & t.mask;
        }
    }

    /// Every grade of query `q`'s judgements.
    pub fn grades(&self, q: u32) -> &[i32] {
        &self.grades[self.queries[q as usize].docs.clone()]
    }
}

/// An exact int in i32's range, read without Python's number protocol (which could run code).
fn exact_int(g: Borrowed<'_, '_, PyAny>) -> Option<i32> {
    let mut overflow = 0;
    // SAFETY: a live object; PyLong_AsLongAndOverflow sets no exception for an exact int.
    unsafe {
        if pyo3::ffi::PyLong_CheckExact(g.as_ptr()) == 0 {
            return None;
        }
        let v = pyo3::ffi::PyLong_AsLongAndOverflow(g.as_ptr(), &mut overflow);
        if overflow != 0 {
            return None;
        }
        i32::try_from(v).ok()
    }
}
