//! Postings in blocks of 128 documents: delta-coded document ordinals and term frequencies.
//!
//! A full block is `[doc bits: u8][tf bits: u8][docs, strictly-sorted deltas][tf - 1]`, both
//! arrays bit-packed with `bitpacking`'s `BitPacker4x` (SIMD), `16 × bits` bytes each. A term's
//! last block, when shorter than 128, is LEB128 varints instead (`delta, tf - 1` per posting),
//! so a rare term costs a few bytes rather than a padded 128-value block.
//!
//! Deltas are relative to the previous block's last document (`None` for a term's first block),
//! the convention of `compress_strictly_sorted`: each value stores `doc - previous - 1`.

use bitpacking::{BitPacker, BitPacker4x};

/// Postings per block.
pub(crate) const BLOCK_LEN: usize = BitPacker4x::BLOCK_LEN;

/// Number of blocks holding `df` postings.
pub(crate) fn num_blocks(df: u64) -> u64 {
    df.div_ceil(BLOCK_LEN as u64)
}

/// Appends one block (`docs` strictly increasing, all > `initial`; `tfs` >= 1) to `out`.
pub(crate) fn encode(initial: Option<u32>, docs: &[u32], tfs: &[u32], out: &mut Vec<u8>) {
    debug_assert_eq!(docs.len(), tfs.len());
    debug_assert!(!docs.is_empty() && docs.len() <= BLOCK_LEN);
    if docs.len() == BLOCK_LEN {
        let packer = BitPacker4x::new();
        let mut tf1 = [0u32; BLOCK_LEN];
        for (o, &tf) in tf1.iter_mut().zip(tfs) {
            *o = tf - 1;
        }
        let doc_bits = packer.num_bits_strictly_sorted(initial, docs);
        let tf_bits = packer.num_bits(&tf1);
        out.push(doc_bits);
        out.push(tf_bits);
        let start = out.len();
        out.resize(start + 16 * (doc_bits as usize + tf_bits as usize), 0);
        let n = packer.compress_strictly_sorted(initial, docs, &mut out[start..], doc_bits);
        packer.compress(&tf1, &mut out[start + n..], tf_bits);
    } else {
        let mut prev = initial.unwrap_or(u32::MAX);
        for (&d, &tf) in docs.iter().zip(tfs) {
            put_varint(out, d.wrapping_sub(prev).wrapping_sub(1));
            put_varint(out, tf - 1);
            prev = d;
        }
    }
}

/// Decodes a block of `n` postings from `bytes` (exactly the block's bytes) into the first `n`
/// slots of `docs` and `tfs`. Blocks were checked by [`check`] when the index was opened.
#[inline]
pub(crate) fn decode(
    bytes: &[u8],
    n: usize,
    initial: Option<u32>,
    docs: &mut [u32; BLOCK_LEN],
    tfs: &mut [u32; BLOCK_LEN],
) {
    if n == BLOCK_LEN {
        let packer = BitPacker4x::new();
        let (doc_bits, tf_bits) = (bytes[0], bytes[1]);
        let used = packer.decompress_strictly_sorted(initial, &bytes[2..], docs, doc_bits);
        packer.decompress(&bytes[2 + used..], tfs, tf_bits);
        for tf in tfs.iter_mut() {
            *tf += 1;
        }
    } else {
        let mut prev = initial.unwrap_or(u32::MAX);
        let mut pos = 0;
        for i in 0..n {
            let delta = get_varint(bytes, &mut pos);
            prev = prev.wrapping_add(delta).wrapping_add(1);
            docs[i] = prev;
            tfs[i] = get_varint(bytes, &mut pos).wrapping_add(1);
        }
    }
}

/// Checks that `bytes` has the shape of a block of `n` postings (bit widths <= 32 and the
/// exact length), so that [`decode`] cannot panic on it.
pub(crate) fn check(bytes: &[u8], n: usize) -> Result<(), String> {
    if n == BLOCK_LEN {
        let [doc_bits, tf_bits, ..] = *bytes else {
            return Err(format!("a block of {} bytes has no header", bytes.len()));
        };
        if doc_bits > 32 || tf_bits > 32 {
            return Err(format!("bit widths {doc_bits}/{tf_bits} exceed 32"));
        }
        let want = 2 + 16 * (doc_bits as usize + tf_bits as usize);
        if bytes.len() != want {
            return Err(format!("a block of {} bytes, expected {want}", bytes.len()));
        }
    } else {
        let mut pos = 0;
        for _ in 0..2 * n {
            if !skip_varint(bytes, &mut pos) {
                return Err(format!("a short block of {n} postings is truncated"));
            }
        }
        if pos != bytes.len() {
            return Err(format!("a short block of {n} postings has trailing bytes"));
        }
    }
    Ok(())
}

fn put_varint(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a varint; out-of-range reads yield 0 bits rather than panicking.
#[inline]
fn get_varint(bytes: &[u8], pos: &mut usize) -> u32 {
    let mut v = 0u32;
    let mut shift = 0u32;
    while let Some(&b) = bytes.get(*pos) {
        *pos += 1;
        if shift < 32 {
            v |= u32::from(b & 0x7f) << shift;
        }
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    v
}

fn skip_varint(bytes: &[u8], pos: &mut usize) -> bool {
    for i in 0..5 {
        let Some(&b) = bytes.get(*pos + i) else {
            return false;
        };
        if b & 0x80 == 0 {
            *pos += i + 1;
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(initial: Option<u32>, docs: &[u32], tfs: &[u32]) {
        let mut bytes = Vec::new();
        encode(initial, docs, tfs, &mut bytes);
        check(&bytes, docs.len()).unwrap();
        let (mut d, mut t) = ([0u32; BLOCK_LEN], [0u32; BLOCK_LEN]);
        decode(&bytes, docs.len(), initial, &mut d, &mut t);
        assert_eq!(&d[..docs.len()], docs);
        assert_eq!(&t[..tfs.len()], tfs);
    }

    #[test]
    fn full_and_short_blocks_round_trip() {
        let docs: Vec<u32> = (0..128).map(|i| i * 7 + 3).collect();
        let tfs: Vec<u32> = (0..128).map(|i| 1 + (i % 5)).collect();
        round_trip(None, &docs, &tfs);
        round_trip(Some(2), &docs, &tfs);
        let dense: Vec<u32> = (0..128).collect();
        round_trip(None, &dense, &[1; 128]); // zero-bit deltas and tfs
        let far: Vec<u32> = (0..128).map(|i| u32::MAX - 128 + i).collect();
        round_trip(Some(0), &far, &[u32::MAX; 128]);
        round_trip(None, &[0], &[1]);
        round_trip(Some(9), &[10, 4_000_000_000], &[300, 1]);
    }

    #[test]
    fn malformed_blocks_are_refused() {
        let mut bytes = Vec::new();
        encode(None, &(0..128).collect::<Vec<_>>(), &[2; 128], &mut bytes);
        assert!(check(&bytes[..bytes.len() - 1], 128).is_err());
        assert!(check(&[40, 0], 128).is_err());
        assert!(check(&[0x80], 1).is_err());
        assert!(check(&[1, 1, 1], 1).is_err());
    }
}
