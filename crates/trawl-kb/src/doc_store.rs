//! The document store: id, title, text and metadata of every document, by ordinal.
//!
//! Two columns of UTF-8 strings, each a data file plus an offsets file:
//! - `ids.dat` / `ids.idx`: the ids, in ordinal order (kept apart and compact so that attaching
//!   ids to a million hits touches a few cache-friendly megabytes, not the whole corpus);
//! - `docs.dat` / `docs.idx`: title, text and metadata (compact JSON, empty when there is none)
//!   of every document, back to back.
//!
//! An offsets file holds `fields * n + 1` little-endian `u64`s; field `f` of record `i` is
//! `dat[idx[fields*i + f] .. idx[fields*i + f + 1]]`. All four files are checksummed
//! (trawl-store footers) and memory-mapped on open. Opening checks the shapes (sizes, monotone offsets, last
//! offset == data size), so a later lookup can never read out of bounds; text is checked to be
//! UTF-8 when read, so even a store whose checksums were not verified never panics.

use std::path::{Path, PathBuf};

use trawl_store::{ByteSource, Checked, CheckedWriter, MmapBytes, Verify};

use crate::{Error, Result};

/// (data file, offsets file, data magic, offsets magic, fields per record)
type ColumnSpec = (
    &'static str,
    &'static str,
    &'static [u8; 8],
    &'static [u8; 8],
    usize,
);
const IDS: ColumnSpec = ("ids.dat", "ids.idx", b"TRWLIDSD", b"TRWLIDSI", 1);
const DOCS: ColumnSpec = ("docs.dat", "docs.idx", b"TRWLDOCS", b"TRWLDIDX", 3);
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

    /// The text a dense model encodes for this document: title and text joined by a space
    /// (the text alone when the title is empty). `kb build --dense` and `kb add` both encode
    /// this, so added documents get the vectors a rebuild would give them.
    pub fn embedding_text(&self) -> String {
        if self.title.is_empty() {
            self.text.to_string()
        } else {
            format!("{} {}", self.title, self.text)
        }
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

/// Streams one column to disk: the data and its offsets, each as it comes (nothing kept in
/// memory, whatever the corpus).
struct ColumnWriter {
    dat: CheckedWriter,
    idx: CheckedWriter,
    pos: u64,
}

impl ColumnWriter {
    fn create(dir: &Path, spec: ColumnSpec) -> Result<Self> {
        let mut idx = CheckedWriter::create(&dir.join(spec.1), spec.3, VERSION)?;
        idx.write_all(&0u64.to_le_bytes())?;
        Ok(ColumnWriter {
            dat: CheckedWriter::create(&dir.join(spec.0), spec.2, VERSION)?,
            idx,
            pos: 0,
        })
    }

    fn push(&mut self, field: &[u8]) -> Result<()> {
        self.dat.write_all(field)?;
        self.pos += field.len() as u64;
        self.idx.write_all(&self.pos.to_le_bytes())?;
        Ok(())
    }

    /// Writes both footers; returns the bytes written.
    fn finish(self) -> Result<u64> {
        let idx_len = self.idx.payload_len();
        self.dat.finish()?;
        self.idx.finish()?;
        Ok(self.pos + idx_len + 2 * trawl_store::FOOTER_LEN as u64)
    }
}

/// Streams documents into the store.
pub(crate) struct DocStoreWriter {
    ids: ColumnWriter,
    docs: ColumnWriter,
}

impl DocStoreWriter {
    pub(crate) fn create(dir: &Path) -> Result<Self> {
        Ok(DocStoreWriter {
            ids: ColumnWriter::create(dir, IDS)?,
            docs: ColumnWriter::create(dir, DOCS)?,
        })
    }

    pub(crate) fn push(
        &mut self,
        id: &str,
        title: &str,
        text: &str,
        metadata_json: &[u8],
    ) -> Result<()> {
        self.ids.push(id.as_bytes())?;
        for field in [title.as_bytes(), text.as_bytes(), metadata_json] {
            self.docs.push(field)?;
        }
        Ok(())
    }

    /// Writes offsets and footers (files are synced); returns the store's size in bytes.
    pub(crate) fn finish(self) -> Result<u64> {
        Ok(self.ids.finish()? + self.docs.finish()?)
    }
}

/// One memory-mapped column, its shape checked on open.
#[derive(Debug)]
struct Column {
    dat: Checked<MmapBytes>,
    idx: Checked<MmapBytes>,
    fields: usize,
    dat_path: PathBuf,
    /// The whole data file is UTF-8 and every offset is a char boundary (checked on open).
    utf8: bool,
}

impl Column {
    fn open(dir: &Path, spec: ColumnSpec, num_docs: usize, verify: Verify) -> Result<Self> {
        let (dat_path, idx_path) = (dir.join(spec.0), dir.join(spec.1));
        let dat = Checked::open(&dat_path, spec.2, VERSION, verify)?;
        let idx = Checked::open(&idx_path, spec.3, VERSION, verify)?;
        let fields = spec.4;
        // A hostile manifest can claim any document count: no overflow, just a mismatch.
        let want = num_docs
            .checked_mul(fields)
            .and_then(|n| n.checked_add(1))
            .and_then(|n| n.checked_mul(8));
        if want != Some(idx.len()) {
            let want = want.map_or_else(|| "more than 2^64".to_string(), |w| w.to_string());
            return Err(Error::corrupt(
                &idx_path,
                format!(
                    "expected {want} bytes of offsets for {num_docs} documents, found {}",
                    idx.len()
                ),
            ));
        }
        let mut column = Column {
            dat,
            idx,
            fields,
            dat_path,
            utf8: false,
        };
        let mut prev = 0u64;
        for i in 0..=num_docs * fields {
            let o = column.offset(i);
            if o < prev {
                return Err(Error::corrupt(
                    &idx_path,
                    format!("offset {i} goes backwards"),
                ));
            }
            prev = o;
        }
        if column.offset(0) != 0 || prev != column.dat.len() as u64 {
            return Err(Error::corrupt(
                &column.dat_path,
                format!(
                    "offsets end at {prev} but the file holds {} bytes",
                    column.dat.len()
                ),
            ));
        }
        // Ids are read on every search hit: check them once here, not per hit.
        if fields == 1 {
            if let Ok(all) = std::str::from_utf8(column.dat.as_slice()) {
                column.utf8 =
                    (0..=num_docs).all(|i| all.is_char_boundary(column.offset(i) as usize));
            }
        }
        Ok(column)
    }

    #[inline]
    fn offset(&self, i: usize) -> u64 {
        let b = &self.idx.as_slice()[i * 8..i * 8 + 8];
        u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    }

    /// Raw bytes of field `f` of an in-range record.
    #[inline]
    fn bytes(&self, record: usize, f: usize) -> &[u8] {
        let i = record * self.fields + f;
        let (start, end) = (self.offset(i) as usize, self.offset(i + 1) as usize);
        &self.dat.as_slice()[start..end]
    }

    /// Asks for the offset of field `f` of `record` (see [`DocStore::ids`]).
    #[inline]
    fn prefetch_offset(&self, record: usize, f: usize) {
        trawl_store::prefetch(self.idx.as_slice(), (record * self.fields + f) * 8);
    }

    /// Asks for the first bytes of field `f` of `record` (reading its offset).
    #[inline]
    fn prefetch_bytes(&self, record: usize, f: usize) {
        let start = self.offset(record * self.fields + f) as usize;
        trawl_store::prefetch(self.dat.as_slice(), start);
    }

    fn str(&self, record: usize, f: usize) -> Result<&str> {
        let bytes = self.bytes(record, f);
        if self.utf8 {
            // SAFETY: `open` checked that the whole file is UTF-8 and that every record starts
            // and ends on a char boundary, and the mapping is read-only.
            return Ok(unsafe { std::str::from_utf8_unchecked(bytes) });
        }
        std::str::from_utf8(bytes).map_err(|_| {
            Error::corrupt(
                &self.dat_path,
                format!("document {record} holds bytes that are not UTF-8"),
            )
        })
    }
}

/// One document store file set: the base documents, or a segment's.
#[derive(Debug)]
struct Part {
    ids: Column,
    docs: Column,
    /// Ordinal of the part's first document.
    base: usize,
}

/// The memory-mapped, read-only document store: the base documents, then those of every added
/// segment, addressed by one ordinal.
#[derive(Debug)]
pub struct DocStore {
    parts: Vec<Part>,
    num_docs: usize,
}

impl DocStore {
    /// Maps the store in `dir` and checks that it holds `num_docs` well-formed records.
    #[cfg(test)]
    pub(crate) fn open(dir: &Path, num_docs: usize, verify: Verify) -> Result<Self> {
        Self::open_parts(&[(dir.to_path_buf(), num_docs)], verify)
    }

    /// Maps the stores in `parts` (each a folder and its document count), one after another.
    pub(crate) fn open_parts(parts: &[(PathBuf, usize)], verify: Verify) -> Result<Self> {
        let mut out = Vec::with_capacity(parts.len());
        let mut base = 0usize;
        for (dir, n) in parts {
            out.push(Part {
                ids: Column::open(dir, IDS, *n, verify)?,
                docs: Column::open(dir, DOCS, *n, verify)?,
                base,
            });
            base += n;
        }
        Ok(DocStore {
            parts: out,
            num_docs: base,
        })
    }

    pub fn num_docs(&self) -> usize {
        self.num_docs
    }

    /// The part holding in-range `ordinal`, and the record's position inside it.
    #[inline]
    fn locate(&self, ordinal: usize) -> (&Part, usize) {
        if self.parts.len() == 1 {
            return (&self.parts[0], ordinal);
        }
        let i = self.parts.partition_point(|p| p.base <= ordinal) - 1;
        let p = &self.parts[i];
        (p, ordinal - p.base)
    }

    fn check(&self, ordinal: u32) -> Result<(&Part, usize)> {
        let i = ordinal as usize;
        if i >= self.num_docs {
            return Err(Error::OrdinalOutOfRange {
                ordinal: ordinal.into(),
                num_docs: self.num_docs as u64,
            });
        }
        Ok(self.locate(i))
    }

    /// The document at `ordinal`.
    pub fn get(&self, ordinal: u32) -> Result<DocumentRef<'_>> {
        let (p, i) = self.check(ordinal)?;
        Ok(DocumentRef {
            id: p.ids.str(i, 0)?,
            title: p.docs.str(i, 0)?,
            text: p.docs.str(i, 1)?,
            metadata_json: p.docs.str(i, 2)?,
        })
    }

    /// The raw id bytes of an in-range ordinal (no UTF-8 check; for the id map's search).
    pub(crate) fn id_bytes(&self, ordinal: u32) -> &[u8] {
        let (p, i) = self.locate(ordinal as usize);
        p.ids.bytes(i, 0)
    }

    /// The id of the document at `ordinal` (cheaper than [`DocStore::get`]).
    pub fn id(&self, ordinal: u32) -> Result<&str> {
        let (p, i) = self.check(ordinal)?;
        p.ids.str(i, 0)
    }

    /// The ids of many documents, as [`DocStore::id`] of each. An id costs two reads at
    /// random (its offset, then its bytes), each a cache miss in a large store: the memory is
    /// asked for every offset, then for every id's bytes, before any is read, so that the
    /// misses overlap.
    pub fn ids(&self, ordinals: &[u32]) -> Result<Vec<&str>> {
        let located = ordinals
            .iter()
            .map(|&o| {
                let (p, i) = self.check(o)?;
                p.ids.prefetch_offset(i, 0);
                Ok((p, i))
            })
            .collect::<Result<Vec<_>>>()?;
        for &(p, i) in &located {
            p.ids.prefetch_bytes(i, 0);
        }
        located.iter().map(|&(p, i)| p.ids.str(i, 0)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_with_multibyte_characters_read_back_through_the_checked_once_path() {
        let dir = tempfile::tempdir().unwrap();
        let ids = ["ü-1", "", "東京/2", "plain", "e\u{301}"];
        let mut w = DocStoreWriter::create(dir.path()).unwrap();
        for id in ids {
            w.push(id, "t", "x", b"{}").unwrap();
        }
        w.finish().unwrap();
        let store = DocStore::open(dir.path(), ids.len(), Verify::Full).unwrap();
        assert!(
            store.parts[0].ids.utf8,
            "a UTF-8 id column is validated once on open"
        );
        // The batched lookup (prefetched) returns the same ids, in the order asked, and refuses
        // an ordinal past the end as `id` does.
        let asked = [4u32, 0, 2, 2, 1, 3];
        let want: Vec<&str> = asked.iter().map(|&o| ids[o as usize]).collect();
        assert_eq!(store.ids(&asked).unwrap(), want);
        assert!(matches!(
            store.ids(&[0, 5]),
            Err(Error::OrdinalOutOfRange { ordinal: 5, .. })
        ));
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(store.id(i as u32).unwrap(), *id);
            assert_eq!(store.get(i as u32).unwrap().id, *id);
        }
    }
}
