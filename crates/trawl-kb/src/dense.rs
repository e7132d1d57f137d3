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
    let precision = match e.dtype {
        DenseDtype::F32 => Precision::F32,
        DenseDtype::F16 => Precision::F16,
    };
    let metric = match e.metric {
        DenseMetric::InnerProduct => trawl_vector::Metric::InnerProduct,
        DenseMetric::Cosine => trawl_vector::Metric::Cosine,
        DenseMetric::L2 => trawl_vector::Metric::L2,
    };
    let mut index = FlatIndex::new(e.dim, metric, precision)?;
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
