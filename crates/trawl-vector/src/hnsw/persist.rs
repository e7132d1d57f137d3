//! An HNSW index on disk: a directory written atomically (trawl-store's `AtomicDir`) holding one
//! checksummed file per array, memory-mapped on open.

use std::path::Path;

use trawl_store::{AtomicDir, ByteSource, Checked, Verify};

use crate::array::{metric_code, metric_of, Array};
use crate::{Error, Result};

use super::{HnswIndex, HnswParams, Vectors};
use crate::sq::ScalarQuantizer;
use crate::Precision;

const VERSION: u32 = 1;
const META: (&str, &[u8; 8]) = ("hnsw.meta", b"TRWLHNSM");
const VECTORS: (&str, &[u8; 8]) = ("vectors.f32", b"TRWLHNSV");
const VECTORS_F16: (&str, &[u8; 8]) = ("vectors.f16", b"TRWLHNSH");
const VECTORS_SQ8: (&str, &[u8; 8]) = ("vectors.sq8", b"TRWLHNSQ");
/// sq8 ranges: vmin then vdiff, `2 * dim` f32.
const SQ_RANGES: (&str, &[u8; 8]) = ("sq8.ranges", b"TRWLHNSR");
const LAYER0: (&str, &[u8; 8]) = ("layer0.u32", b"TRWLHNS0");
const OFFSETS: (&str, &[u8; 8]) = ("upper_offsets.u32", b"TRWLHNSO");
const UPPER: (&str, &[u8; 8]) = ("upper.u32", b"TRWLHNSU");
/// The files of a saved HNSW index directory over f32 vectors (f16 storage has `vectors.f16`
/// instead of `vectors.f32`; sq8 has `vectors.sq8` and `sq8.ranges`).
pub const HNSW_FILES: [&str; 5] = [META.0, VECTORS.0, LAYER0.0, OFFSETS.0, UPPER.0];
const META_LEN: usize = 56;

impl HnswIndex {
    /// Writes the index into the directory `dir`, atomically (an existing one is replaced only
    /// once the new one is complete).
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let staging = AtomicDir::create(dir.as_ref())?;
        let p = staging.path();
        let mut meta = Vec::with_capacity(META_LEN);
        meta.extend_from_slice(&(self.dim as u64).to_le_bytes());
        meta.extend_from_slice(&(self.len as u64).to_le_bytes());
        meta.extend_from_slice(&(self.params.m as u32).to_le_bytes());
        meta.extend_from_slice(&(self.params.ef_construction as u32).to_le_bytes());
        meta.extend_from_slice(&(self.params.ef_search as u32).to_le_bytes());
        meta.extend_from_slice(&self.entry.to_le_bytes());
        meta.extend_from_slice(&self.params.seed.to_le_bytes());
        meta.extend_from_slice(&self.max_level.to_le_bytes());
        meta.push(metric_code(self.metric));
        // Byte 45: the storage (0 f32, 1 f16, 2 sq8); files written before it existed hold 0.
        meta.push(self.storage().code());
        meta.resize(META_LEN, 0);
        trawl_store::write_checked(&p.join(META.0), META.1, VERSION, &meta)?;
        match &self.vectors {
            Vectors::F32(a) => a.write(&p.join(VECTORS.0), VECTORS.1, VERSION)?,
            Vectors::F16(a) => a.write(&p.join(VECTORS_F16.0), VECTORS_F16.1, VERSION)?,
            Vectors::Sq8(sq, a) => {
                a.write(&p.join(VECTORS_SQ8.0), VECTORS_SQ8.1, VERSION)?;
                Array::Owned(sq.to_values()).write(&p.join(SQ_RANGES.0), SQ_RANGES.1, VERSION)?;
            }
        }
        self.layer0.write(&p.join(LAYER0.0), LAYER0.1, VERSION)?;
        self.upper_offsets
            .write(&p.join(OFFSETS.0), OFFSETS.1, VERSION)?;
        self.upper.write(&p.join(UPPER.0), UPPER.1, VERSION)?;
        staging.commit()?;
        Ok(())
    }

    /// Opens a directory written by [`HnswIndex::save`]: every file's checksum and size is
    /// checked, then the arrays are memory-mapped; links are checked to stay inside the index.
    /// Vectors and layer-0 links, which a search reads at random, are then copied into
    /// huge-page-backed memory (fewer TLB misses; the files' pages are released).
    pub fn open(dir: impl AsRef<Path>) -> Result<HnswIndex> {
        let dir = dir.as_ref();
        let meta_path = dir.join(META.0);
        let meta = Checked::open(&meta_path, META.1, VERSION, Verify::Full)?;
        let b = meta.as_slice();
        let corrupt = |reason: String| Error::Corrupt {
            path: meta_path.clone(),
            reason,
        };
        if b.len() != META_LEN {
            return Err(corrupt(format!("{} bytes, expected {META_LEN}", b.len())));
        }
        let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"));
        let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes"));
        let dim = u64_at(0) as usize;
        let len = u64_at(8) as usize;
        let params = HnswParams {
            m: u32_at(16) as usize,
            ef_construction: u32_at(20) as usize,
            ef_search: u32_at(24) as usize,
            seed: u64_at(32),
        };
        let entry = u32_at(28);
        let max_level = u32_at(40);
        let metric = metric_of(b[44], &meta_path)?;
        let storage = Precision::from_code(b[45])
            .ok_or_else(|| corrupt(format!("unknown vector storage code {}", b[45])))?;
        params.check().map_err(|e| corrupt(e.to_string()))?;
        if dim == 0 || len == 0 || entry as usize >= len || max_level > 30 {
            return Err(corrupt(format!(
                "inconsistent header (dim {dim}, {len} vectors, entry {entry}, max level {max_level})"
            )));
        }
        let m = params.m;
        let vectors = match storage {
            Precision::F32 => {
                let a: Array<f32> =
                    Array::open(&dir.join(VECTORS.0), VECTORS.1, VERSION, len * dim)?;
                Vectors::F32(Array::huge_copy(a.as_slice()))
            }
            Precision::F16 => {
                let a: Array<half::f16> =
                    Array::open(&dir.join(VECTORS_F16.0), VECTORS_F16.1, VERSION, len * dim)?;
                Vectors::F16(Array::huge_copy(a.as_slice()))
            }
            Precision::Sq8 => {
                let a: Array<u8> =
                    Array::open(&dir.join(VECTORS_SQ8.0), VECTORS_SQ8.1, VERSION, len * dim)?;
                let path = dir.join(SQ_RANGES.0);
                let r: Array<f32> = Array::open(&path, SQ_RANGES.1, VERSION, 2 * dim)?;
                let sq = ScalarQuantizer::from_values(r.as_slice(), dim).ok_or_else(|| {
                    Error::Corrupt {
                        path,
                        reason: "sq8 ranges are not finite or negative".into(),
                    }
                })?;
                Vectors::Sq8(sq, Array::huge_copy(a.as_slice()))
            }
        };
        let layer0 = Array::open(&dir.join(LAYER0.0), LAYER0.1, VERSION, len * (2 * m + 1))?;
        let upper_offsets: Array<u32> =
            Array::open(&dir.join(OFFSETS.0), OFFSETS.1, VERSION, len + 1)?;
        let offs = upper_offsets.as_slice();
        if offs[0] != 0 || offs.windows(2).any(|w| w[1] < w[0] || w[1] - w[0] > 30) {
            return Err(corrupt(
                "upper-layer offsets are not increasing level counts".into(),
            ));
        }
        let blocks = offs[len] as usize;
        let upper: Array<u32> =
            Array::open(&dir.join(UPPER.0), UPPER.1, VERSION, blocks * (m + 1))?;
        if offs[entry as usize + 1] - offs[entry as usize] != max_level {
            return Err(corrupt("the entry point is not on the top level".into()));
        }
        // A link outside the index would be an out-of-bounds read at search time.
        for (arr, w, name) in [(&layer0, 2 * m + 1, LAYER0.0), (&upper, m + 1, UPPER.0)] {
            for slot in arr.as_slice().chunks_exact(w) {
                let count = slot[0] as usize;
                if count >= w || slot[1..1 + count].iter().any(|&j| j as usize >= len) {
                    return Err(Error::Corrupt {
                        path: dir.join(name),
                        reason: "a link points outside the index".into(),
                    });
                }
            }
        }
        Ok(HnswIndex {
            dim,
            metric,
            params,
            len,
            entry,
            max_level,
            vectors,
            layer0: Array::huge_copy(layer0.as_slice()),
            upper_offsets,
            upper,
        })
    }
}
