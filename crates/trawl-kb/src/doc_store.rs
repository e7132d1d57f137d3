//! The document store: id, title, text and metadata of every document, by ordinal.
//!
//! Two files:
//! - `docs.dat`: for each document in ordinal order, its id, title, text and metadata (compact
//!   JSON, empty when there is none) as raw UTF-8 bytes, back to back;
//! - `docs.idx`: `4 * n + 1` little-endian `u64` offsets into `docs.dat`; field `f` of document
//!   `i` is `dat[idx[4i + f] .. idx[4i + f + 1]]`.
//!
//! Both are memory-mapped on open. Opening checks the shapes (sizes, monotone offsets, last
//! offset == data size), so a later lookup can never read out of bounds; text is checked to be
//! UTF-8 when read, so even a store whose checksums were not verified never panics.

use std::path::{Path, PathBuf};

use trawl_store::{ByteSource, Checked, CheckedWriter, MmapBytes, Verify};

use crate::{Error, Result};

pub(crate) const DATA_FILE: &str = "docs.dat";
pub(crate) const INDEX_FILE: &str = "docs.idx";
const FIELDS: usize = 4;
const DATA_MAGIC: &[u8; 8] = b"TRWLDOCS";
const INDEX_MAGIC: &[u8; 8] = b"TRWLDIDX";
const VERSION: u32 = 1;

/// One stored document, borrowed from the memory-mapped store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentRef<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub text: &'a str,
    /// The metadata object as compact JSON; empty when the document had none.
    pub metadata_json: &'a str,
}

impl DocumentRef<'_> {
    /// The metadata as a JSON object (empty when there is none).
    pub fn metadata(&self) -> serde_json::Map<String, serde_json::Value> {
        if self.metadata_json.is_empty() {
            return Default::default();
        }
        serde_json::from_str(self.metadata_json).unwrap_or_default()
    }

    /// An owned [`trawl_data::Document`].
    pub fn to_document(&self) -> trawl_data::Document {
        trawl_data::Document {
            id: self.id.to_owned(),
            title: self.title.to_owned(),
            text: self.text.to_owned(),
            metadata: self.metadata(),
        }
    }
}

/// Streams documents into `docs.dat` and collects their offsets.
pub(crate) struct DocStoreWriter {
    dat: CheckedWriter,
    dir: PathBuf,
    offsets: Vec<u64>,
    pos: u64,
}

impl DocStoreWriter {
    pub(crate) fn create(dir: &Path) -> Result<Self> {
        Ok(DocStoreWriter {
            dat: CheckedWriter::create(&dir.join(DATA_FILE), DATA_MAGIC, VERSION)?,
            dir: dir.to_path_buf(),
            offsets: vec![0],
            pos: 0,
        })
    }

    pub(crate) fn push(
        &mut self,
        id: &str,
        title: &str,
        text: &str,
        metadata_json: &[u8],
    ) -> Result<()> {
        for field in [
            id.as_bytes(),
            title.as_bytes(),
            text.as_bytes(),
            metadata_json,
        ] {
            self.dat.write_all(field)?;
            self.pos += field.len() as u64;
            self.offsets.push(self.pos);
        }
        Ok(())
    }

    /// Writes the offsets, footers and syncs both files; returns their total size in bytes.
    pub(crate) fn finish(self) -> Result<u64> {
        self.dat.finish()?;
        let mut idx = CheckedWriter::create(&self.dir.join(INDEX_FILE), INDEX_MAGIC, VERSION)?;
        let mut bytes = Vec::with_capacity(self.offsets.len() * 8);
        for o in &self.offsets {
            bytes.extend_from_slice(&o.to_le_bytes());
        }
        idx.write_all(&bytes)?;
        idx.finish()?;
        Ok(self.pos + bytes.len() as u64 + 2 * trawl_store::FOOTER_LEN as u64)
    }
}

/// The memory-mapped, read-only document store.
#[derive(Debug)]
pub struct DocStore {
    dat: Checked<MmapBytes>,
    idx: Checked<MmapBytes>,
    num_docs: usize,
    dat_path: PathBuf,
}

impl DocStore {
    /// Maps the store in `dir` and checks that it holds `num_docs` well-formed records.
    pub(crate) fn open(dir: &Path, num_docs: usize, verify: Verify) -> Result<Self> {
        let dat_path = dir.join(DATA_FILE);
        let idx_path = dir.join(INDEX_FILE);
        let dat = Checked::open(&dat_path, DATA_MAGIC, VERSION, verify)?;
        let idx = Checked::open(&idx_path, INDEX_MAGIC, VERSION, verify)?;
        let want = (num_docs * FIELDS + 1) * 8;
        if idx.len() != want {
            return Err(Error::corrupt(
                &idx_path,
                format!(
                    "expected {want} bytes of offsets for {num_docs} documents, found {}",
                    idx.len()
                ),
            ));
        }
        let store = DocStore {
            dat,
            idx,
            num_docs,
            dat_path,
        };
        let mut prev = 0u64;
        for i in 0..=num_docs * FIELDS {
            let o = store.offset(i);
            if o < prev {
                return Err(Error::corrupt(
                    &idx_path,
                    format!("offset {i} goes backwards"),
                ));
            }
            prev = o;
        }
        if store.offset(0) != 0 || prev != store.dat.len() as u64 {
            return Err(Error::corrupt(
                &store.dat_path,
                format!(
                    "offsets end at {prev} but the file holds {} bytes",
                    store.dat.len()
                ),
            ));
        }
        Ok(store)
    }

    #[inline]
    fn offset(&self, i: usize) -> u64 {
        let b = &self.idx.as_slice()[i * 8..i * 8 + 8];
        u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    }

    pub fn num_docs(&self) -> usize {
        self.num_docs
    }

    fn field(&self, ordinal: usize, f: usize) -> Result<&str> {
        let start = self.offset(ordinal * FIELDS + f) as usize;
        let end = self.offset(ordinal * FIELDS + f + 1) as usize;
        std::str::from_utf8(&self.dat.as_slice()[start..end]).map_err(|_| {
            Error::corrupt(
                &self.dat_path,
                format!("document {ordinal} holds bytes that are not UTF-8"),
            )
        })
    }

    /// The document at `ordinal`.
    pub fn get(&self, ordinal: u32) -> Result<DocumentRef<'_>> {
        let i = ordinal as usize;
        if i >= self.num_docs {
            return Err(Error::OrdinalOutOfRange {
                ordinal: ordinal.into(),
                num_docs: self.num_docs as u64,
            });
        }
        Ok(DocumentRef {
            id: self.field(i, 0)?,
            title: self.field(i, 1)?,
            text: self.field(i, 2)?,
            metadata_json: self.field(i, 3)?,
        })
    }

    /// The raw id bytes of an in-range ordinal (no UTF-8 check; for the id map's search).
    pub(crate) fn id_bytes(&self, ordinal: u32) -> &[u8] {
        let i = ordinal as usize * FIELDS;
        let (s, e) = (self.offset(i) as usize, self.offset(i + 1) as usize);
        &self.dat.as_slice()[s..e]
    }

    /// The id of the document at `ordinal` (cheaper than [`DocStore::get`]).
    pub fn id(&self, ordinal: u32) -> Result<&str> {
        let i = ordinal as usize;
        if i >= self.num_docs {
            return Err(Error::OrdinalOutOfRange {
                ordinal: ordinal.into(),
                num_docs: self.num_docs as u64,
            });
        }
        self.field(i, 0)
    }
}
