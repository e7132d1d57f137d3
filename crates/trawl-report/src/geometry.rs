//! Embedding-space statistics: average pairwise cosine, the covariance eigenvalue spectrum,
//! effective rank, IsoScore, and Wang & Isola's alignment and uniformity. Plain f64 math on a
//! row-major `n x d` matrix; no dependencies.
//!
//! - Effective rank (Roy & Vetterli 2007): exp of the entropy of the singular values of the
//!   (uncentred) embedding matrix normalised to sum 1: `d` for an isotropic cloud, 1 when all
//!   vectors are equal.
//! - IsoScore (Rudman et al. 2022): from the covariance eigenvalues (the variances along the
//!   principal axes): 1 when isotropic, 0 when all variance lies on one axis.
//! - Alignment: mean `||f(x) - f(y)||^2` over positive pairs; uniformity: `log E exp(-2 ||f(x) -
//!   f(y)||^2)` over distinct pairs; both on L2-normalised vectors (Wang & Isola 2020, α = 2, t = 2).

use serde::Serialize;

use crate::error::{Error, Result};

/// The `format` of the JSON `trawl embeddings stats` writes (an input of `trawl report`).
pub const STATS_FORMAT: &str = "trawl-embedding-stats";

/// Uniformity is computed on at most this many vectors (the first ones): it is quadratic.
pub const UNIFORMITY_SAMPLE: usize = 2000;

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct EmbeddingStats {
    pub num_vectors: usize,
    pub dim: usize,
    pub mean_pairwise_cosine: f64,
    /// Covariance eigenvalues, largest first.
    pub covariance_eigenvalues: Vec<f64>,
    pub effective_rank: f64,
    pub isoscore: f64,
    pub uniformity: f64,
    /// Present when positive pairs were given.
    pub alignment: Option<f64>,
}

/// Statistics of `rows` (n vectors of dimension `dim`, row-major); `pairs`: positive pairs as
/// (query vector, document vector) slices of the same dimension.
pub fn embedding_stats(
    rows: &[f32],
    dim: usize,
    pairs: Option<(&[f32], &[f32])>,
) -> Result<EmbeddingStats> {
    if dim == 0 || !rows.len().is_multiple_of(dim) {
        return Err(Error::Invalid(format!(
            "{} values are not a whole number of {dim}-dimensional vectors",
            rows.len()
        )));
    }
    let n = rows.len() / dim;
    if n < 2 {
        return Err(Error::Invalid(format!(
            "embedding statistics need at least 2 vectors, got {n} (is the corpus empty?)"
        )));
    }
    let x: Vec<Vec<f64>> = rows
        .chunks_exact(dim)
        .map(|r| r.iter().map(|&v| f64::from(v)).collect())
        .collect();
    let unit: Vec<Vec<f64>> = x.iter().map(|r| normalised(r)).collect();

    // Mean cosine over i != j: (||sum u||^2 - sum ||u||^2) / (n (n - 1)).
    let mut sum = vec![0.0; dim];
    let mut norms = 0.0;
    for u in &unit {
        for (s, v) in sum.iter_mut().zip(u) {
            *s += v;
        }
        norms += dot(u, u);
    }
    let mean_pairwise_cosine = (dot(&sum, &sum) - norms) / (n as f64 * (n as f64 - 1.0));

    // Second moment X^T X (for singular values) and covariance.
    let mean: Vec<f64> = (0..dim)
        .map(|j| x.iter().map(|r| r[j]).sum::<f64>() / n as f64)
        .collect();
    let mut gram = vec![0.0; dim * dim];
    for r in &x {
        for i in 0..dim {
            for j in i..dim {
                gram[i * dim + j] += r[i] * r[j];
            }
        }
    }
    let mut cov = vec![0.0; dim * dim];
    for i in 0..dim {
        for j in i..dim {
            let c = (gram[i * dim + j] - n as f64 * mean[i] * mean[j]) / (n as f64 - 1.0);
            cov[i * dim + j] = c;
            cov[j * dim + i] = c;
            gram[j * dim + i] = gram[i * dim + j];
        }
    }
    let singular: Vec<f64> = symmetric_eigenvalues(gram, dim)
        .into_iter()
        .map(|l| l.max(0.0).sqrt())
        .collect();
    let mut eig: Vec<f64> = symmetric_eigenvalues(cov, dim)
        .into_iter()
        .map(|l| l.max(0.0))
        .collect();
    eig.sort_by(|a, b| b.total_cmp(a));

    let alignment = match pairs {
        None => None,
        Some((a, b)) => {
            if a.len() != b.len() || a.is_empty() || !a.len().is_multiple_of(dim) {
                return Err(Error::Invalid(format!(
                    "positive pairs need two equally long lists of {dim}-dimensional vectors ({} and {} values)",
                    a.len(),
                    b.len()
                )));
            }
            let m = a.len() / dim;
            let total: f64 = a
                .chunks_exact(dim)
                .zip(b.chunks_exact(dim))
                .map(|(p, q)| {
                    let p = normalised(&p.iter().map(|&v| f64::from(v)).collect::<Vec<_>>());
                    let q = normalised(&q.iter().map(|&v| f64::from(v)).collect::<Vec<_>>());
                    p.iter()
                        .zip(&q)
                        .map(|(u, v)| (u - v) * (u - v))
                        .sum::<f64>()
                })
                .sum();
            Some(total / m as f64)
        }
    };

    Ok(EmbeddingStats {
        num_vectors: n,
        dim,
        mean_pairwise_cosine,
        effective_rank: effective_rank(&singular),
        isoscore: isoscore(&eig),
        uniformity: uniformity(&unit[..n.min(UNIFORMITY_SAMPLE)]),
        covariance_eigenvalues: eig,
        alignment,
    })
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn normalised(r: &[f64]) -> Vec<f64> {
    let n = dot(r, r).sqrt();
    if n == 0.0 {
        r.to_vec()
    } else {
        r.iter().map(|v| v / n).collect()
    }
}

/// exp(entropy) of `values / sum(values)` (0 when all are 0).
pub fn effective_rank(values: &[f64]) -> f64 {
    let total: f64 = values.iter().sum();
    if total <= 0.0 {
        return 0.0;
    }
    let h: f64 = values
        .iter()
        .map(|v| v / total)
        .filter(|&p| p > 0.0)
        .map(|p| -p * p.ln())
        .sum();
    h.exp()
}

/// IsoScore from the variances along the principal axes (Rudman et al. 2022, Algorithm 1).
pub fn isoscore(variances: &[f64]) -> f64 {
    let n = variances.len() as f64;
    let norm = dot(variances, variances).sqrt();
    if n < 2.0 || norm == 0.0 {
        return 0.0;
    }
    let defect = variances
        .iter()
        .map(|v| (n.sqrt() * v / norm - 1.0).powi(2))
        .sum::<f64>()
        .sqrt()
        / (2.0 * (n - n.sqrt())).sqrt();
    let phi = (n - defect * defect * (n - n.sqrt())).powi(2) / (n * n);
    ((n * phi - 1.0) / (n - 1.0)).clamp(0.0, 1.0)
}

/// log of the mean of exp(-2 ||u - v||^2) over distinct pairs of unit vectors (log-sum-exp).
fn uniformity(unit: &[Vec<f64>]) -> f64 {
    let mut terms = Vec::with_capacity(unit.len() * (unit.len() - 1) / 2);
    for i in 0..unit.len() {
        for j in i + 1..unit.len() {
            let sq = (2.0 - 2.0 * dot(&unit[i], &unit[j])).max(0.0);
            terms.push(-2.0 * sq);
        }
    }
    let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let s: f64 = terms.iter().map(|t| (t - max).exp()).sum();
    max + (s / terms.len() as f64).ln()
}

/// Eigenvalues of a symmetric `d x d` matrix (row-major) by cyclic Jacobi rotations.
pub fn symmetric_eigenvalues(mut a: Vec<f64>, d: usize) -> Vec<f64> {
    for _sweep in 0..100 {
        let off: f64 = (0..d)
            .flat_map(|i| (0..d).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * d + j] * a[i * d + j])
            .sum();
        let scale: f64 = (0..d).map(|i| a[i * d + i] * a[i * d + i]).sum::<f64>() + off;
        if off <= 1e-24 * scale.max(1e-300) {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = a[p * d + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * d + q] - a[p * d + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..d {
                    let akp = a[k * d + p];
                    let akq = a[k * d + q];
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for k in 0..d {
                    let apk = a[p * d + k];
                    let aqk = a[q * d + k];
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
            }
        }
    }
    (0..d).map(|i| a[i * d + i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Standard normal samples by Box-Muller over a fixed LCG (deterministic, no dependency).
    fn gaussian(n: usize, d: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        let mut uniform = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        (0..n * d)
            .map(|_| {
                let (u, v) = (uniform(), uniform());
                ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32
            })
            .collect()
    }

    #[test]
    fn jacobi_finds_known_eigenvalues() {
        // [[2,1],[1,2]] has eigenvalues 1 and 3; a diagonal matrix its diagonal.
        let mut e = symmetric_eigenvalues(vec![2.0, 1.0, 1.0, 2.0], 2);
        e.sort_by(f64::total_cmp);
        assert!(
            (e[0] - 1.0).abs() < 1e-12 && (e[1] - 3.0).abs() < 1e-12,
            "{e:?}"
        );
        let mut e = symmetric_eigenvalues(vec![4.0, 1.0, 0.0, 1.0, 3.0, 1.0, 0.0, 1.0, 2.0], 3);
        e.sort_by(f64::total_cmp);
        // numpy.linalg.eigvalsh([[4,1,0],[1,3,1],[0,1,2]]) = [1.26794919, 3.0, 4.73205081]
        for (got, want) in e.iter().zip([1.2679491924311228, 3.0, 4.732050807568877]) {
            assert!((got - want).abs() < 1e-10, "{e:?}");
        }
    }

    #[test]
    fn isotropic_gaussian_has_full_rank_and_isoscore_near_one() {
        let d = 16;
        let s = embedding_stats(&gaussian(4000, d, 1), d, None).unwrap();
        assert!(s.effective_rank > 0.98 * d as f64, "{}", s.effective_rank);
        assert!(s.isoscore > 0.97, "{}", s.isoscore);
        assert!(
            s.mean_pairwise_cosine.abs() < 0.01,
            "{}",
            s.mean_pairwise_cosine
        );
        // Every covariance eigenvalue near the variance 1.
        assert!(s
            .covariance_eigenvalues
            .iter()
            .all(|&l| (l - 1.0).abs() < 0.2));
        // Uniform on the sphere in d dims: E exp(-2|u-v|^2) = e^-4 E e^{4 u.v}; for d = 16 the
        // log is about -4 + 8/16 = -3.5 (second-order expansion); it must be far below 0.
        assert!(
            s.uniformity < -3.2 && s.uniformity > -3.8,
            "{}",
            s.uniformity
        );
    }

    #[test]
    fn equal_vectors_have_rank_one_and_isoscore_zero() {
        let v: Vec<f32> = (0..8).map(|i| i as f32 + 1.0).collect();
        let rows: Vec<f32> = (0..50).flat_map(|_| v.clone()).collect();
        let s = embedding_stats(&rows, 8, Some((&v, &v))).unwrap();
        assert!(
            (s.effective_rank - 1.0).abs() < 1e-6,
            "{}",
            s.effective_rank
        );
        assert!((s.mean_pairwise_cosine - 1.0).abs() < 1e-12);
        assert!(s.covariance_eigenvalues.iter().all(|&l| l.abs() < 1e-9));
        assert_eq!(s.isoscore, 0.0);
        assert_eq!(s.alignment, Some(0.0));
        assert!(
            s.uniformity.abs() < 1e-12,
            "all pairs at distance 0: log 1 = 0"
        );
    }

    #[test]
    fn variance_on_one_axis_scores_zero_and_bad_input_is_refused() {
        assert!(isoscore(&[5.0, 0.0, 0.0, 0.0]) < 1e-12);
        assert!((isoscore(&[2.0, 2.0, 2.0, 2.0]) - 1.0).abs() < 1e-12);
        assert!((effective_rank(&[1.0, 1.0, 1.0]) - 3.0).abs() < 1e-12);
        let err = embedding_stats(&[], 4, None).unwrap_err().to_string();
        assert!(
            err.contains("at least 2 vectors, got 0 (is the corpus empty?)"),
            "{err}"
        );
        assert!(embedding_stats(&[1.0; 5], 4, None).is_err());
        let a = [1.0f32, 0.0];
        let b = [0.0f32, 1.0];
        // Orthogonal unit vectors: |a - b|^2 = 2.
        let s = embedding_stats(&[1.0, 0.0, 0.0, 1.0], 2, Some((&a, &b))).unwrap();
        assert!((s.alignment.unwrap() - 2.0).abs() < 1e-12);
    }
}
