//! A typed array that is either owned (just built) or a view of a verified, memory-mapped file,
//! so the in-memory and the reopened index share one search code path.

use std::path::Path;

use bytemuck::Pod;
use trawl_store::{ByteSource, Checked, MmapBytes, Verify};

use crate::{Error, Result};

pub(crate) enum Column<T: Pod> {
    Owned(Vec<T>),
    Mapped(Checked<MmapBytes>),
}

impl<T: Pod> Column<T> {
    #[inline]
    pub fn as_slice(&self) -> &[T] {
        match self {
            Column::Owned(v) => v,
            // Alignment and length were checked in `open`; mmaps are page-aligned.
            Column::Mapped(m) => bytemuck::cast_slice(m.as_slice()),
        }
    }

    /// The raw little-endian bytes, for saving.
    pub fn as_bytes(&self) -> &[u8] {
        bytemuck::cast_slice(self.as_slice())
    }

    /// Maps and verifies `dir/name` (magic + version + CRC) and checks it holds whole `T`s.
    pub fn open(
        dir: &Path,
        name: &str,
        magic: &[u8; 8],
        version: u32,
        verify: Verify,
    ) -> Result<Self> {
        let path = dir.join(name);
        let checked = Checked::open(&path, magic, version, verify)?;
        if bytemuck::try_cast_slice::<u8, T>(checked.as_slice()).is_err() {
            return Err(Error::Corrupt {
                path,
                reason: format!(
                    "{} bytes is not a whole number of {}-byte values",
                    checked.len(),
                    std::mem::size_of::<T>()
                ),
            });
        }
        Ok(Column::Mapped(checked))
    }

    pub fn len(&self) -> usize {
        self.as_slice().len()
    }
}
