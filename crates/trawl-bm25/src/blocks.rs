//! Postings in blocks of 128 documents: delta-coded document ordinals and term frequencies.
//!
//! A full block is `[doc bits: u8][tf bits: u8][docs, strictly-sorted deltas][tf - 1]`, both
//! arrays bit-packed with `bitpacking`'s `BitPacker4x` (SIMD), `16 × bits` bytes each. A term's
//! last block, when shorter than 128, is `[doc bits][tf bits]` and then `(delta, tf - 1)` pairs
//! in a little-endian bit stream of exactly `ceil(n (doc bits + tf bits) / 8)` bytes, so a rare
//! term costs a few bytes rather than a padded 128-value block. (LEB128 varints, the first
//! choice, cost more to decode on BEIR, where most lists are one short block: their branches
//! per byte mispredict; fixed widths decode without branches.)
//!
//! Deltas are relative to the previous block's last document (`None` for a term's first block),
//! the convention of `compress_strictly_sorted`: each value stores `doc - previous - 1`.

use bitpacking::{BitPacker, BitPacker4x};

/// Postings per block.
pub const BLOCK_LEN: usize = BitPacker4x::BLOCK_LEN;

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
        let mut deltas = [0u32; BLOCK_LEN];
        for (o, &d) in deltas.iter_mut().zip(docs) {
            *o = d.wrapping_sub(prev).wrapping_sub(1);
            prev = d;
        }
        let n = docs.len();
        let doc_bits = bits_of(deltas[..n].iter().fold(0, |a, &x| a | x));
        let tf_bits = bits_of(tfs.iter().fold(0, |a, &x| a | (x - 1)));
        out.push(doc_bits as u8);
        out.push(tf_bits as u8);
        let mut acc = 0u64;
        let mut filled = 0u32;
        let mut put = |v: u32, bits: u32, out: &mut Vec<u8>| {
            acc |= u64::from(v) << filled;
            filled += bits;
            while filled >= 8 {
                out.push(acc as u8);
                acc >>= 8;
                filled -= 8;
            }
        };
        for (&delta, &tf) in deltas[..n].iter().zip(tfs) {
            put(delta, doc_bits, out);
            put(tf - 1, tf_bits, out);
        }
        if filled > 0 {
            out.push(acc as u8);
        }
    }
}

fn bits_of(v: u32) -> u32 {
    32 - v.leading_zeros()
}

/// Bytes of a short block of `n` postings with these widths.
fn short_len(n: usize, doc_bits: u32, tf_bits: u32) -> usize {
    2 + (n * (doc_bits + tf_bits) as usize).div_ceil(8)
}

/// The little-endian u64 at byte `at` of `bytes` (zeros past the end).
#[inline]
fn read_u64(bytes: &[u8], at: usize) -> u64 {
    match bytes.get(at..at + 8) {
        Some(b) => u64::from_le_bytes(b.try_into().expect("8 bytes")),
        None => {
            let mut b = [0u8; 8];
            let tail = bytes.get(at..).unwrap_or(&[]);
            b[..tail.len()].copy_from_slice(tail);
            u64::from_le_bytes(b)
        }
    }
}

/// `bits` bits at bit offset `pos` of `bytes` (zeros past the end).
#[inline]
fn read_bits(bytes: &[u8], pos: usize, bits: u32) -> u32 {
    ((read_u64(bytes, pos / 8) >> (pos % 8)) & ((1u64 << bits) - 1)) as u32
}

/// Decodes a block of `n` postings from `bytes` (starting with the block; may extend past it)
/// into the first `n` slots of `docs` and `tfs`. Blocks were checked by [`check`] when the index was opened.
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
        let (doc_bits, tf_bits) = (u32::from(bytes[0]), u32::from(bytes[1]));
        let data = &bytes[2..];
        let mut prev = initial.unwrap_or(u32::MAX);
        let mut pos = 0usize;
        let pair = doc_bits + tf_bits;
        if pair <= 56 {
            // One 64-bit read per posting (`bytes` usually extends past the block, so the
            // read rarely takes the zero-padding path).
            let (doc_mask, tf_mask) = ((1u64 << doc_bits) - 1, (1u64 << tf_bits) - 1);
            for i in 0..n {
                let w = read_u64(data, pos / 8) >> (pos % 8);
                prev = prev.wrapping_add((w & doc_mask) as u32).wrapping_add(1);
                docs[i] = prev;
                tfs[i] = ((w >> doc_bits) & tf_mask) as u32 + 1;
                pos += pair as usize;
            }
        } else {
            for i in 0..n {
                let delta = read_bits(data, pos, doc_bits);
                pos += doc_bits as usize;
                prev = prev.wrapping_add(delta).wrapping_add(1);
                docs[i] = prev;
                tfs[i] = read_bits(data, pos, tf_bits).wrapping_add(1);
                pos += tf_bits as usize;
            }
        }
    }
}

/// Decodes only the document ordinals of a block of `n` postings into `docs` (for searches
/// that read the stored scores instead of the term frequencies).
#[inline]
pub(crate) fn decode_docs(
    bytes: &[u8],
    n: usize,
    initial: Option<u32>,
    docs: &mut [u32; BLOCK_LEN],
) {
    if n == BLOCK_LEN {
        BitPacker4x::new().decompress_strictly_sorted(initial, &bytes[2..], docs, bytes[0]);
        return;
    }
    let mut scratch = [0u32; BLOCK_LEN];
    for_each_doc(bytes, n, initial, &mut scratch, |i, d| docs[i] = d);
}

/// Calls `f(i, doc)` for the `n` documents of a block in order, without decoding the term
/// frequencies: the exhaustive path with stored scores needs only the ordinals. A short block is
/// decoded and handed over posting by posting (no buffer round trip); a full one goes through
/// `docs`.
#[inline]
pub(crate) fn for_each_doc(
    bytes: &[u8],
    n: usize,
    initial: Option<u32>,
    docs: &mut [u32; BLOCK_LEN],
    mut f: impl FnMut(usize, u32),
) {
    if n == BLOCK_LEN {
        BitPacker4x::new().decompress_strictly_sorted(initial, &bytes[2..], docs, bytes[0]);
        for (i, &d) in docs.iter().enumerate() {
            f(i, d);
        }
        return;
    }
    let (doc_bits, tf_bits) = (u32::from(bytes[0]), u32::from(bytes[1]));
    let data = &bytes[2..];
    let mut prev = initial.unwrap_or(u32::MAX);
    let pair = (doc_bits + tf_bits) as usize;
    let mut pos = 0usize;
    if doc_bits <= 56 {
        let doc_mask = (1u64 << doc_bits) - 1;
        for i in 0..n {
            let w = read_u64(data, pos / 8) >> (pos % 8);
            prev = prev.wrapping_add((w & doc_mask) as u32).wrapping_add(1);
            f(i, prev);
            pos += pair;
        }
    } else {
        for i in 0..n {
            prev = prev
                .wrapping_add(read_bits(data, pos, doc_bits))
                .wrapping_add(1);
            f(i, prev);
            pos += pair;
        }
    }
}

/// Bytes of the block of `n` postings at the start of `bytes` (which may extend past it), read
/// from its header: how a stream of blocks without offsets (a build's spilled run) is walked.
/// `Err` when the header is missing, its widths exceed 32 bits or the block is cut short.
pub(crate) fn encoded_len(bytes: &[u8], n: usize) -> Result<usize, String> {
    let [doc_bits, tf_bits, ..] = *bytes else {
        return Err("a block without its header".into());
    };
    if doc_bits > 32 || tf_bits > 32 {
        return Err(format!("bit widths {doc_bits}/{tf_bits} exceed 32"));
    }
    let len = if n == BLOCK_LEN {
        2 + 16 * (doc_bits as usize + tf_bits as usize)
    } else {
        short_len(n, u32::from(doc_bits), u32::from(tf_bits))
    };
    if len > bytes.len() {
        return Err(format!("a block of {len} bytes, {} left", bytes.len()));
    }
    Ok(len)
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
        let [doc_bits, tf_bits, ..] = *bytes else {
            return Err(format!(
                "a short block of {} bytes has no header",
                bytes.len()
            ));
        };
        if doc_bits > 32 || tf_bits > 32 {
            return Err(format!("bit widths {doc_bits}/{tf_bits} exceed 32"));
        }
        let want = short_len(n, u32::from(doc_bits), u32::from(tf_bits));
        if bytes.len() != want {
            return Err(format!(
                "a short block of {} bytes, expected {want}",
                bytes.len()
            ));
        }
    }
    Ok(())
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
        let mut seen = Vec::new();
        for_each_doc(&bytes, docs.len(), initial, &mut d, |i, doc| {
            seen.push((i, doc))
        });
        let want: Vec<(usize, u32)> = docs.iter().copied().enumerate().collect();
        assert_eq!(seen, want, "ordinals alone");
        let mut only = [0u32; BLOCK_LEN];
        decode_docs(&bytes, docs.len(), initial, &mut only);
        assert_eq!(&only[..docs.len()], docs, "decode_docs");
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
        assert!(check(&[1, 1, 1, 1], 1).is_err());
        assert!(check(&[33, 0, 0, 0, 0, 0, 0], 1).is_err());
    }
}
