//! `ids.ord`: every ordinal, sorted by document id (bytewise), for `id -> ordinal` lookups by
//! binary search over the memory-mapped store: nothing to build or hold in memory on open.

use std::cmp::Ordering;
use std::path::Path;

use trawl_store::{ByteSource, Checked, CheckedWriter, MmapBytes, Verify};

use crate::doc_store::DocStore;
use crate::{Error, Result};

pub(crate) const ID_MAP_FILE: &str = "ids.ord";
const MAGIC: &[u8; 8] = b"TRWLIDOR";
const VERSION: u32 = 1;

/// Sorts the ordinals `0..n` by id (`id(o)`, bytewise) and reports the first pair of equal ids
/// as [`Error::DuplicateId`] (records counted from 1, in input order).
pub(crate) fn sorted_ordinals<'a>(
    n: usize,
    id: impl Fn(u32) -> &'a [u8] + Sync,
) -> Result<Vec<u32>> {
    use rayon::prelude::*;
    let mut order: Vec<u32> = (0..n as u32).collect();
    // Stable: equal ids keep input order, so the pair below names the first repeat.
    order.par_sort_by(|&a, &b| id(a).cmp(id(b)));
    let mut dup: Option<(u32, u32)> = None;
    for w in order.windows(2) {
        if id(w[0]) == id(w[1]) && dup.is_none_or(|(_, s)| w[1] < s) {
            dup = Some((w[0], w[1]));
        }
    }
    if let Some((first, second)) = dup {
        return Err(Error::DuplicateId {
            id: String::from_utf8_lossy(id(first)).into_owned(),
            first: u64::from(first) + 1,
            second: u64::from(second) + 1,
        });
    }
    Ok(order)
}

pub(crate) fn write(dir: &Path, order: &[u32]) -> Result<u64> {
    let mut w = CheckedWriter::create(&dir.join(ID_MAP_FILE), MAGIC, VERSION)?;
    let mut bytes = Vec::with_capacity(order.len() * 4);
    for o in order {
        bytes.extend_from_slice(&o.to_le_bytes());
    }
    w.write_all(&bytes)?;
    w.finish()?;
    Ok(bytes.len() as u64 + trawl_store::FOOTER_LEN as u64)
}

/// The id map, memory-mapped.
#[derive(Debug)]
pub(crate) struct IdMap {
    ords: Checked<MmapBytes>,
    /// Ordinal of the first document of the store part this map sorts (a segment's).
    base: u32,
}

impl IdMap {
    pub(crate) fn open(dir: &Path, num_docs: usize, base: u32, verify: Verify) -> Result<Self> {
        let path = dir.join(ID_MAP_FILE);
        let ords = Checked::open(&path, MAGIC, VERSION, verify)?;
        // `num_docs` comes from the manifest: a hostile one must not overflow.
        if num_docs.checked_mul(4) != Some(ords.len()) {
            return Err(Error::corrupt(
                &path,
                format!(
                    "expected 4 bytes per document for {num_docs} documents, found {}",
                    ords.len()
                ),
            ));
        }
        let map = IdMap { ords, base };
        if (0..num_docs).any(|i| map.at(i) as usize >= num_docs) {
            return Err(Error::corrupt(&path, "an ordinal is out of range"));
        }
        Ok(map)
    }

    #[inline]
    fn at(&self, i: usize) -> u32 {
        let b = &self.ords.as_slice()[i * 4..i * 4 + 4];
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }

    /// The ordinal of `id` among this map's documents.
    pub(crate) fn lookup(&self, store: &DocStore, id: &str) -> Option<u32> {
        let (mut lo, mut hi) = (0usize, self.ords.len() / 4);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let ord = self.base + self.at(mid);
            match store.id_bytes(ord).cmp(id.as_bytes()) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Some(ord),
            }
        }
        None
    }
}
