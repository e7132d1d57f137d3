//! `deleted.bin`: the tombstones of a KB, one bit per ordinal (bit `o % 64` of little-endian
//! word `o / 64` set: document `o` is deleted or was replaced). Deleted documents keep their
//! ordinal and their bytes until `trawl kb compact`; searches and id lookups skip them.

use std::path::Path;

use trawl_store::{ByteSource, Checked, Verify};

use crate::{Error, Result};

pub(crate) const DELETED_FILE: &str = "deleted.bin";
const MAGIC: &[u8; 8] = b"TRWLDELS";
const VERSION: u32 = 1;

/// Tombstones over `len` ordinals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Deleted {
    words: Vec<u64>,
    count: u64,
}

impl Deleted {
    /// No deletions over `len` ordinals.
    pub(crate) fn none(len: usize) -> Self {
        Deleted {
            words: vec![0; len.div_ceil(64)],
            count: 0,
        }
    }

    /// Reads the tombstones of `len` ordinals; `expected` is the manifest's count.
    pub(crate) fn read(dir: &Path, len: usize, expected: u64, verify: Verify) -> Result<Self> {
        if expected == 0 {
            return Ok(Self::none(len));
        }
        let path = dir.join(DELETED_FILE);
        let file = Checked::open(&path, MAGIC, VERSION, verify)?;
        let bytes = file.as_slice();
        if bytes.len() != len.div_ceil(64) * 8 {
            return Err(Error::corrupt(
                &path,
                format!("{} bytes of tombstones for {len} documents", bytes.len()),
            ));
        }
        let words: Vec<u64> = bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
        let count = words.iter().map(|w| u64::from(w.count_ones())).sum();
        let past_end = words
            .last()
            .is_some_and(|w| !len.is_multiple_of(64) && w >> (len % 64) != 0);
        if count != expected || past_end {
            return Err(Error::corrupt(
                &path,
                format!("marks {count} deleted documents, the manifest says {expected}"),
            ));
        }
        Ok(Deleted { words, count })
    }

    pub(crate) fn write(&self, dir: &Path) -> Result<()> {
        let bytes: Vec<u8> = self.words.iter().flat_map(|w| w.to_le_bytes()).collect();
        trawl_store::write_checked(&dir.join(DELETED_FILE), MAGIC, VERSION, &bytes)?;
        Ok(())
    }

    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    #[inline]
    pub(crate) fn contains(&self, ordinal: u32) -> bool {
        let o = ordinal as usize;
        self.words
            .get(o >> 6)
            .is_some_and(|w| w >> (o & 63) & 1 == 1)
    }

    /// Marks `ordinal` deleted; false when it already was.
    pub(crate) fn insert(&mut self, ordinal: u32) -> bool {
        let o = ordinal as usize;
        let (w, bit) = (o >> 6, 1u64 << (o & 63));
        if self.words[w] & bit != 0 {
            return false;
        }
        self.words[w] |= bit;
        self.count += 1;
        true
    }

    /// How many of the ordinals `start .. start + len` are deleted.
    pub(crate) fn count_in(&self, start: usize, len: usize) -> usize {
        let end = start + len;
        let mut n = 0;
        let mut o = start;
        while o < end {
            let (w, bit) = (o >> 6, o & 63);
            let take = (64 - bit).min(end - o);
            let mask = if take == 64 {
                u64::MAX
            } else {
                ((1u64 << take) - 1) << bit
            };
            n += (self.words.get(w).copied().unwrap_or(0) & mask).count_ones() as usize;
            o += take;
        }
        n
    }

    /// Room for `len` ordinals (new ones live).
    pub(crate) fn grow(&mut self, len: usize) {
        self.words.resize(len.div_ceil(64), 0);
    }

    /// The bitmap of ordinals `start .. start + len`, re-based to 0 (a segment's deletions, as
    /// `trawl_bm25::Segments` takes them; empty when none is deleted).
    pub(crate) fn slice(&self, start: usize, len: usize) -> Vec<u64> {
        let mut out = vec![0u64; len.div_ceil(64)];
        let mut any = false;
        for d in 0..len {
            if self.contains((start + d) as u32) {
                out[d >> 6] |= 1 << (d & 63);
                any = true;
            }
        }
        if any {
            out
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Deleted;

    #[test]
    fn count_in_counts_the_deleted_ordinals_of_any_range() {
        let mut d = Deleted::none(300);
        for o in [0u32, 1, 63, 64, 65, 127, 128, 200, 299] {
            d.insert(o);
        }
        for start in [0, 1, 60, 63, 64, 65, 127, 128, 129, 250] {
            for len in [0, 1, 2, 63, 64, 65, 100, 300 - start] {
                let len = len.min(300 - start);
                let naive = (start..start + len)
                    .filter(|&o| d.contains(o as u32))
                    .count();
                assert_eq!(d.count_in(start, len), naive, "{start}+{len}");
            }
        }
    }
}
