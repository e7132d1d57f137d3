//! An IVF index on disk: a directory written atomically (trawl-store's `AtomicDir`), one
//! checksummed file per array, memory-mapped on open and checked for consistency.

use std::path::Path;

use trawl_store::{AtomicDir, ByteSource, Checked, Verify};

use crate::array::{metric_code, metric_of, Array};
use crate::{Error, Result};

use super::{pq, IvfCodec, IvfIndex, IvfParams, Lists};

const VERSION: u32 = 1;
const META: (&str, &[u8; 8]) = ("ivf.meta", b"TRWLIVFM");
const CENTROIDS: (&str, &[u8; 8]) = ("centroids.f32", b"TRWLIVFC");
const OFFSETS: (&str, &[u8; 8]) = ("offsets.u64", b"TRWLIVFO");
const IDS: (&str, &[u8; 8]) = ("ids.u32", b"TRWLIVFI");
const VECTORS: (&str, &[u8; 8]) = ("lists.f32", b"TRWLIVFV");
const CODES: (&str, &[u8; 8]) = ("codes.u8", b"TRWLIVFQ");
const CODEBOOKS: (&str, &[u8; 8]) = ("codebooks.f32", b"TRWLIVFB");
const FULL: (&str, &[u8; 8]) = ("full.f32", b"TRWLIVFF");
/// Every file an IVF index directory may hold (IVF-Flat writes `lists.f32`; IVF-PQ `codes.u8`
/// and `codebooks.f32`, plus `full.f32` when it keeps the vectors).
pub const IVF_FILES: [&str; 8] = [
    META.0,
    CENTROIDS.0,
    OFFSETS.0,
    IDS.0,
    VECTORS.0,
    CODES.0,
    CODEBOOKS.0,
    FULL.0,
];
const META_LEN: usize = 64;

impl IvfIndex {
    /// Writes the index into the directory `dir`, atomically.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let staging = AtomicDir::create(dir.as_ref())?;
        let p = staging.path();
        let (codec, m) = match self.params.codec {
            IvfCodec::Flat => (0u8, 0u32),
            IvfCodec::Pq { m } => (1, m as u32),
        };
        let mut meta = Vec::with_capacity(META_LEN);
        meta.extend_from_slice(&(self.dim as u64).to_le_bytes());
        meta.extend_from_slice(&(self.len as u64).to_le_bytes());
        meta.extend_from_slice(&(self.params.nlist as u64).to_le_bytes());
        meta.extend_from_slice(&(self.params.nprobe as u64).to_le_bytes());
        meta.extend_from_slice(&self.params.seed.to_le_bytes());
        let train = self.params.train_size.map_or(u64::MAX, |t| t as u64);
        meta.extend_from_slice(&train.to_le_bytes());
        meta.extend_from_slice(&m.to_le_bytes());
        meta.push(codec);
        meta.push(metric_code(self.metric));
        meta.push(u8::from(self.params.keep_vectors));
        meta.push(u8::from(self.probe_ip));
        meta.resize(META_LEN, 0);
        trawl_store::write_checked(&p.join(META.0), META.1, VERSION, &meta)?;
        self.centroids
            .write(&p.join(CENTROIDS.0), CENTROIDS.1, VERSION)?;
        self.offsets.write(&p.join(OFFSETS.0), OFFSETS.1, VERSION)?;
        self.ids.write(&p.join(IDS.0), IDS.1, VERSION)?;
        match &self.lists {
            Lists::Flat(v) => v.write(&p.join(VECTORS.0), VECTORS.1, VERSION)?,
            Lists::Pq {
                codes, codebooks, ..
            } => {
                codes.write(&p.join(CODES.0), CODES.1, VERSION)?;
                codebooks.write(&p.join(CODEBOOKS.0), CODEBOOKS.1, VERSION)?;
            }
        }
        if let Some(full) = &self.full {
            full.write(&p.join(FULL.0), FULL.1, VERSION)?;
        }
        staging.commit()?;
        Ok(())
    }

    /// Opens a directory written by [`IvfIndex::save`] (checksums, sizes, list offsets and ids
    /// are all checked before the first search).
    pub fn open(dir: impl AsRef<Path>) -> Result<IvfIndex> {
        let dir = dir.as_ref();
        let meta_path = dir.join(META.0);
        let meta = Checked::open(&meta_path, META.1, VERSION, Verify::Full)?;
        let b = meta.as_slice();
        let corrupt = |path: &Path, reason: String| Error::Corrupt {
            path: path.to_path_buf(),
            reason,
        };
        if b.len() != META_LEN {
            return Err(corrupt(
                &meta_path,
                format!("{} bytes, expected {META_LEN}", b.len()),
            ));
        }
        let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"));
        let dim = u64_at(0) as usize;
        let len = u64_at(8) as usize;
        let nlist = u64_at(16) as usize;
        let m = u32::from_le_bytes(b[48..52].try_into().expect("4 bytes")) as usize;
        let codec = match b[52] {
            0 => IvfCodec::Flat,
            1 => IvfCodec::Pq { m },
            c => return Err(corrupt(&meta_path, format!("unknown codec {c}"))),
        };
        let metric = metric_of(b[53], &meta_path)?;
        let params = IvfParams {
            nlist,
            codec,
            nprobe: u64_at(24) as usize,
            seed: u64_at(32),
            train_size: Some(u64_at(40))
                .filter(|&t| t != u64::MAX)
                .map(|t| t as usize),
            keep_vectors: b[54] == 1 && codec != IvfCodec::Flat,
        };
        if dim == 0 || len == 0 || nlist == 0 || nlist > len {
            return Err(corrupt(
                &meta_path,
                format!("inconsistent header (dim {dim}, {len} vectors, nlist {nlist})"),
            ));
        }
        if let IvfCodec::Pq { m } = codec {
            pq::check_m(dim, m).map_err(|e| corrupt(&meta_path, e.to_string()))?;
        }
        let centroids = Array::open(&dir.join(CENTROIDS.0), CENTROIDS.1, VERSION, nlist * dim)?;
        let offsets: Array<u64> = Array::open(&dir.join(OFFSETS.0), OFFSETS.1, VERSION, nlist + 1)?;
        let o = offsets.as_slice();
        if o[0] != 0 || o[nlist] != len as u64 || o.windows(2).any(|w| w[1] < w[0]) {
            return Err(corrupt(
                &dir.join(OFFSETS.0),
                "list offsets are not increasing up to the vector count".into(),
            ));
        }
        let ids: Array<u32> = Array::open(&dir.join(IDS.0), IDS.1, VERSION, len)?;
        if ids.as_slice().iter().any(|&i| i as usize >= len) {
            return Err(corrupt(
                &dir.join(IDS.0),
                "an id points outside the index".into(),
            ));
        }
        let lists = match codec {
            IvfCodec::Flat => Lists::Flat(Array::open(
                &dir.join(VECTORS.0),
                VECTORS.1,
                VERSION,
                len * dim,
            )?),
            IvfCodec::Pq { m } => Lists::pq(
                m,
                Array::open(&dir.join(CODES.0), CODES.1, VERSION, len * m)?,
                Array::open(&dir.join(CODEBOOKS.0), CODEBOOKS.1, VERSION, pq::KSUB * dim)?,
                dim,
            ),
        };
        let full = if params.keep_vectors {
            Some(Array::open(&dir.join(FULL.0), FULL.1, VERSION, len * dim)?)
        } else {
            None
        };
        Ok(IvfIndex {
            dim,
            metric,
            params,
            len,
            centroids,
            offsets,
            ids,
            lists,
            full,
            probe_ip: b[55] == 1,
            cnorms: Default::default(),
        })
    }
}
