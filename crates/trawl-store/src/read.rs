//! Reading small control files (manifests, markers) with a size cap: a FIFO, a device such as
//! `/dev/zero`, or a huge file put in their place is refused before a byte is read, so opening
//! never hangs and never grows memory without bound.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::Path;

use crate::{Error, Result};

/// Cap for manifests and similar JSON files.
pub const SMALL_FILE_LIMIT: u64 = 1 << 20;

/// Reads `path` whole if it is a regular file (symbolic links followed) of at most `limit`
/// bytes; [`Error::NotRegularFile`] or [`Error::TooLarge`] otherwise.
pub fn read_regular_capped(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let file = open_nonblocking(path).map_err(|e| Error::io(path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::NotRegularFile {
            path: path.to_path_buf(),
            kind: kind_of(&meta),
        });
    }
    if meta.len() > limit {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > limit {
        // Grew while we read it.
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    Ok(bytes)
}

// O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever. It has no
// effect on reads of regular files.
#[cfg(unix)]
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().read(true).open(path)
}

fn kind_of(meta: &std::fs::Metadata) -> String {
    let ft = meta.file_type();
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a FIFO".into();
        }
        if ft.is_char_device() || ft.is_block_device() {
            return "a device".into();
        }
        if ft.is_socket() {
            return "a socket".into();
        }
    }
    if ft.is_dir() {
        "a directory".into()
    } else {
        "not a plain file".into()
    }
}
