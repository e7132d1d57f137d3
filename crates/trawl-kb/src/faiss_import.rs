//! A KB from a FAISS index as users already hold it: the index file, the id mapping (doc ids in
//! index order: a pickle or JSON list / dict, or one id a line) and the corpus. Documents take
//! the FAISS labels as ordinals (document i is the mapping's i-th id), the dense slot holds the
//! vectors the index stores, and an approximate index (HNSW, IVF, IVF-PQ) is added as the same
//! graph / lists / codes converted to trawl's own format (see `trawl_vector::read_faiss`).

use std::collections::HashMap;
use std::path::Path;

use trawl_vector::{FaissImport, FaissIndex, IvfCodec, Metric};

use crate::{
    AnnParams, DenseDtype, DenseEmbeddings, DenseMetric, Error, KbBuildOptions, KnowledgeBase,
    Result,
};

/// How to import.
#[derive(Debug, Clone)]
pub struct FaissImportOptions {
    /// The model queries are encoded with (recorded as the dense model); `None` records
    /// `faiss:<file name>` and the KB is searched by vector.
    pub model: Option<String>,
    /// The model's output dimension, checked against the index's before anything is written.
    pub model_dim: Option<usize>,
    /// Name of the approximate index (`--index NAME`).
    pub name: String,
    /// Also build a BM25 index over the documents.
    pub bm25: bool,
    /// Replace an existing KB at the destination.
    pub overwrite: bool,
}

impl Default for FaissImportOptions {
    fn default() -> Self {
        FaissImportOptions {
            model: None,
            model_dim: None,
            name: "faiss".into(),
            bm25: false,
            overwrite: false,
        }
    }
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct FaissImportReport {
    /// FAISS's fourcc of the index type (e.g. `IwPQ`).
    pub fourcc: String,
    /// trawl's index kind: flat, hnsw, ivf or ivfpq.
    pub kind: &'static str,
    pub num_docs: usize,
    pub dim: usize,
    pub metric: DenseMetric,
    /// The approximate index's name; `None` for flat and scalar-quantised indexes, whose
    /// vectors are the KB's exact index.
    pub ann: Option<String>,
    /// Corpus documents the mapping does not name (left out of the KB).
    pub unmapped_docs: usize,
    /// False for IVF-PQ: FAISS keeps no full vectors, so the dense slot holds the
    /// reconstructions (centroid + decoded residual, as f16) and "exact" search ranks those.
    pub exact_vectors: bool,
}

fn err(message: String) -> Error {
    Error::Ann { message }
}

/// Imports `index` with its id mapping `ids` and corpus `docs` into a new KB at `out`.
pub fn import_faiss(
    index: &Path,
    ids: &Path,
    docs: &Path,
    out: &Path,
    opts: &FaissImportOptions,
) -> Result<(KnowledgeBase, FaissImportReport)> {
    crate::check_destination(out, opts.overwrite)?;
    let imported = trawl_vector::read_faiss(index)?;
    if let Some(d) = opts.model_dim.filter(|&d| d != imported.dim()) {
        return Err(err(format!(
            "the model {} outputs {d}-d vectors but the FAISS index {} holds {}-d vectors: use the model the index was built with",
            opts.model.as_deref().unwrap_or("given"),
            index.display(),
            imported.dim()
        )));
    }
    let mapping = trawl_data::pickle::read_id_mapping(ids)?;
    let n = imported.len();
    if mapping.len() != n {
        return Err(err(format!(
            "{}: the id mapping holds {} ids but the FAISS index {} holds {n} vectors: they must be the same, in index order",
            ids.display(),
            mapping.len(),
            index.display()
        )));
    }
    let mut position: HashMap<&str, usize> = HashMap::with_capacity(n);
    for (i, id) in mapping.iter().enumerate() {
        if let Some(first) = position.insert(id.as_str(), i) {
            return Err(err(format!(
                "{}: doc id `{id}` appears at positions {first} and {i}",
                ids.display()
            )));
        }
    }
    // Documents in index order (the corpus may be in any order).
    let mut slots: Vec<Option<trawl_data::Document>> = vec![None; n];
    let mut unmapped = 0usize;
    for doc in trawl_data::read_documents(docs)? {
        let doc = doc?;
        match position.get(doc.id.as_str()) {
            Some(&i) => {
                if slots[i].is_some() {
                    return Err(err(format!(
                        "{}: doc id `{}` appears twice",
                        docs.display(),
                        doc.id
                    )));
                }
                slots[i] = Some(doc);
            }
            None => unmapped += 1,
        }
    }
    let missing: Vec<&str> = slots
        .iter()
        .zip(&mapping)
        .filter(|(s, _)| s.is_none())
        .map(|(_, id)| id.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(err(format!(
            "{}: {} doc ids of the id mapping are not in the corpus (first: `{}`); the corpus must hold every indexed document",
            docs.display(),
            missing.len(),
            missing[..missing.len().min(5)].join("`, `")
        )));
    }
    drop(position);
    let (kind, exact) = match &imported.index {
        FaissIndex::Flat(_) => ("flat", true),
        FaissIndex::Hnsw(_) => ("hnsw", true),
        FaissIndex::Ivf(i) => match i.params().codec {
            IvfCodec::Flat => ("ivf", true),
            IvfCodec::Pq { .. } => ("ivfpq", false),
        },
    };
    let metric = match imported.metric() {
        Metric::L2 => DenseMetric::L2,
        Metric::Cosine => DenseMetric::Cosine,
        Metric::InnerProduct => DenseMetric::InnerProduct,
    };
    let file = index
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let embeddings = DenseEmbeddings {
        values: imported.vectors(),
        dim: imported.dim(),
        model: opts
            .model
            .clone()
            .unwrap_or_else(|| format!("faiss:{file}")),
        dtype: if exact {
            DenseDtype::F32
        } else {
            DenseDtype::F16
        },
        metric,
        quantize: None,
    };
    let options = KbBuildOptions {
        bm25: opts.bm25.then(Default::default),
        dense: Some(embeddings),
        overwrite: opts.overwrite,
        ..Default::default()
    };
    // The approximate index is added before the KB appears: one generation, no rewrite.
    let mut staged = KnowledgeBase::build_staged(
        slots.into_iter().map(|d| Ok(d.expect("checked above"))),
        out,
        &options,
        |_| {},
    )?;
    let ann = add_ann(
        &mut staged,
        &imported,
        &opts.name,
        format!("faiss {} {file}", imported.fourcc),
    )?;
    let kb = staged.commit()?;
    let report = FaissImportReport {
        fourcc: imported.fourcc.clone(),
        kind,
        num_docs: n,
        dim: imported.dim(),
        metric,
        ann,
        unmapped_docs: unmapped,
        exact_vectors: exact,
    };
    Ok((kb, report))
}

/// Adds the imported graph / lists as the KB's approximate index (none for a flat index).
fn add_ann(
    kb: &mut crate::StagedKb,
    imported: &FaissImport,
    name: &str,
    source: String,
) -> Result<Option<String>> {
    match &imported.index {
        FaissIndex::Flat(_) => Ok(None),
        FaissIndex::Hnsw(h) => {
            let p = h.params();
            let params = AnnParams::Hnsw {
                m: p.m,
                ef_construction: p.ef_construction,
                ef_search: p.ef_search,
                seed: p.seed,
                storage: Default::default(),
            };
            kb.add_ann_with(name, params, Some(source), |dest| Ok(h.save(dest)?))?;
            Ok(Some(name.to_string()))
        }
        FaissIndex::Ivf(i) => {
            let p = i.params();
            let params = match p.codec {
                IvfCodec::Flat => AnnParams::Ivf {
                    nlist: p.nlist,
                    nprobe: p.nprobe,
                    train_size: None,
                    seed: p.seed,
                },
                IvfCodec::Pq { m } => AnnParams::IvfPq {
                    nlist: p.nlist,
                    m,
                    nprobe: p.nprobe,
                    train_size: None,
                    seed: p.seed,
                    refine_vectors: false,
                },
            };
            kb.add_ann_with(name, params, Some(source), |dest| Ok(i.save(dest)?))?;
            Ok(Some(name.to_string()))
        }
    }
}
