//! Capacity planning: the disk and memory an index of `n` vectors of dimension `dim` takes,
//! from the sizes of the files trawl writes (every array is one checksummed file: payload plus
//! a `trawl_store::FOOTER_LEN` footer) and the arrays a build holds at its peak.
//!
//! Memory is counted as what is resident: arrays a build allocates, and memory-mapped files
//! once they have been read (opening verifies checksums, which reads them). `kb index` keeps
//! the KB's mapped vectors, an f32 copy of them, and the engine's own copy while it builds,
//! then reopens the new generation (mapping every file again) before the old one is dropped.

use serde::Serialize;

use crate::ann::VectorStorage;

pub mod bm25;
pub mod zipf;

pub use bm25::{plan_bm25, Bm25BuildSettings, Bm25Corpus, Bm25Plan};

const FOOTER: u64 = trawl_store::FOOTER_LEN as u64;
/// The `hnsw.meta` / `ivf.meta` payloads.
const META: u64 = 56 + FOOTER;
const PQ_KSUB: u64 = 256;

/// The index a plan is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PlannedIndex {
    /// Exact search over the KB's f32 vectors (`dense/`).
    Flat,
    /// A flat scan of 8-bit scalar-quantised codes (`kb index --type sq8`).
    Sq8,
    Hnsw {
        m: usize,
        /// How the graph stores its vectors (`kb index --storage`).
        storage: VectorStorage,
    },
    Ivf {
        nlist: usize,
    },
    IvfPq {
        nlist: usize,
        m: usize,
        refine_vectors: bool,
    },
}

impl PlannedIndex {
    pub fn kind(&self) -> &'static str {
        match self {
            PlannedIndex::Flat => "flat",
            PlannedIndex::Sq8 => "sq8",
            PlannedIndex::Hnsw { .. } => "hnsw",
            PlannedIndex::Ivf { .. } => "ivf",
            PlannedIndex::IvfPq { .. } => "ivfpq",
        }
    }
}

/// Predicted bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PlannedSizes {
    /// The KB's f32 vectors (`dense/`), which every approximate index is built from.
    pub vectors_disk: u64,
    /// The approximate index's directory (`ann/<name>/`); 0 for flat.
    pub index_disk: u64,
    /// Peak resident memory of building it (`kb index`; for flat: storing the vectors),
    /// besides the process's own baseline.
    pub build_peak: u64,
    /// Resident memory of searching it once every page has been touched, besides the
    /// baseline: the index files, and the KB's vectors, which opening reads to verify their
    /// checksum (file pages the kernel may drop again, but counted in RSS until it does).
    pub serve: u64,
}

/// Bytes of an HNSW index's vector files (`vectors.f32`, `vectors.f16`, or `vectors.sq8` and
/// its per-dimension ranges) and of its graph files.
fn hnsw_index_bytes(n: u64, dim: u64, m: u64, storage: VectorStorage) -> (u64, u64) {
    // Levels are drawn with P(level >= l) = M^-l: n / (M - 1) upper-level slots expected.
    let upper_slots = n / (m - 1).max(1);
    let vectors = match storage {
        VectorStorage::F32 => n * dim * 4 + FOOTER,
        VectorStorage::F16 => n * dim * 2 + FOOTER,
        VectorStorage::Sq8 => n * dim + FOOTER + 2 * dim * 4 + FOOTER,
    };
    let graph =
        n * (2 * m + 1) * 4 + FOOTER + (n + 1) * 4 + FOOTER + upper_slots * (m + 1) * 4 + FOOTER;
    (vectors, graph)
}

/// Sizes of IVF lists besides the full vectors: centroids, offsets, ids, and codes +
/// codebooks (PQ) or the vectors in list order (flat).
fn ivf_index_bytes(n: u64, dim: u64, nlist: u64, pq_m: Option<u64>) -> u64 {
    let common = META + nlist * dim * 4 + FOOTER + (nlist + 1) * 8 + FOOTER + n * 4 + FOOTER;
    match pq_m {
        None => common + n * dim * 4 + FOOTER,
        Some(m) => common + n * m + FOOTER + PQ_KSUB * dim * 4 + FOOTER,
    }
}

/// The sizes of `index` over `n` vectors of dimension `dim`.
pub fn plan_sizes(n: u64, dim: u64, index: PlannedIndex) -> PlannedSizes {
    let f = n * dim * 4;
    let vectors_disk = f + FOOTER;
    match index {
        PlannedIndex::Flat => PlannedSizes {
            vectors_disk,
            index_disk: 0,
            // The vectors as encoded, and the staged file mapped when the KB is reopened.
            build_peak: 2 * f,
            serve: f,
        },
        PlannedIndex::Sq8 => {
            // `vectors.flat`: a 64-byte header, the per-dimension minimum and range (2 * dim
            // f32), then one byte per value.
            let index_disk = 64 + 8 * dim + n * dim;
            PlannedSizes {
                vectors_disk,
                index_disk,
                // Building reads the mapped vectors in place and holds the codes; the peak is
                // the reopen: the old and the new mapping of the vectors and the new index.
                build_peak: 2 * f + 2 * index_disk,
                serve: index_disk + f,
            }
        }
        PlannedIndex::Hnsw { m, storage } => {
            let (vectors, graph) = hnsw_index_bytes(n, dim, m as u64, storage);
            let index_disk = META + vectors + graph;
            PlannedSizes {
                vectors_disk,
                index_disk,
                // Peak at the reopen: the old mapping of the KB's vectors (read in place, not
                // copied) is still alive when the new generation maps them again and the whole
                // index; opening the index copies its vectors (as stored: f32, f16 or sq8)
                // and layer-0 links into huge pages besides. (Building holds less: the
                // mapped vectors, their f32 copy, the graph and the converted copy.)
                build_peak: 2 * f + vectors + index_disk + n * (2 * m as u64 + 1) * 4,
                serve: index_disk + f,
            }
        }
        PlannedIndex::Ivf { nlist } => {
            let index_disk = ivf_index_bytes(n, dim, nlist as u64, None);
            let train = ivf_train_bytes(n, dim, nlist as u64);
            PlannedSizes {
                vectors_disk,
                index_disk,
                // Training: the mapped vectors (read in place, not copied) and the training
                // sample; the peak is the reopen at the end: the old and the new mapping of
                // the vectors, the new index and the lists being freed (measured on 100k x 96
                // in `plan_cli.rs`: 2.5 times the vectors besides the index).
                build_peak: (f + train).max(2 * f + f / 2 + index_disk),
                serve: index_disk + f,
            }
        }
        PlannedIndex::IvfPq {
            nlist,
            m,
            refine_vectors,
        } => {
            let full = if refine_vectors { f + FOOTER } else { 0 };
            let index_disk = ivf_index_bytes(n, dim, nlist as u64, Some(m as u64)) + full;
            let train = ivf_train_bytes(n, dim, (nlist as u64).max(PQ_KSUB));
            PlannedSizes {
                vectors_disk,
                index_disk,
                // Building: the mapped vectors (borrowed), the training sample (then its
                // residuals, in place), assignments, ids and codes (chunks are encoded a few
                // MB at a time); then the reopen, as for IVF-Flat (2.8 times the vectors
                // besides the index, measured).
                build_peak: (f + train + n * (12 + m as u64) + full).max(3 * f + index_disk),
                serve: index_disk - full + f,
            }
        }
    }
}

/// The training sample an IVF build copies: at most 256 rows per centroid (`centroids`:
/// nlist, at least 256 for PQ codebooks), all rows when that covers them.
fn ivf_train_bytes(n: u64, dim: u64, centroids: u64) -> u64 {
    n.min(centroids * 256) * dim * 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_add_up_from_the_file_layouts() {
        let s = plan_sizes(1000, 8, PlannedIndex::Flat);
        assert_eq!(s.vectors_disk, 1000 * 8 * 4 + FOOTER);
        let pq = plan_sizes(
            1000,
            8,
            PlannedIndex::IvfPq {
                nlist: 10,
                m: 4,
                refine_vectors: false,
            },
        );
        let expect = META
            + (10 * 8 * 4 + FOOTER)
            + (11 * 8 + FOOTER)
            + (1000 * 4 + FOOTER)
            + (1000 * 4 + FOOTER)
            + (256 * 8 * 4 + FOOTER);
        assert_eq!(pq.index_disk, expect);
        let refine = plan_sizes(
            1000,
            8,
            PlannedIndex::IvfPq {
                nlist: 10,
                m: 4,
                refine_vectors: true,
            },
        );
        assert_eq!(refine.index_disk, expect + 1000 * 8 * 4 + FOOTER);
        assert_eq!(refine.serve, pq.serve);
        let hnsw = |storage| plan_sizes(1000, 8, PlannedIndex::Hnsw { m: 16, storage });
        let (f32s, f16s, sq8s) = (
            hnsw(VectorStorage::F32),
            hnsw(VectorStorage::F16),
            hnsw(VectorStorage::Sq8),
        );
        // f16: 2 bytes a value instead of 4; sq8: 1, plus the ranges file (2 * dim f32).
        assert_eq!(f32s.index_disk - f16s.index_disk, 1000 * 8 * 2);
        assert_eq!(
            f32s.index_disk - sq8s.index_disk,
            1000 * 8 * 3 - (8 * 8 + FOOTER)
        );
        // The stored vectors count twice in the build's peak (mapped, then copied) and once
        // in serving.
        assert_eq!(f32s.build_peak - f16s.build_peak, 2 * 1000 * 8 * 2);
        assert_eq!(f32s.serve - f16s.serve, 1000 * 8 * 2);
        assert_eq!(f32s.vectors_disk, sq8s.vectors_disk);
    }
}
