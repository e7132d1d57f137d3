//! MPNet's relative position buckets (transformers' `MPNetEncoder.relative_position_bucket`,
//! which the encoder always calls with 32 buckets and a maximum distance of 128), computed in f32
//! as PyTorch does so the bucket edges fall where they fall there.

/// The bucket count transformers uses for MPNet, whatever the config says.
pub(crate) const BUCKETS: usize = 32;
const MAX_DISTANCE: f64 = 128.0;

/// The bucket of key position `j` seen from query position `i` (`rel = j - i`).
pub(crate) fn bucket(rel: i64) -> usize {
    let half = (BUCKETS / 2) as i64;
    let n = -rel;
    let mut ret = if n < 0 { half } else { 0 };
    let n = n.abs();
    let max_exact = half / 2;
    ret += if n < max_exact {
        n
    } else {
        let log_ratio = (n as f32 / max_exact as f32).ln();
        let scale = (MAX_DISTANCE / max_exact as f64).ln() as f32;
        let large = max_exact + (log_ratio / scale * (half - max_exact) as f32) as i64;
        large.min(half - 1)
    };
    ret as usize
}

/// `out[(j - i) + len - 1]` = the bucket of relative distance `j - i`, for sequences up to `len`.
pub fn relative_buckets_up_to(len: usize) -> Vec<usize> {
    let len = len as i64;
    (-(len - 1)..len).map(bucket).collect()
}

/// The bucket of every (query `i`, key `j`) pair of a sequence of `len` tokens, row-major
/// (`len * len`): the rows of the `(buckets, heads)` bias table a padded batch gathers.
pub fn relative_bucket_matrix(len: usize) -> Vec<u32> {
    let buckets = relative_buckets_up_to(len);
    (0..len)
        .flat_map(|i| (0..len).map(move |j| len - 1 + j - i))
        .map(|r| buckets[r] as u32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::bucket;

    #[test]
    fn buckets_match_transformers_at_the_edges() {
        // Values from transformers' MPNetEncoder.relative_position_bucket (torch f32).
        let cases = [
            (0, 0),
            (-1, 1),
            (-7, 7),
            (-8, 8),
            (-11, 8),
            (-12, 9),
            (-16, 10),
            (-32, 12),
            (-64, 14),
            (-127, 15),
            (-500, 15),
            (1, 17),
            (8, 24),
            (16, 26),
            (128, 31),
        ];
        for (rel, want) in cases {
            assert_eq!(bucket(rel), want, "relative position {rel}");
        }
    }
}
