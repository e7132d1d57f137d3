//! Byte storage for trawl indexes.
//!
//! - [`ByteSource`]: read-only bytes behind a trait, with [`RamBytes`] (heap) and [`MmapBytes`]
//!   (memory-mapped file) implementations, so index code is written once and opens from disk
//!   without copying.
//! - [`checked`]: files with a footer (magic, format version, payload length, CRC-32) so a file
//!   cut short, damaged or foreign is refused with an error naming it, never read as data.
//! - [`atomic`]: [`AtomicDir`], [`AtomicFile`] and [`write_file_atomic`]: write to a temporary
//!   sibling, fsync, swap into place (`renameat2(RENAME_EXCHANGE)` on Linux), so an interrupted
//!   build never leaves something that looks valid and never leaves the destination missing.
//! - [`lock`]: [`DirLock`], one writer per destination; a second one is told the holder's PID.
//! - [`recover`]: finishing or discarding what a killed writer left (`.<name>.tmp-<pid>`, ...).
//! - [`read`], [`paths`]: size-capped reads of control files, paths confined to their folder,
//!   lists of owned files, outputs that never contain their inputs.
//! - [`fault`]: `TRAWL_STORE_KILL_AT_RENAME=N`, a crash-test hook.
//! - [`prefetch()`]: a cache hint for mapped data read at random.
//!
//! Quickstart:
//! ```
//! use trawl_store::{AtomicDir, ByteSource, Checked, Verify, write_checked};
//! # let root = tempfile::tempdir().unwrap();
//! let dest = root.path().join("my-index");
//! let dir = AtomicDir::create(&dest)?;
//! write_checked(&dir.path().join("values.bin"), b"TRWLDEMO", 1, &[1, 2, 3])?;
//! dir.commit()?;
//!
//! let file = Checked::open(&dest.join("values.bin"), b"TRWLDEMO", 1, Verify::Full)?;
//! assert_eq!(file.as_slice(), &[1, 2, 3]);
//! // Wrong kind of file or version: a clear error, not garbage.
//! assert!(Checked::open(&dest.join("values.bin"), b"TRWLELSE", 1, Verify::Full).is_err());
//! # Ok::<(), trawl_store::Error>(())
//! ```

pub mod atomic;
pub mod checked;
pub mod error;
pub mod fault;
pub mod lock;
pub mod paths;
pub mod prefetch;
pub mod read;
pub mod recover;
pub mod source;

pub use atomic::{replace_dir, staging_path, write_file_atomic, AtomicDir, AtomicFile};
pub use checked::{
    checksum, seal, verify_bytes, write_checked, Checked, CheckedWriter, Verify, FOOTER_LEN,
};
pub use error::{Error, Result};
pub use lock::DirLock;
pub use paths::{
    confined_join, foreign_entries, link_or_copy, list_files, refuse_output_containing,
};
pub use prefetch::prefetch;
pub use read::{read_regular_capped, SMALL_FILE_LIMIT};
pub use recover::{recover_unlocked, Recovery};
pub use source::{ByteSource, MmapBytes, RamBytes};
