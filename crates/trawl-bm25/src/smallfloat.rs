//! Lucene's `SmallFloat.intToByte4` / `byte4ToInt`: the lossy one-byte encoding of document
//! length that Lucene stores as the field norm. BM25 in Lucene scores with the *decoded*
//! length, so matching Pyserini's scores requires the same rounding.

const MAX_INT4: u32 = long_to_int4(i32::MAX as u64);
const NUM_FREE_VALUES: u32 = 255 - MAX_INT4;

const fn long_to_int4(i: u64) -> u32 {
    let num_bits = 64 - i.leading_zeros();
    if num_bits < 4 {
        i as u32 // subnormal
    } else {
        let shift = num_bits - 4;
        let mut encoded = (i >> shift) as u32;
        encoded &= 0x07; // the leading bit is implicit
        encoded |= (shift + 1) << 3;
        encoded
    }
}

const fn int4_to_long(i: u32) -> u64 {
    let bits = (i & 0x07) as u64;
    let shift = (i >> 3) as i32 - 1;
    if shift == -1 {
        bits
    } else {
        (bits | 0x08) << shift
    }
}

/// Encodes a length into one byte (exact below 24, then 4 significant bits).
pub const fn int_to_byte4(i: u32) -> u8 {
    let i = if i > i32::MAX as u32 {
        i32::MAX as u32
    } else {
        i
    };
    if i < NUM_FREE_VALUES {
        i as u8
    } else {
        (NUM_FREE_VALUES + long_to_int4((i - NUM_FREE_VALUES) as u64)) as u8
    }
}

/// Decodes [`int_to_byte4`].
pub const fn byte4_to_int(b: u8) -> u32 {
    let i = b as u32;
    if i < NUM_FREE_VALUES {
        i
    } else {
        (NUM_FREE_VALUES as u64 + int4_to_long(i - NUM_FREE_VALUES)) as u32
    }
}

/// `length -> decoded(encoded(length))`: the length Lucene's BM25 actually sees.
pub const fn lucene_length(len: u32) -> u32 {
    byte4_to_int(int_to_byte4(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_lucene() {
        assert_eq!(MAX_INT4, 231);
        assert_eq!(NUM_FREE_VALUES, 24);
    }

    #[test]
    fn small_lengths_are_exact_and_larger_round_down() {
        for i in 0..24 {
            assert_eq!(lucene_length(i), i);
        }
        // Values from Lucene's TestSmallFloat semantics: decode(encode(x)) <= x, monotone.
        let mut prev = 0;
        for i in 0..100_000u32 {
            let d = lucene_length(i);
            assert!(d <= i, "{i} -> {d}");
            assert!(d >= prev);
            prev = d;
        }
        assert_eq!(lucene_length(24), 24);
        assert_eq!(lucene_length(25), 25);
        assert_eq!(lucene_length(100), 96);
        assert_eq!(lucene_length(201), 200);
        // Every byte round-trips.
        for b in 0..=255u8 {
            assert_eq!(int_to_byte4(byte4_to_int(b)), b);
        }
    }
}
