//! Exact vector search for trawl: a flat (brute-force) index over f32 or f16 vectors, scored
//! by a matrix kernel, persisted as one checksummed file and memory-mapped on open.
//!
//! ```
//! use trawl_vector::{FlatIndex, Metric, Precision};
//! let mut index = FlatIndex::new(3, Metric::InnerProduct, Precision::F32).unwrap();
//! index.add(&[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.6, 0.8, 0.0]).unwrap();
//! let hits = index.search(&[0.0, 1.0, 0.0], 2).unwrap();
//! assert_eq!(hits[0].doc, 1);
//! assert_eq!(hits[1].doc, 2);
//! assert!(index.search(&[1.0, 2.0], 1).is_err()); // wrong dimension
//! ```

mod array;
mod error;
mod faiss;
mod flat;
mod hnsw;
mod index;
mod ivf;
mod kmeans;
pub mod npy;
mod persist;
mod rng;
mod simd;
mod sq;
mod storage;

pub use error::{Error, Result};
pub use faiss::{read_faiss, FaissImport, FaissIndex};
pub use flat::{normalize_rows, FlatIndex, Metric};
pub use hnsw::{HnswIndex, HnswParams, HNSW_FILES};
pub use index::{recall, Refined, SearchParams, VectorIndex};
pub use ivf::{IvfCodec, IvfIndex, IvfParams, IVF_FILES};
pub use kmeans::{kmeans, KMeansParams};
pub use persist::FILE_NAME;
pub use sq::ScalarQuantizer;
pub use storage::Precision;
pub use trawl_topk::{Hit, TopK};
