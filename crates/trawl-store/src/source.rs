//! Read-only byte sources: the same index code runs over RAM buffers and memory-mapped files.

use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::{Error, Result};

/// A contiguous, immutable run of bytes that an index reads from.
///
/// Implementations: [`RamBytes`] (heap) and [`MmapBytes`] (a memory-mapped file). Both are
/// cheap to clone and safe to share between threads.
pub trait ByteSource: Send + Sync {
    /// All the bytes.
    fn as_slice(&self) -> &[u8];

    /// Number of bytes.
    fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// True when there are no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes in `range`, or [`Error::OutOfRange`] when it does not lie inside the source.
    fn bytes(&self, range: Range<usize>) -> Result<&[u8]> {
        let all = self.as_slice();
        if range.start > range.end || range.end > all.len() {
            return Err(Error::OutOfRange {
                start: range.start,
                end: range.end,
                len: all.len(),
            });
        }
        Ok(&all[range])
    }
}

/// Bytes held in memory.
#[derive(Clone, Debug, Default)]
pub struct RamBytes(Arc<[u8]>);

impl RamBytes {
    /// Wraps a buffer.
    pub fn new(bytes: impl Into<Arc<[u8]>>) -> Self {
        RamBytes(bytes.into())
    }

    /// Reads a whole file into memory.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Ok(RamBytes(bytes.into()))
    }
}

impl From<Vec<u8>> for RamBytes {
    fn from(v: Vec<u8>) -> Self {
        RamBytes(v.into())
    }
}

impl ByteSource for RamBytes {
    fn as_slice(&self) -> &[u8] {
        &self.0
    }
}

/// A read-only memory-mapped file. Opening is cheap; pages load on first touch.
///
/// The file must not be modified while mapped: trawl only ever replaces files by renaming a new
/// one into place, which leaves existing mappings intact.
#[derive(Clone, Debug)]
pub struct MmapBytes {
    // `None` for an empty file: mapping zero bytes is not portable.
    map: Option<Arc<memmap2::Mmap>>,
    path: PathBuf,
}

impl MmapBytes {
    /// Maps `path` read-only.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let map = if len == 0 {
            None
        } else {
            // SAFETY: the map is read-only and trawl never writes a file in place once written
            // (see the type's docs); a concurrent external truncation is outside our contract.
            let m = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
            Some(Arc::new(m))
        };
        Ok(MmapBytes {
            map,
            path: path.to_path_buf(),
        })
    }

    /// The mapped file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl ByteSource for MmapBytes {
    fn as_slice(&self) -> &[u8] {
        match &self.map {
            Some(m) => m,
            None => &[],
        }
    }
}

impl<S: ByteSource + ?Sized> ByteSource for Arc<S> {
    fn as_slice(&self) -> &[u8] {
        (**self).as_slice()
    }
}

impl<S: ByteSource + ?Sized> ByteSource for Box<S> {
    fn as_slice(&self) -> &[u8] {
        (**self).as_slice()
    }
}
