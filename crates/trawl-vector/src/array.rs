//! Arrays of plain numbers that live either in RAM (after a build) or in a memory-mapped,
//! checksummed trawl-store file (after an open): index code reads both through `as_slice`.

use std::marker::PhantomData;
use std::path::Path;

use trawl_store::{ByteSource, Checked, MmapBytes, Verify};

use crate::{Error, Metric, Result};

pub(crate) enum Array<T> {
    Owned(Vec<T>),
    Mapped(Checked<MmapBytes>, PhantomData<T>),
    /// Anonymous memory asked to be backed by huge pages: graph searches jump between rows at
    /// random, and 2 MiB pages spare them most TLB misses.
    Huge(memmap2::MmapMut, usize, PhantomData<T>),
}

impl<T: bytemuck::Pod> Array<T> {
    pub fn as_slice(&self) -> &[T] {
        match self {
            Array::Owned(v) => v,
            // Length and alignment were checked in `open` (maps are page-aligned, payloads
            // start at offset 0).
            Array::Mapped(c, _) => bytemuck::cast_slice(c.as_slice()),
            Array::Huge(m, len, _) => &bytemuck::cast_slice(&m[..])[..*len],
        }
    }

    /// The values, writable (a mapped file is copied into RAM first).
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        if let Array::Mapped(..) = self {
            *self = Array::Owned(self.as_slice().to_vec());
        }
        match self {
            Array::Owned(v) => v,
            Array::Huge(m, len, _) => &mut bytemuck::cast_slice_mut(&mut m[..])[..*len],
            Array::Mapped(..) => unreachable!("copied above"),
        }
    }

    /// A copy of `src` in huge-page-backed memory (a plain `Vec` where the system refuses).
    pub fn huge_copy(src: &[T]) -> Array<T> {
        let bytes: &[u8] = bytemuck::cast_slice(src);
        if bytes.is_empty() {
            return Array::Owned(Vec::new());
        }
        match memmap2::MmapMut::map_anon(bytes.len()) {
            Ok(mut m) => {
                // Advice only: without transparent huge pages the copy still works.
                let _ = m.advise(memmap2::Advice::HugePage);
                m.copy_from_slice(bytes);
                Array::Huge(m, src.len(), PhantomData)
            }
            Err(_) => Array::Owned(src.to_vec()),
        }
    }

    pub fn bytes(&self) -> &[u8] {
        bytemuck::cast_slice(self.as_slice())
    }

    /// Writes the array as one checksummed file.
    pub fn write(&self, path: &Path, magic: &[u8; 8], version: u32) -> Result<()> {
        trawl_store::write_checked(path, magic, version, self.bytes())?;
        Ok(())
    }

    /// Maps a file written by [`Array::write`], checking its footer, checksum and that it
    /// holds exactly `expected_len` values.
    pub fn open(
        path: &Path,
        magic: &[u8; 8],
        version: u32,
        expected_len: usize,
    ) -> Result<Array<T>> {
        let c = Checked::open(path, magic, version, Verify::Full)?;
        let size = std::mem::size_of::<T>();
        if c.as_slice().len() != expected_len * size {
            return Err(Error::Corrupt {
                path: path.to_path_buf(),
                reason: format!(
                    "holds {} bytes, expected {expected_len} values of {size} bytes",
                    c.as_slice().len()
                ),
            });
        }
        if bytemuck::try_cast_slice::<u8, T>(c.as_slice()).is_err() {
            return Err(Error::Corrupt {
                path: path.to_path_buf(),
                reason: "payload is not aligned for its values".into(),
            });
        }
        Ok(Array::Mapped(c, PhantomData))
    }
}

/// The byte a saved index records its metric with.
pub(crate) fn metric_code(m: Metric) -> u8 {
    match m {
        Metric::InnerProduct => 0,
        Metric::Cosine => 1,
        Metric::L2 => 2,
    }
}

pub(crate) fn metric_of(code: u8, path: &Path) -> Result<Metric> {
    match code {
        0 => Ok(Metric::InnerProduct),
        1 => Ok(Metric::Cosine),
        2 => Ok(Metric::L2),
        c => Err(Error::Corrupt {
            path: path.to_path_buf(),
            reason: format!("unknown metric code {c}"),
        }),
    }
}
