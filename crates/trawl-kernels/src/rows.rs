//! Forward kernels over row-major matrices (one row per token).

use crate::math::{exp, gelu, max, sum};

#[inline(always)]
fn gelu_bias_rows_generic(x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len()) {
        for (v, b) in row.iter_mut().zip(bias) {
            *v = gelu(*v + b);
        }
    }
}

#[inline(always)]
fn softmax_rows_generic(x: &mut [f32], cols: usize) {
    for row in x.chunks_exact_mut(cols) {
        let m = max(row);
        for v in row.iter_mut() {
            *v = exp(*v - m);
        }
        let inv = 1.0 / sum(row);
        for v in row.iter_mut() {
            *v *= inv;
        }
    }
}

/// Mean and 1/sqrt(variance + eps) of one row (two passes, as PyTorch).
#[inline(always)]
fn row_stats(row: &[f32], eps: f32) -> (f32, f32) {
    const LANES: usize = 16;
    let n = row.len() as f32;
    let mean = sum(row) / n;
    let mut acc = [0f32; LANES];
    let chunks = row.chunks_exact(LANES);
    let rest: f32 = chunks
        .remainder()
        .iter()
        .map(|v| (v - mean) * (v - mean))
        .sum();
    for c in chunks {
        for i in 0..LANES {
            let d = c[i] - mean;
            acc[i] += d * d;
        }
    }
    let var = (acc.iter().sum::<f32>() + rest) / n;
    (mean, 1.0 / (var + eps).sqrt())
}

/// x = LayerNorm(x + y + bias) per row (y may be empty: plain LayerNorm of x).
#[inline(always)]
fn residual_layer_norm_generic(
    x: &mut [f32],
    y: &[f32],
    bias: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
) {
    let h = gamma.len();
    for (r, row) in x.chunks_exact_mut(h).enumerate() {
        if !y.is_empty() {
            let yr = &y[r * h..(r + 1) * h];
            for ((v, a), b) in row.iter_mut().zip(yr).zip(bias) {
                *v += a + b;
            }
        }
        let (mean, inv) = row_stats(row, eps);
        for ((v, g), b) in row.iter_mut().zip(gamma).zip(beta) {
            *v = (*v - mean) * inv * g + b;
        }
    }
}

/// Training LayerNorm: `x = LayerNorm(x * dropout + residual)` per row, keeping what the
/// backward pass needs (`xhat`, the normalised row before the affine map, and `rstd`).
/// `mask` (one byte per element, 1 = kept, kept values scaled by `keep_scale`) may be empty
/// (no dropout), and so may `residual`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn dropout_residual_layer_norm_generic(
    x: &mut [f32],
    mask: &[u8],
    keep_scale: f32,
    residual: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    xhat: &mut [f32],
    rstd: &mut [f32],
) {
    let h = gamma.len();
    for (r, row) in x.chunks_exact_mut(h).enumerate() {
        let span = r * h..(r + 1) * h;
        if !mask.is_empty() {
            for (v, &m) in row.iter_mut().zip(&mask[span.clone()]) {
                *v *= m as f32 * keep_scale;
            }
        }
        if !residual.is_empty() {
            for (v, a) in row.iter_mut().zip(&residual[span.clone()]) {
                *v += a;
            }
        }
        let (mean, inv) = row_stats(row, eps);
        rstd[r] = inv;
        for (((v, xh), g), b) in row.iter_mut().zip(&mut xhat[span]).zip(gamma).zip(beta) {
            *xh = (*v - mean) * inv;
            *v = *xh * g + b;
        }
    }
}

/// Training GELU: `pre += bias` in place (kept for the backward pass), `out = gelu(pre)`.
#[inline(always)]
fn bias_gelu_generic(pre: &mut [f32], bias: &[f32], out: &mut [f32]) {
    let w = bias.len();
    for (row, orow) in pre.chunks_exact_mut(w).zip(out.chunks_exact_mut(w)) {
        for ((v, b), o) in row.iter_mut().zip(bias).zip(orow.iter_mut()) {
            *v += b;
            *o = gelu(*v);
        }
    }
}

/// Dropout with a given mask: `out = x * mask * keep_scale`.
#[inline(always)]
fn apply_mask_generic(x: &[f32], mask: &[u8], keep_scale: f32, out: &mut [f32]) {
    for ((o, v), &m) in out.iter_mut().zip(x).zip(mask) {
        *o = v * (m as f32 * keep_scale);
    }
}

dispatched!(
    /// x[r][c] = gelu(x[r][c] + bias[c]) for rows of width bias.len().
    gelu_bias_rows => gelu_bias_rows_generic(x: &mut [f32], bias: &[f32])
);
dispatched!(
    /// Softmax of each row of width `cols`, in place.
    softmax_rows => softmax_rows_generic(x: &mut [f32], cols: usize)
);
dispatched!(
    /// x = LayerNorm(x + y + bias) row-wise (y empty: LayerNorm(x)).
    residual_layer_norm => residual_layer_norm_generic(x: &mut [f32], y: &[f32], bias: &[f32], gamma: &[f32], beta: &[f32], eps: f32)
);
dispatched!(
    /// x = LayerNorm(x * mask * keep_scale + residual) row-wise, saving `xhat` and `rstd`
    /// (empty `mask`: no dropout; empty `residual`: none).
    dropout_residual_layer_norm => dropout_residual_layer_norm_generic(x: &mut [f32], mask: &[u8], keep_scale: f32, residual: &[f32], gamma: &[f32], beta: &[f32], eps: f32, xhat: &mut [f32], rstd: &mut [f32])
);
dispatched!(
    /// pre += bias (row-wise, kept), out = gelu(pre).
    bias_gelu => bias_gelu_generic(pre: &mut [f32], bias: &[f32], out: &mut [f32])
);
dispatched!(
    /// out = x * mask * keep_scale (inverted dropout with a stored mask).
    apply_mask => apply_mask_generic(x: &[f32], mask: &[u8], keep_scale: f32, out: &mut [f32])
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_and_layer_norm_agree_with_plain_formulas() {
        let mut x: Vec<f32> = (0..70)
            .map(|i| ((i * 37) % 11) as f32 * 0.7 - 3.0)
            .collect();
        let orig = x.clone();
        softmax_rows(&mut x, 35);
        for r in 0..2 {
            let row = &orig[r * 35..(r + 1) * 35];
            let m = row.iter().cloned().fold(f32::MIN, f32::max);
            let z: f32 = row.iter().map(|v| (v - m).exp()).sum();
            for c in 0..35 {
                assert!((x[r * 35 + c] - (row[c] - m).exp() / z).abs() < 1e-6);
            }
        }
        let h = 40;
        let mut a: Vec<f32> = (0..2 * h).map(|i| (i as f32).sin()).collect();
        let y: Vec<f32> = (0..2 * h).map(|i| (i as f32 * 0.3).cos()).collect();
        let bias: Vec<f32> = (0..h).map(|i| i as f32 * 0.01).collect();
        let gamma: Vec<f32> = (0..h).map(|i| 1.0 + i as f32 * 0.02).collect();
        let beta: Vec<f32> = (0..h).map(|i| -(i as f32) * 0.03).collect();
        let expect: Vec<f32> = (0..2)
            .flat_map(|r| {
                let s: Vec<f64> = (0..h)
                    .map(|c| (a[r * h + c] + y[r * h + c] + bias[c]) as f64)
                    .collect();
                let mean = s.iter().sum::<f64>() / h as f64;
                let var = s.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / h as f64;
                let (g, b) = (gamma.clone(), beta.clone());
                (0..h).map(move |c| {
                    ((s[c] - mean) / (var + 1e-12).sqrt() * g[c] as f64 + b[c] as f64) as f32
                })
            })
            .collect();
        // The training variant on the same input (bias folded into x, y as the residual, no
        // dropout) gives the same rows and a consistent xhat.
        let mut t: Vec<f32> = a.iter().enumerate().map(|(i, v)| v + bias[i % h]).collect();
        let (mut xhat, mut rstd) = (vec![0f32; 2 * h], vec![0f32; 2]);
        dropout_residual_layer_norm(
            &mut t,
            &[],
            1.0,
            &y,
            &gamma,
            &beta,
            1e-12,
            &mut xhat,
            &mut rstd,
        );
        residual_layer_norm(&mut a, &y, &bias, &gamma, &beta, 1e-12);
        for ((got, want), tr) in a.iter().zip(&expect).zip(&t) {
            assert!((got - want).abs() < 1e-5, "{got} vs {want}");
            assert!((tr - want).abs() < 1e-5, "training LN {tr} vs {want}");
        }
        for (i, xh) in xhat.iter().enumerate() {
            let want = (t[i] - beta[i % h]) / gamma[i % h];
            assert!((xh - want).abs() < 1e-5);
        }
    }

    #[test]
    fn dropout_mask_zeroes_and_rescales() {
        let x = [1.0f32, 2.0, 3.0, 4.0];
        let mut out = [0f32; 4];
        apply_mask(&x, &[1, 0, 1, 0], 2.0, &mut out);
        assert_eq!(out, [2.0, 0.0, 6.0, 0.0]);
        let mut rows = vec![1.0f32; 4];
        let (mut xhat, mut rstd) = (vec![0f32; 4], vec![0f32; 2]);
        let (g, b) = ([1.0f32, 1.0], [0.0f32, 0.0]);
        dropout_residual_layer_norm(
            &mut rows,
            &[1, 0, 0, 1],
            2.0,
            &[],
            &g,
            &b,
            0.0,
            &mut xhat,
            &mut rstd,
        );
        assert_eq!(rows, vec![1.0, -1.0, -1.0, 1.0]);
        assert_eq!(rstd, vec![1.0, 1.0]);
    }
}
