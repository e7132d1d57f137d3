//! Exact top-k selection: score descending, ties by lower document ordinal.
//!
//! A (score, doc) pair is packed into one `u64` whose ascending order is the rank order, so
//! selection and sorting compare plain integers instead of calling a float comparator.

use crate::Hit;

/// The rank key of a hit: smaller keys rank first (higher score, then lower ordinal).
#[inline]
pub(crate) fn rank_key(score: f32, doc: u32) -> u64 {
    let bits = score.to_bits();
    // Order-preserving map of f32 to u32 (the order of `f32::total_cmp`).
    let ordered = if bits & 0x8000_0000 != 0 {
        !bits
    } else {
        bits | 0x8000_0000
    };
    (u64::from(!ordered) << 32) | u64::from(doc)
}

#[inline]
pub(crate) fn hit_of(key: u64) -> Hit {
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

/// Rank keys offered one at a time into a caller's `Vec`, cut down to the best `k` whenever
/// `cap` are held; from then on a key at or past the k-th kept one cannot enter and is not
/// kept: selection costs a compare per offer, not a sort of all of them (keys are distinct,
/// as the ordinals are, so this is exact). [`top_k_keys`] then takes the answer from the `Vec`.
pub(crate) struct KeyCut {
    k: usize,
    cap: usize,
    cut: u64,
}

impl KeyCut {
    /// For `k >= 1`.
    pub(crate) fn new(k: usize) -> Self {
        KeyCut {
            k,
            cap: k.saturating_mul(4).max(1024),
            cut: u64::MAX,
        }
    }

    /// A score below which a document cannot enter (its key would be past the cut):
    /// `-inf` until the cut is set.
    #[inline]
    pub(crate) fn floor(&self) -> f32 {
        if self.cut == u64::MAX {
            f32::NEG_INFINITY
        } else {
            hit_of(self.cut).score
        }
    }

    #[inline]
    pub(crate) fn offer(&mut self, keys: &mut Vec<u64>, key: u64) {
        if key < self.cut {
            keys.push(key);
            if keys.len() >= self.cap {
                keys.select_nth_unstable(self.k - 1);
                keys.truncate(self.k);
                self.cut = keys[self.k - 1];
            }
        }
    }
}

/// The best `k` of `keys` (see [`rank_key`]; any order on input), best first. `keys` is used
/// as scratch.
pub(crate) fn top_k_keys(keys: &mut Vec<u64>, k: usize) -> Vec<Hit> {
    if k == 0 {
        return Vec::new();
    }
    if keys.len() > k {
        keys.select_nth_unstable(k - 1);
        keys.truncate(k);
    }
    keys.sort_unstable();
    keys.iter().map(|&key| hit_of(key)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(doc: u32, score: f32) -> Hit {
        Hit { doc, score }
    }

    fn top_k(hits: &[Hit], k: usize) -> Vec<Hit> {
        let mut keys = hits.iter().map(|h| rank_key(h.score, h.doc)).collect();
        top_k_keys(&mut keys, k)
    }

    #[test]
    fn orders_by_score_then_lower_doc() {
        let hits = vec![h(5, 1.0), h(2, 3.0), h(9, 3.0), h(1, 1.0), h(7, 2.0)];
        let got = top_k(&hits, 3);
        assert_eq!(got, vec![h(2, 3.0), h(9, 3.0), h(7, 2.0)]);
        let all = top_k(&hits, 10);
        assert_eq!(
            all.iter().map(|h| h.doc).collect::<Vec<_>>(),
            vec![2, 9, 7, 1, 5]
        );
    }

    #[test]
    fn ties_at_the_cut_keep_the_lower_ordinal() {
        let hits: Vec<Hit> = (0..100).rev().map(|d| h(d, 1.0)).collect();
        let got = top_k(&hits, 5);
        assert_eq!(
            got.iter().map(|h| h.doc).collect::<Vec<_>>(),
            vec![0, 1, 2, 3, 4]
        );
        assert!(top_k(&[h(1, 1.0)], 0).is_empty());
    }

    #[test]
    fn keys_round_trip_and_follow_total_order_for_negative_and_zero_scores() {
        // Robertson's idf goes negative for terms in more than half the documents.
        let scores = [
            -3.5f32,
            -0.0,
            0.0,
            1e-30,
            f32::MIN_POSITIVE,
            2.25,
            f32::MAX,
            -f32::MAX,
        ];
        for &s in &scores {
            let back = hit_of(rank_key(s, 42));
            assert_eq!(back.score.to_bits(), s.to_bits());
            assert_eq!(back.doc, 42);
        }
        for &a in &scores {
            for &b in &scores {
                let by_key = rank_key(a, 0).cmp(&rank_key(b, 0));
                assert_eq!(by_key, b.total_cmp(&a), "{a} vs {b}");
            }
        }
    }
}
