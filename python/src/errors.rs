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
        E::Data(inner) => data_error_ref(inner, message),
        E::DuplicateDoc { .. } => ParseError::new_err(message),
        _ => PyValueError::new_err(message),
    }
}

create_exception!(
    trawl,
    KnowledgeBaseError,
    Error,
    "A directory that is not a trawl knowledge base, a damaged one, or one without the index asked for."
);
create_exception!(
    trawl,
    ModelError,
    Error,
    "An embedding model that cannot be loaded or run (bad config, unsupported architecture)."
);

create_exception!(
    trawl,
    TrainError,
    Error,
    "Training or mining failed inside trawl (a tensor operation, a locked or unusable run folder)."
);

pub fn data_error(e: trawl_data::Error) -> PyErr {
    let message = e.to_string();
    data_error_ref(&e, message)
}

pub fn kb_error(e: trawl_kb::Error) -> PyErr {
    use trawl_kb::Error as E;
    let message = e.to_string();
    match &e {
        E::Io { source, .. } => io_error(source.kind(), message),
        E::Input(inner) => data_error_ref(inner, message),
        E::DuplicateId { .. } | E::EmptyId { .. } | E::EmptyCorpus | E::BadEmbeddings { .. } => {
            PyValueError::new_err(message)
        }
        _ => KnowledgeBaseError::new_err(message),
    }
}

pub fn retrieve_error(e: trawl_retrieve::Error) -> PyErr {
    use trawl_retrieve::Error as E;
    let message = e.to_string();
    match e {
        E::InvalidArgument { .. } | E::UnknownMetric { .. } => PyValueError::new_err(message),
        E::Labels { .. } | E::Data(_) => ParseError::new_err(message),
        E::MissingIndex { .. } | E::DenseNotBuilt => KnowledgeBaseError::new_err(message),
        E::Engine { .. } => Error::new_err(message),
    }
}

#[cfg(feature = "dense")]
pub fn embed_error(e: trawl_embed::Error) -> PyErr {
    use trawl_embed::Error as E;
    let message = e.to_string();
    match &e {
        E::ModelNotFound { .. } | E::MissingFile { .. } => PyFileNotFoundError::new_err(message),
        E::Io { source, .. } => io_error(source.kind(), message),
        E::InvalidOption(_) => PyValueError::new_err(message),
        _ => ModelError::new_err(message),
    }
}

fn data_error_ref(e: &trawl_data::Error, message: String) -> PyErr {
    match e {
        trawl_data::Error::MissingFile { .. } => PyFileNotFoundError::new_err(message),
        trawl_data::Error::Io { source, .. } => io_error(source.kind(), message),
        _ => ParseError::new_err(message),
    }
}
