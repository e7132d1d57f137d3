//! The on-disk form of a `FlatIndex`: one file, a 64-byte header then the rows, checksummed,
//! written atomically (temp file, fsync, rename) and memory-mapped on open.
//!
//! Header (little endian): magic `TRWLFLAT`, u32 version, u8 metric, u8 precision, 2 reserved,
//! u32 dim, 4 reserved, u64 count, u32 crc32(rows), u32 crc32(header bytes 0..36), zeros to 64.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::io;
use crate::sq::ScalarQuantizer;
use crate::storage::{Precision, Rows};
use crate::{Error, FlatIndex, Result};

const MAGIC: &[u8; 8] = b"TRWLFLAT";
const VERSION: u32 = 1;
const HEADER: usize = 64;
/// File name used inside an index directory.
pub const FILE_NAME: &str = "vectors.flat";

impl FlatIndex {
    /// Saves into `dir/vectors.flat` (the directory is created if needed).
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        self.save_file(dir.join(FILE_NAME))
    }

    /// Opens `dir/vectors.flat`, memory-mapped.
    pub fn open(dir: impl AsRef<Path>) -> Result<FlatIndex> {
        FlatIndex::open_file(dir.as_ref().join(FILE_NAME))
    }

    /// Writes the index to `path` atomically: a half-written file never takes its place.
    pub fn save_file(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        // sq8: the ranges (vmin then vdiff, 2 * dim f32) come before the codes.
        let ranges: Vec<u8> = self
            .rows
            .quantizer()
            .map(|q| bytemuck::cast_slice(&q.to_values()).to_vec())
            .unwrap_or_default();
        let payload = self.rows.bytes();
        let mut crc = crc32fast::Hasher::new();
        crc.update(&ranges);
        crc.update(payload);
        let mut header = [0u8; HEADER];
        header[0..8].copy_from_slice(MAGIC);
        header[8..12].copy_from_slice(&VERSION.to_le_bytes());
        header[12] = crate::array::metric_code(self.metric);
        if self.precision() == Precision::Sq8 && self.rows.quantizer().is_none() {
            return Err(Error::InvalidParams(
                "an untrained sq8 index has nothing to save: train it first".into(),
            ));
        }
        header[13] = self.precision().code();
        header[16..20].copy_from_slice(&(self.dim as u32).to_le_bytes());
        header[24..32].copy_from_slice(&(self.len as u64).to_le_bytes());
        header[32..36].copy_from_slice(&crc.finalize().to_le_bytes());
        let hcrc = crc32fast::hash(&header[0..36]);
        header[36..40].copy_from_slice(&hcrc.to_le_bytes());

        let tmp = temp_path(path);
        let written = (|| {
            let mut f = File::create(&tmp)?;
            f.write_all(&header)?;
            f.write_all(&ranges)?;
            f.write_all(payload)?;
            f.sync_all()
        })();
        if let Err(e) = written.and_then(|_| std::fs::rename(&tmp, path)) {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::Io {
                path: path.to_path_buf(),
                source: e,
            });
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            // Make the rename durable; some filesystems refuse to fsync a directory, which is fine.
            if let Ok(d) = File::open(parent) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }

    /// Opens a file written by [`FlatIndex::save_file`], memory-mapped, after checking its
    /// header, size and checksums.
    pub fn open_file(path: impl AsRef<Path>) -> Result<FlatIndex> {
        let path = path.as_ref();
        let corrupt = |reason: String| Error::Corrupt {
            path: path.to_path_buf(),
            reason,
        };
        let file = File::open(path).map_err(io(path))?;
        // SAFETY: trawl writes index files atomically and never modifies them in place.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io(path))?;
        if map.len() < HEADER || &map[0..8] != MAGIC {
            return Err(corrupt(
                "not a trawl flat vector index (bad magic or too short)".into(),
            ));
        }
        let u32_at = |o: usize| u32::from_le_bytes(map[o..o + 4].try_into().expect("4 bytes"));
        let version = u32_at(8);
        if version != VERSION {
            return Err(corrupt(format!(
                "format version {version}, this trawl reads version {VERSION}"
            )));
        }
        if crc32fast::hash(&map[0..36]) != u32_at(36) {
            return Err(corrupt("header checksum mismatch (file corrupted)".into()));
        }
        let metric = crate::array::metric_of(map[12], path)?;
        let precision = match Precision::from_code(map[13]) {
            Some(p) => p,
            None => return Err(corrupt(format!("unknown precision code {}", map[13]))),
        };
        let dim = u32_at(16) as usize;
        let len = u64::from_le_bytes(map[24..32].try_into().expect("8 bytes"));
        let ranges = if precision == Precision::Sq8 {
            8 * dim
        } else {
            0
        };
        let expected = (len as u128) * (dim as u128) * (precision.bytes_per_value() as u128)
            + (HEADER + ranges) as u128;
        if dim == 0 || len > u32::MAX as u64 || expected != map.len() as u128 {
            return Err(corrupt(format!(
                "truncated or padded: {len} vectors of dimension {dim} need {expected} bytes, the file has {}",
                map.len()
            )));
        }
        if trawl_store::checksum(&map[HEADER..]) != u32_at(32) {
            return Err(corrupt(
                "vector data checksum mismatch (file corrupted)".into(),
            ));
        }
        let len = len as usize;
        let sq = if precision == Precision::Sq8 {
            let values: Vec<f32> = map[HEADER..HEADER + ranges]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
                .collect();
            Some(
                ScalarQuantizer::from_values(&values, dim)
                    .ok_or_else(|| corrupt("sq8 ranges are not finite or negative".into()))?,
            )
        } else {
            None
        };
        Ok(FlatIndex {
            dim,
            metric,
            len,
            rows: Rows::Mapped {
                map,
                offset: HEADER + ranges,
                len: len * dim,
                precision,
                sq,
            },
        })
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".tmp-{}", std::process::id()));
    path.with_file_name(name)
}
