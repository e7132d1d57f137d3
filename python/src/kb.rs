//! `trawl.KB`: build, open and search a knowledge base (trawl-kb), with the retrievers of
//! trawl-retrieve (BM25, dense, hybrid). `search_batch` fills numpy arrays without a Python
//! object per hit.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use numpy::{PyArray2, PyArrayMethods};
use pyo3::exceptions::{PyFileNotFoundError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use rayon::prelude::*;
use trawl_data::Document;
use trawl_kb::{KbBuildOptions, KnowledgeBase};
use trawl_retrieve::{open_named, KbRetrieverOptions, RetrievedDoc, Retriever};

use crate::errors::{data_error, kb_error, retrieve_error};

/// One retrieved document with its stored fields.
#[pyclass(module = "trawl", name = "Hit", frozen)]
pub struct Hit {
    /// The document id.
    #[pyo3(get)]
    id: String,
    /// The retriever's score (higher is better).
    #[pyo3(get)]
    score: f32,
    /// The document's position in the KB (the row index of `search_batch`).
    #[pyo3(get)]
    ordinal: u32,
    #[pyo3(get)]
    title: String,
    #[pyo3(get)]
    text: String,
    metadata_json: String,
}

#[pymethods]
impl Hit {
    /// The document's other fields (a dict; empty when it had none).
    #[getter]
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        if self.metadata_json.is_empty() {
            return Ok(PyDict::new(py).into_any());
        }
        py.import("json")?
            .call_method1("loads", (&self.metadata_json,))
    }

    /// `{"id", "score", "title", "text", "metadata"}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("id", &self.id)?;
        d.set_item("score", self.score)?;
        d.set_item("title", &self.title)?;
        d.set_item("text", &self.text)?;
        d.set_item("metadata", self.metadata(py)?)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!(
            "Hit(id={:?}, score={}, title={:?})",
            self.id, self.score, self.title
        )
    }
}

/// Opened retrievers by (name, model).
type RetrieverCache = HashMap<(String, Option<String>), Arc<dyn Retriever>>;
/// `search_batch`'s result: scores and ordinals, both (queries, k).
type ScoresAndOrdinals<'py> = (Bound<'py, PyArray2<f32>>, Bound<'py, PyArray2<i64>>);

/// A knowledge base opened from its directory, with its retrievers opened on first use.
#[pyclass(module = "trawl", name = "KB", frozen)]
pub struct Kb {
    pub kb: Arc<KnowledgeBase>,
    retrievers: Mutex<RetrieverCache>,
}

impl Kb {
    pub fn new(kb: KnowledgeBase) -> Self {
        Kb {
            kb: Arc::new(kb),
            retrievers: Mutex::new(HashMap::new()),
        }
    }

    /// The retriever `name` (bm25, dense, hybrid), opened once; dense ones load their model.
    pub fn retriever(&self, name: &str, model: Option<&str>) -> PyResult<Arc<dyn Retriever>> {
        let key = (name.to_string(), model.map(str::to_string));
        if let Some(r) = self.lock().get(&key) {
            return Ok(r.clone());
        }
        let opts = KbRetrieverOptions {
            model: model.map(str::to_string),
            ..Default::default()
        };
        let r = open_named(self.kb.clone(), name, &opts).map_err(retrieve_error)?;
        self.lock().insert(key, r.clone());
        Ok(r)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RetrieverCache> {
        self.retrievers.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn hits(&self, docs: &[RetrievedDoc]) -> PyResult<Vec<Hit>> {
        docs.iter()
            .map(|d| {
                let doc = self.kb.document(d.ordinal).map_err(kb_error)?;
                Ok(Hit {
                    id: d.id.to_string(),
                    score: d.score,
                    ordinal: d.ordinal,
                    title: doc.title.to_string(),
                    text: doc.text.to_string(),
                    metadata_json: doc.metadata_json.to_string(),
                })
            })
            .collect()
    }
}

fn check_k(k: usize) -> PyResult<()> {
    if k == 0 {
        return Err(PyValueError::new_err("k must be a positive integer"));
    }
    Ok(())
}

/// A list of str (a single str is refused: it would be taken as a list of characters).
pub fn str_list(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<String>> {
    if obj.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be a list of str, not a str"
        )));
    }
    obj.extract::<Vec<String>>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what} must be a list of str, got {}",
            obj.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })
}

/// A document dict: `id` or `_id`, optional `title`, `text` or `contents`/`content`; other keys are
/// kept as metadata (JSON values).
fn document_from_dict(
    obj: &Bound<'_, PyAny>,
    n: usize,
    json: &Bound<'_, PyModule>,
) -> PyResult<Document> {
    let d = obj.cast::<PyDict>().map_err(|_| {
        PyTypeError::new_err(format!(
            "document {n} must be a dict, got {}",
            obj.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    let field = |names: &[&str]| -> PyResult<Option<(String, String)>> {
        for name in names {
            if let Some(v) = d.get_item(name)? {
                let s = v.extract::<String>().map_err(|_| {
                    PyTypeError::new_err(format!("document {n}: field {name:?} must be a str"))
                })?;
                return Ok(Some((name.to_string(), s)));
            }
        }
        Ok(None)
    };
    let Some((id_key, id)) = field(&["id", "_id", "docid"])? else {
        return Err(PyValueError::new_err(format!(
            "document {n} has no id: give each document an \"id\" (or \"_id\") str"
        )));
    };
    let title = field(&["title"])?;
    let text = field(&["text", "contents", "content"])?;
    let used: Vec<String> = [Some((id_key, String::new())), title.clone(), text.clone()]
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
        .collect();
    let rest = PyDict::new(d.py());
    for (k, v) in d.iter() {
        let key: String = k
            .extract()
            .map_err(|_| PyTypeError::new_err(format!("document {n}: keys must be str")))?;
        if !used.contains(&key) {
            rest.set_item(key, v)?;
        }
    }
    let metadata = if rest.is_empty() {
        Default::default()
    } else {
        let text: String = json.call_method1("dumps", (rest,))?.extract()?;
        serde_json::from_str(&text)
            .map_err(|e| PyValueError::new_err(format!("document {n}: metadata: {e}")))?
    };
    Ok(Document {
        id,
        title: title.map(|t| t.1).unwrap_or_default(),
        text: text.map(|t| t.1).unwrap_or_default(),
        metadata,
    })
}

#[pymethods]
impl Kb {
    /// Builds a knowledge base at `path` from `docs` (a JSONL/TSV/BEIR path, or an iterable of
    /// dicts with `id`, `title`, `text`) and opens it. `bm25`: build the BM25 index (Pyserini's
    /// BEIR settings); `dense`: a sentence-transformers model (name or folder) to embed the
    /// documents with, or None. An existing KB at `path` is replaced only with `overwrite=True`.
    #[staticmethod]
    #[pyo3(signature = (docs, path, *, bm25 = true, dense = None, overwrite = false))]
    fn build(
        py: Python<'_>,
        docs: &Bound<'_, PyAny>,
        path: PathBuf,
        bm25: bool,
        dense: Option<String>,
        overwrite: bool,
    ) -> PyResult<Kb> {
        if !bm25 && dense.is_none() {
            return Err(PyValueError::new_err(
                "a knowledge base needs an index: pass bm25=True, dense=MODEL, or both",
            ));
        }
        // Load the model first: a bad model fails before anything is written.
        let encoder = dense.as_deref().map(|m| load_encoder(py, m)).transpose()?;
        let options = KbBuildOptions {
            bm25: bm25.then(Default::default),
            overwrite,
            ..Default::default()
        };
        let kb = if let Ok(src) = docs.extract::<PathBuf>() {
            py.detach(|| -> PyResult<KnowledgeBase> {
                let stream: Box<dyn Iterator<Item = trawl_data::Result<Document>>> = if src.is_dir()
                {
                    let ds = trawl_data::beir::BeirDataset::open(&src).map_err(data_error)?;
                    Box::new(ds.read_corpus().map_err(data_error)?)
                } else {
                    Box::new(trawl_data::document::read_documents(&src).map_err(data_error)?)
                };
                KnowledgeBase::build(stream, &path, &options, |_| {}).map_err(kb_error)
            })?
        } else {
            let json = py.import("json")?;
            let mut list = Vec::new();
            for (n, d) in docs
                .try_iter()
                .map_err(|_| PyTypeError::new_err("docs must be a path or an iterable of dicts"))?
                .enumerate()
            {
                list.push(document_from_dict(&d?, n, &json)?);
            }
            py.detach(|| KnowledgeBase::build(list.into_iter().map(Ok), &path, &options, |_| {}))
                .map_err(kb_error)?
        };
        let kb = match (encoder, dense) {
            (Some(encoder), Some(model)) => add_dense(py, kb, encoder, &model)?,
            _ => kb,
        };
        Ok(Kb::new(kb))
    }

    /// Opens the knowledge base at `path` (checksums verified).
    #[staticmethod]
    fn open(py: Python<'_>, path: PathBuf) -> PyResult<Kb> {
        if !path.exists() {
            return Err(PyFileNotFoundError::new_err(format!(
                "{}: no such knowledge base directory; build one with trawl.KB.build(docs, path)",
                path.display()
            )));
        }
        let kb = py.detach(|| KnowledgeBase::open(&path)).map_err(kb_error)?;
        Ok(Kb::new(kb))
    }

    /// The top `k` documents for `query`, best first, with their fields.
    #[pyo3(signature = (query, k = 10, retriever = "bm25", model = None))]
    fn search(
        &self,
        py: Python<'_>,
        query: &Bound<'_, PyAny>,
        k: usize,
        retriever: &str,
        model: Option<&str>,
    ) -> PyResult<Vec<Hit>> {
        let query: String = query
            .extract()
            .map_err(|_| PyTypeError::new_err("query must be a str"))?;
        check_k(k)?;
        let r = self.retriever(retriever, model)?;
        let mut ranked = py
            .detach(|| r.retrieve_batch(&[query.as_str()], k))
            .map_err(retrieve_error)?;
        self.hits(&ranked.pop().unwrap_or_default())
    }

    /// [`search`] for many queries in one batch call: a list of hit lists.
    #[pyo3(signature = (queries, k = 10, retriever = "bm25", model = None))]
    fn search_many(
        &self,
        py: Python<'_>,
        queries: &Bound<'_, PyAny>,
        k: usize,
        retriever: &str,
        model: Option<&str>,
    ) -> PyResult<Vec<Vec<Hit>>> {
        let queries = str_list(queries, "queries")?;
        check_k(k)?;
        let r = self.retriever(retriever, model)?;
        let refs: Vec<&str> = queries.iter().map(String::as_str).collect();
        let ranked = py
            .detach(|| r.retrieve_batch(&refs, k))
            .map_err(retrieve_error)?;
        ranked.iter().map(|docs| self.hits(docs)).collect()
    }

    /// Top-`k` of many queries as two numpy arrays of shape (len(queries), k): float32 scores and
    /// int64 document ordinals (rows padded with -inf / -1 when fewer than k documents match).
    /// `kb.ids(ordinals)` maps ordinals to ids.
    #[pyo3(signature = (queries, k = 10, retriever = "bm25", model = None))]
    fn search_batch<'py>(
        &self,
        py: Python<'py>,
        queries: &Bound<'py, PyAny>,
        k: usize,
        retriever: &str,
        model: Option<&str>,
    ) -> PyResult<ScoresAndOrdinals<'py>> {
        let queries = str_list(queries, "queries")?;
        check_k(k)?;
        let n = queries.len();
        let mut scores = vec![f32::NEG_INFINITY; n * k];
        let mut ordinals = vec![-1i64; n * k];
        let fill = |hits: &mut dyn Iterator<Item = (u32, f32)>, s: &mut [f32], o: &mut [i64]| {
            for (j, (ord, score)) in hits.take(k).enumerate() {
                s[j] = score;
                o[j] = ord as i64;
            }
        };
        if retriever == "bm25" {
            let index = self.kb.bm25().ok_or_else(|| {
                crate::errors::KnowledgeBaseError::new_err(
                    "this knowledge base has no BM25 index; rebuild it with bm25=True",
                )
            })?;
            py.detach(|| {
                scores
                    .par_chunks_mut(k)
                    .zip(ordinals.par_chunks_mut(k))
                    .zip(queries.par_iter())
                    .for_each(|((s, o), q)| {
                        let hits = index.search(q, k);
                        fill(&mut hits.iter().map(|h| (h.doc, h.score)), s, o);
                    })
            });
        } else {
            let r = self.retriever(retriever, model)?;
            let refs: Vec<&str> = queries.iter().map(String::as_str).collect();
            let ranked = py
                .detach(|| r.retrieve_batch(&refs, k))
                .map_err(retrieve_error)?;
            for (row, hits) in ranked.iter().enumerate() {
                fill(
                    &mut hits.iter().map(|h| (h.ordinal, h.score)),
                    &mut scores[row * k..(row + 1) * k],
                    &mut ordinals[row * k..(row + 1) * k],
                );
            }
        }
        let scores = numpy::PyArray1::from_vec(py, scores).reshape([n, k])?;
        let ordinals = numpy::PyArray1::from_vec(py, ordinals).reshape([n, k])?;
        Ok((scores, ordinals))
    }

    /// The ids of document ordinals (an int, or a nested list/array of ints; -1 gives None).
    fn ids<'py>(
        &self,
        py: Python<'py>,
        ordinals: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if let Ok(o) = ordinals.extract::<i64>() {
            return self.id_of(py, o);
        }
        let list = PyList::empty(py);
        for item in ordinals.try_iter()? {
            list.append(self.ids(py, &item?)?)?;
        }
        Ok(list.into_any())
    }

    /// The document with this id (None when the KB has no such id).
    fn get(&self, id: &str) -> PyResult<Option<Hit>> {
        let Some(ordinal) = self.kb.ordinal_of(id) else {
            return Ok(None);
        };
        let mut hits = self.hits(&[RetrievedDoc {
            id: id.into(),
            score: 0.0,
            ordinal,
        }])?;
        Ok(hits.pop())
    }

    /// Live documents (deleted and replaced ones are not counted).
    fn __len__(&self) -> usize {
        self.kb.num_live()
    }

    /// The KB's directory.
    #[getter]
    fn path(&self) -> PathBuf {
        self.kb.dir().to_path_buf()
    }

    /// The retrievers this KB supports.
    #[getter]
    fn retrievers(&self) -> Vec<&'static str> {
        let (b, d) = (self.kb.bm25().is_some(), self.kb.vectors().is_some());
        let mut out = Vec::new();
        if b {
            out.push("bm25");
        }
        if d {
            out.push("dense");
        }
        if b && d {
            out.push("hybrid");
        }
        out
    }

    /// The embedding model recorded in the KB (None without a dense index).
    #[getter]
    fn dense_model(&self) -> Option<String> {
        self.kb.dense_model().map(str::to_string)
    }

    fn __repr__(&self) -> String {
        format!(
            "KB({:?}, {} documents, retrievers={:?})",
            self.kb.dir().display().to_string(),
            self.kb.num_live(),
            self.retrievers()
        )
    }
}

impl Kb {
    fn id_of<'py>(&self, py: Python<'py>, ordinal: i64) -> PyResult<Bound<'py, PyAny>> {
        if ordinal < 0 {
            return Ok(py.None().into_bound(py));
        }
        let id = self.kb.id(ordinal as u32).map_err(kb_error)?;
        Ok(PyString::new(py, id).into_any())
    }
}

#[cfg(feature = "dense")]
type DocEncoder = trawl_embed::SentenceEncoder;
#[cfg(not(feature = "dense"))]
type DocEncoder = ();

#[cfg(feature = "dense")]
fn load_encoder(py: Python<'_>, model: &str) -> PyResult<DocEncoder> {
    py.detach(|| trawl_embed::SentenceEncoder::load(model, &Default::default()))
        .map_err(crate::errors::embed_error)
}

#[cfg(not(feature = "dense"))]
fn load_encoder(_py: Python<'_>, _model: &str) -> PyResult<DocEncoder> {
    Err(crate::errors::Error::new_err(
        "this trawl wheel was built without dense retrieval (cargo feature `dense`); rebuild it with default features",
    ))
}

/// Embeds every document (title + " " + text) and adds the dense index, as
/// `trawl kb build --dense` does; the KB records `model` (a folder as its absolute path).
#[cfg(feature = "dense")]
fn add_dense(
    py: Python<'_>,
    mut kb: KnowledgeBase,
    encoder: DocEncoder,
    model: &str,
) -> PyResult<KnowledgeBase> {
    use crate::errors::embed_error;
    py.detach(|| {
        let mut texts = Vec::with_capacity(kb.num_docs());
        for ordinal in 0..kb.num_docs() as u32 {
            let d = kb.document(ordinal).map_err(kb_error)?;
            texts.push(if d.title.is_empty() {
                d.text.to_string()
            } else {
                format!("{} {}", d.title, d.text)
            });
        }
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let emb = encoder.encode_documents(&refs).map_err(embed_error)?;
        let recorded = match std::path::Path::new(model).canonicalize() {
            Ok(p) if p.is_dir() => p.display().to_string(),
            _ => model.to_string(),
        };
        let embeddings = trawl_kb::DenseEmbeddings::new(emb.data, emb.dim, recorded);
        kb.add_dense(&embeddings).map_err(kb_error)?;
        Ok(kb)
    })
}

#[cfg(not(feature = "dense"))]
fn add_dense(
    _py: Python<'_>,
    kb: KnowledgeBase,
    _encoder: DocEncoder,
    _model: &str,
) -> PyResult<KnowledgeBase> {
    Ok(kb)
}
