//! The search hit every index returns, and its rank order.

use std::cmp::Ordering;

/// One search result: the document's ordinal (insertion order) and its similarity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub doc: u32,
    pub score: f32,
}

impl Hit {
    /// Best first: higher score, then lower ordinal (NaN sorts last).
    pub fn rank_cmp(&self, other: &Hit) -> Ordering {
        rank_key(self.score, self.doc).cmp(&rank_key(other.score, other.doc))
    }
}

/// The rank of a hit packed in one integer: smaller keys rank first (higher score, then lower
/// ordinal; every NaN ranks after every number). Sorting keys sorts hits without a float
/// comparator.
#[inline]
pub fn rank_key(score: f32, doc: u32) -> u64 {
    let bits = score.to_bits();
    // Order-preserving map of f32 to u32 (the order of `f32::total_cmp`); NaN gets 0, below
    // every number including -inf.
    let ordered = if score.is_nan() {
        0
    } else if bits & 0x8000_0000 != 0 {
        !bits
    } else {
        bits | 0x8000_0000
    };
    (u64::from(!ordered) << 32) | u64::from(doc)
}

/// The hit a [`rank_key`] was made from (a NaN score comes back as -inf).
#[inline]
pub fn hit_of_key(key: u64) -> Hit {
    let ordered = !((key >> 32) as u32);
    let bits = if ordered & 0x8000_0000 != 0 {
        ordered & 0x7fff_ffff
    } else {
        !ordered
    };
    Hit {
        doc: key as u32,
        score: f32::from_bits(bits),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_key_orders_by_score_then_ordinal_with_nan_last() {
        let hits = [
            Hit { doc: 3, score: 0.5 },
            Hit { doc: 1, score: 0.5 },
            Hit {
                doc: 0,
                score: f32::NAN,
            },
            Hit {
                doc: 2,
                score: -1.0,
            },
            Hit { doc: 4, score: 2.0 },
            Hit {
                doc: 5,
                score: f32::NEG_INFINITY,
            },
        ];
        let mut sorted = hits;
        sorted.sort_by(Hit::rank_cmp);
        let docs: Vec<u32> = sorted.iter().map(|h| h.doc).collect();
        assert_eq!(docs, vec![4, 1, 3, 2, 5, 0]);
        for h in hits.iter().filter(|h| !h.score.is_nan()) {
            assert_eq!(hit_of_key(rank_key(h.score, h.doc)), *h);
        }
    }
}
