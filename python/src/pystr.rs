//! Borrowing a Python str's UTF-8 without a copy.
//!
//! The wheel targets the stable ABI of CPython 3.9, whose limited API has no borrowing accessor,
//! so PyO3 copies every str through a new bytes object (a third of the time of reading a 10M-entry
//! run dict). `PyUnicode_AsUTF8AndSize` is exported by every CPython 3.x (it entered the limited
//! API in 3.10, unchanged): calling it directly keeps the abi3 wheel and skips the copies.

use std::os::raw::c_char;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyString;

extern "C" {
    fn PyUnicode_AsUTF8AndSize(
        unicode: *mut ffi::PyObject,
        size: *mut ffi::Py_ssize_t,
    ) -> *const c_char;
}

/// The UTF-8 text of `s`, borrowed from the str object (CPython caches it there).
pub fn utf8<'a>(s: &'a Bound<'_, PyString>) -> PyResult<&'a str> {
    // SAFETY: `s` is a live str and the borrow of `s` bounds the text's lifetime.
    unsafe { utf8_of_ptr(s.py(), s.as_ptr()) }
}

/// The UTF-8 text of the str at `ptr`.
///
/// # Safety
/// `ptr` must be a live str object (PyUnicode_Check) that outlives `'a`, and the GIL held.
pub unsafe fn utf8_of_ptr<'a>(py: Python<'_>, ptr: *mut ffi::PyObject) -> PyResult<&'a str> {
    let mut size: ffi::Py_ssize_t = 0;
    // The returned buffer belongs to the object and lives as long as it does. A null return
    // (e.g. a lone surrogate) leaves a Python exception set, taken by PyErr::fetch.
    let data = PyUnicode_AsUTF8AndSize(ptr, &mut size);
    if data.is_null() {
        return Err(PyErr::fetch(py));
    }
    let bytes = std::slice::from_raw_parts(data as *const u8, size as usize);
    Ok(std::str::from_utf8_unchecked(bytes))
}
