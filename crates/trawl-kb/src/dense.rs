//! The dense slot of a KB: precomputed document embeddings in a `trawl_vector::FlatIndex`.

use std::path::Path;

use trawl_vector::{FlatIndex, Precision};

use crate::manifest::{DenseDtype, DenseManifest, DenseMetric};
use crate::{Error, Result};

/// Sub-directory of the dense index inside a KB.
pub(crate) const DENSE_DIR: &str = "dense";

/// Document embeddings computed elsewhere (e.g. by trawl-embed), row-major, one row per
/// document in KB ordinal order.
#[derive(Debug, Clone, PartialEq)]
pub struct DenseEmbeddings {
    pub values: Vec<f32>,
    pub dim: usize,
    /// The model that produced them; queries must be encoded with the same one.
    pub model: String,
    pub dtype: DenseDtype,
    pub metric: DenseMetric,
    /// How the model ran (`int8`), None for f32; recorded in the manifest.
    pub quantize: Option<String>,
}

impl DenseEmbeddings {
    /// `InnerProduct`, stored as f32.
    pub fn new(values: Vec<f32>, dim: usize, model: impl Into<String>) -> Self {
        DenseEmbeddings {
            values,
            dim,
            model: model.into(),
            dtype: DenseDtype::F32,
            metric: DenseMetric::InnerProduct,
            quantize: None,
        }
    }
}

/// Opens the vectors at `path` (the base's or a segment's), checking them against the manifest's
/// dense section and the `num_docs` documents they belong to.
pub(crate) fn open(path: &Path, m: &DenseManifest, num_docs: usize) -> Result<FlatIndex> {
    let index = FlatIndex::open(path)?;
    if index.len() != num_docs {
        return Err(Error::corrupt(
            path,
            format!(
                "the dense index holds {} vectors but the store holds {num_docs} documents",
                index.len()
            ),
        ));
    }
    if index.dim() != m.dim {
        return Err(Error::corrupt(
            path,
            format!(
                "vectors have dimension {} but the manifest says {}",
                index.dim(),
                m.dim
            ),
        ));
    }
    if index.metric() != metric_of(m.metric) || index.precision() != precision_of(m.dtype) {
        return Err(Error::corrupt(
            path,
            format!(
                "vectors are {:?} {} but the manifest says {:?} {:?}",
                index.metric(),
                index.precision().name(),
                m.metric,
                m.dtype
            ),
        ));
    }
    Ok(index)
}

fn precision_of(dtype: DenseDtype) -> Precision {
    match dtype {
        DenseDtype::F32 => Precision::F32,
        DenseDtype::F16 => Precision::F16,
    }
}

fn metric_of(metric: DenseMetric) -> trawl_vector::Metric {
    match metric {
        DenseMetric::InnerProduct => trawl_vector::Metric::InnerProduct,
        DenseMetric::Cosine => trawl_vector::Metric::Cosine,
        DenseMetric::L2 => trawl_vector::Metric::L2,
    }
}

/// An empty index of the manifest's dimension, metric and storage (what compaction gathers the
/// live rows into).
pub(crate) fn empty_like(m: &DenseManifest) -> Result<FlatIndex> {
    Ok(FlatIndex::new(
        m.dim,
        metric_of(m.metric),
        precision_of(m.dtype),
    )?)
}

/// Checks the shape against `num_docs` and writes the index into `index_dir`.
pub(crate) fn write(
    index_dir: &Path,
    e: &DenseEmbeddings,
    num_docs: usize,
) -> Result<DenseManifest> {
    if e.dim == 0 || !e.values.len().is_multiple_of(e.dim) {
        return Err(Error::BadEmbeddings {
            message: format!(
                "{} values do not split into rows of dimension {}",
                e.values.len(),
                e.dim
            ),
        });
    }
    let rows = e.values.len() / e.dim;
    if rows != num_docs {
        return Err(Error::BadEmbeddings {
            message: format!(
                "{rows} embedding rows for {num_docs} documents: need one per document, in order"
            ),
        });
    }
    let mut index = FlatIndex::new(e.dim, metric_of(e.metric), precision_of(e.dtype))?;
    index.add(&e.values)?;
    index.save(index_dir)?;
    Ok(DenseManifest {
        model: e.model.clone(),
        dim: e.dim,
        dtype: e.dtype,
        metric: e.metric,
        dir: DENSE_DIR.into(),
        quantize: e.quantize.clone(),
    })
}
