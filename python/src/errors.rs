//! trawl's errors as Python exceptions, keeping trawl's own messages (file, line, what was
//! expected). Missing files are `FileNotFoundError`, bad requests `ValueError`, bad file contents
//! `trawl.ParseError` (a `trawl.Error` and a `ValueError`).

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyFileNotFoundError, PyOSError, PyValueError};
use pyo3::PyErr;

create_exception!(
    trawl,
    Error,
    PyException,
    "Base class of trawl's own errors."
);
create_exception!(
    trawl,
    ParseError,
    Error,
    "A qrels, run or document file whose contents are not what trawl expects (the message names the file and line)."
);

/// The exception for an I/O error on `path`, with the full message.
pub fn io_error(kind: std::io::ErrorKind, message: String) -> PyErr {
    if kind == std::io::ErrorKind::NotFound {
        PyFileNotFoundError::new_err(message)
    } else {
        PyOSError::new_err(message)
    }
}

pub fn eval_error(e: trawl_eval::Error) -> PyErr {
    use trawl_eval::Error as E;
    let message = e.to_string();
    match &e {
        E::Io { source, .. } => io_error(source.kind(), message),
        E::Parse { .. } => ParseError::new_err(message),
        _ => PyValueError::new_err(message),
    }
}
