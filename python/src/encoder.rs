//! `trawl.Encoder`: sentence embeddings (trawl-embed) as float32 numpy arrays, like
//! sentence-transformers' `encode`.

use std::sync::Mutex;

use numpy::{PyArray2, PyArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use trawl_embed::{EncoderOptions, SentenceEncoder};

use crate::errors::embed_error;
use crate::kb::str_list;

#[pyclass(module = "trawl", name = "Encoder", frozen)]
pub struct Encoder {
    model: String,
    max_seq_len: Option<usize>,
    /// The loaded model and the batch size it runs with (reloaded when `encode` asks for another).
    loaded: Mutex<(SentenceEncoder, usize)>,
}

fn load(
    model: &str,
    batch_size: usize,
    max_seq_len: Option<usize>,
) -> trawl_embed::Result<SentenceEncoder> {
    SentenceEncoder::load(
        model,
        &EncoderOptions {
            batch_size,
            max_seq_len,
            // Normalisation is applied here, per call.
            normalize: Some(false),
            ..Default::default()
        },
    )
}

#[pymethods]
impl Encoder {
    /// `model`: a sentence-transformers folder or a name looked up in `$TRAWL_MODELS_DIR`,
    /// `./models` and the Hugging Face cache (BERT family, e.g. all-MiniLM-L6-v2).
    #[new]
    #[pyo3(signature = (model, *, batch_size = 32, max_seq_len = None))]
    fn new(
        py: Python<'_>,
        model: String,
        batch_size: usize,
        max_seq_len: Option<usize>,
    ) -> PyResult<Self> {
        if batch_size == 0 {
            return Err(PyValueError::new_err("batch_size must be positive"));
        }
        let enc = py
            .detach(|| load(&model, batch_size, max_seq_len))
            .map_err(embed_error)?;
        Ok(Encoder {
            model,
            max_seq_len,
            loaded: Mutex::new((enc, batch_size)),
        })
    }

    /// Embeddings of `texts` as a float32 array of shape (len(texts), dim), L2-normalised when
    /// `normalize`. `prompt`: None (as sentence-transformers' encode), "query" or "document"
    /// (the model's query/document prefixes, e.g. e5's "query: ").
    #[pyo3(signature = (texts, batch_size = 32, normalize = true, prompt = None))]
    fn encode<'py>(
        &self,
        py: Python<'py>,
        texts: &Bound<'py, PyAny>,
        batch_size: usize,
        normalize: bool,
        prompt: Option<&str>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let texts = str_list(texts, "texts")?;
        if batch_size == 0 {
            return Err(PyValueError::new_err("batch_size must be positive"));
        }
        let emb = py.detach(|| -> PyResult<trawl_embed::Embeddings> {
            let mut guard = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
            if guard.1 != batch_size {
                *guard = (
                    load(&self.model, batch_size, self.max_seq_len).map_err(embed_error)?,
                    batch_size,
                );
            }
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let enc = &guard.0;
            match prompt {
                None => enc.encode(&refs),
                Some("query") => enc.encode_queries(&refs),
                Some("document") => enc.encode_documents(&refs),
                Some(other) => {
                    return Err(PyValueError::new_err(format!(
                        "prompt must be None, \"query\" or \"document\", got {other:?}"
                    )))
                }
            }
            .map_err(embed_error)
        })?;
        let (n, dim) = (texts.len(), emb.dim);
        let mut data = emb.data;
        if normalize {
            for row in data.chunks_mut(dim.max(1)) {
                let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
                if norm > 0.0 {
                    row.iter_mut().for_each(|x| *x /= norm);
                }
            }
        }
        numpy::PyArray1::from_vec(py, data).reshape([n, dim])
    }

    /// The embedding dimension.
    #[getter]
    fn dim(&self) -> usize {
        self.loaded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .dim()
    }

    fn __repr__(&self) -> String {
        format!("Encoder({:?}, dim={})", self.model, self.dim())
    }
}
