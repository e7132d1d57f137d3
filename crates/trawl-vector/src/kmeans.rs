//! Seeded k-means (Lloyd) the way FAISS trains: at most `max_points_per_centroid` (256) training
//! points per centroid, sampled without replacement; centroids start at distinct random points;
//! an emptied cluster takes half of the largest one (a perturbed copy of its centroid).
//!
//! Assignment (the cost) runs on all rayon threads, one block of points per task, through the
//! flat index's gemm kernel; each point's choice depends only on the centroids, and centroids are
//! summed in point order on one thread, so the result is the same for any thread count.

use rayon::prelude::*;

use crate::flat::scores_block;
use crate::rng::SplitMix64;
use crate::{Error, Result};

/// How k-means trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KMeansParams {
    pub iterations: usize,
    pub max_points_per_centroid: usize,
    pub seed: u64,
    /// Scale the centroids to unit length after every iteration (FAISS's `spherical`, which
    /// its IVF indexes turn on for inner-product search).
    pub spherical: bool,
}

impl Default for KMeansParams {
    fn default() -> Self {
        KMeansParams {
            iterations: 20,
            max_points_per_centroid: 256,
            seed: 1234,
            spherical: false,
        }
    }
}

const BLOCK: usize = 256;

/// `k` centroids (`k * dim` values) of the `data.len() / dim` points in `data`.
pub fn kmeans(data: &[f32], dim: usize, k: usize, p: &KMeansParams) -> Result<Vec<f32>> {
    let n = data.len() / dim;
    if k == 0 {
        return Err(Error::InvalidParams(
            "k-means needs at least 1 centroid".into(),
        ));
    }
    if n < k {
        return Err(Error::InvalidParams(format!(
            "too few training vectors: {n} vectors cannot train {k} centroids (need at least {k})"
        )));
    }
    let mut rng = SplitMix64::new(p.seed);
    let limit = k.saturating_mul(p.max_points_per_centroid.max(1));
    let sample: std::borrow::Cow<'_, [f32]> = if n > limit {
        let idx = sample_indices(n, limit, &mut rng);
        let mut s = Vec::with_capacity(limit * dim);
        for i in idx {
            s.extend_from_slice(&data[i * dim..(i + 1) * dim]);
        }
        s.into()
    } else {
        data.into()
    };
    let n = sample.len() / dim;
    let mut centroids = Vec::with_capacity(k * dim);
    for i in sample_indices(n, k, &mut rng) {
        centroids.extend_from_slice(&sample[i * dim..(i + 1) * dim]);
    }
    let mut assign = vec![0u32; n];
    for _ in 0..p.iterations {
        assign_nearest(&sample, dim, &centroids, &mut assign);
        let mut sums = vec![0f64; k * dim];
        let mut counts = vec![0usize; k];
        for (i, &c) in assign.iter().enumerate() {
            let c = c as usize;
            counts[c] += 1;
            let row = &sample[i * dim..(i + 1) * dim];
            for (s, &x) in sums[c * dim..(c + 1) * dim].iter_mut().zip(row) {
                *s += f64::from(x);
            }
        }
        for c in 0..k {
            if counts[c] > 0 {
                for d in 0..dim {
                    centroids[c * dim + d] = (sums[c * dim + d] / counts[c] as f64) as f32;
                }
            }
        }
        split_empty(&mut centroids, &mut counts, dim);
        if p.spherical {
            crate::normalize_rows(&mut centroids, dim);
        }
    }
    Ok(centroids)
}

/// `count` distinct indices of `0..n`, in draw order (partial Fisher-Yates).
fn sample_indices(n: usize, count: usize, rng: &mut SplitMix64) -> Vec<usize> {
    let mut perm: Vec<usize> = (0..n).collect();
    for i in 0..count.min(n) {
        let j = i + rng.below(n - i);
        perm.swap(i, j);
    }
    perm.truncate(count.min(n));
    perm
}

/// FAISS's fix for an empty cluster: copy the centroid of the largest cluster, nudge the two
/// copies apart symmetrically, and give each half of its points.
fn split_empty(centroids: &mut [f32], counts: &mut [usize], dim: usize) {
    const EPS: f32 = 1.0 / 1024.0;
    for c in 0..counts.len() {
        if counts[c] != 0 {
            continue;
        }
        let big = (0..counts.len())
            .max_by_key(|&j| (counts[j], std::cmp::Reverse(j)))
            .expect("k >= 1");
        if counts[big] < 2 {
            continue;
        }
        for d in 0..dim {
            let v = centroids[big * dim + d];
            let sign = if d % 2 == 0 { 1.0 } else { -1.0 };
            centroids[c * dim + d] = v * (1.0 + sign * EPS);
            centroids[big * dim + d] = v * (1.0 - sign * EPS);
        }
        counts[c] = counts[big] / 2;
        counts[big] -= counts[c];
    }
}

/// Squared norms of the rows.
pub(crate) fn norms(rows: &[f32], dim: usize) -> Vec<f32> {
    rows.chunks_exact(dim)
        .map(|r| r.iter().map(|x| x * x).sum())
        .collect()
}

/// For every point, the centroid nearest in L2 (ties: lower index), on all threads.
pub(crate) fn assign_nearest(points: &[f32], dim: usize, centroids: &[f32], out: &mut [u32]) {
    let k = centroids.len() / dim;
    let cn = norms(centroids, dim);
    out.par_chunks_mut(BLOCK).enumerate().for_each(|(b, out)| {
        let p0 = b * BLOCK;
        let nb = out.len();
        let mut dots = vec![0f32; nb * k];
        scores_block(
            &points[p0 * dim..(p0 + nb) * dim],
            centroids,
            nb,
            k,
            dim,
            &mut dots,
        );
        for (i, o) in out.iter_mut().enumerate() {
            let row = &dots[i * k..(i + 1) * k];
            // ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2; ||x||^2 is the same for every c.
            let mut best = 0usize;
            let mut best_d = f32::INFINITY;
            for (c, (&dot, &norm)) in row.iter().zip(&cn).enumerate() {
                let d = norm - 2.0 * dot;
                if d < best_d {
                    best_d = d;
                    best = c;
                }
            }
            *o = best as u32;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_well_separated_clusters_and_is_reproducible_from_its_seed() {
        // Three tight blobs around (0,0), (10,0), (0,10).
        let mut rng = SplitMix64::new(3);
        let mut data = Vec::new();
        for i in 0..600 {
            let (cx, cy) = [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0)][i % 3];
            data.push(cx + (rng.next_f64_open0() as f32 - 0.5));
            data.push(cy + (rng.next_f64_open0() as f32 - 0.5));
        }
        let p = KMeansParams::default();
        let c = kmeans(&data, 2, 3, &p).unwrap();
        let mut found: Vec<(i32, i32)> = c
            .chunks(2)
            .map(|r| (r[0].round() as i32, r[1].round() as i32))
            .collect();
        found.sort();
        assert_eq!(found, vec![(0, 0), (0, 10), (10, 0)]);
        assert_eq!(kmeans(&data, 2, 3, &p).unwrap(), c);
        let err = kmeans(&data[..4], 2, 3, &p).unwrap_err().to_string();
        assert!(err.contains("2 vectors cannot train 3 centroids"), "{err}");
    }

    #[test]
    fn spherical_centroids_have_unit_length_and_point_at_their_clusters() {
        // Two blobs of unit vectors around the x and y axes: plain means fall inside the
        // circle, spherical ones on it, in the same directions.
        let mut rng = SplitMix64::new(5);
        let mut data = Vec::new();
        for i in 0..400 {
            let a = (i % 2) as f32 * std::f32::consts::FRAC_PI_2
                + (rng.next_f64_open0() as f32 - 0.5) * 0.8;
            data.extend([a.cos(), a.sin()]);
        }
        let plain = kmeans(&data, 2, 2, &KMeansParams::default()).unwrap();
        let p = KMeansParams {
            spherical: true,
            ..Default::default()
        };
        let sph = kmeans(&data, 2, 2, &p).unwrap();
        for (a, b) in plain.chunks(2).zip(sph.chunks(2)) {
            let (na, nb) = (a[0].hypot(a[1]), b[0].hypot(b[1]));
            assert!(na < 0.99, "plain centroid {a:?} has length {na}");
            assert!(
                (nb - 1.0).abs() < 1e-5,
                "spherical centroid {b:?} has length {nb}"
            );
            assert!((a[0] / na - b[0]).abs() < 1e-3 && (a[1] / na - b[1]).abs() < 1e-3);
        }
    }
}
