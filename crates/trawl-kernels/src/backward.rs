//! Backward-pass kernels (training only). Each is the derivative of a kernel in
//! [`crate::rows`]; the tests compare them with finite differences of that kernel.

use crate::math::{dot, gelu_grad, sum};

/// LayerNorm backward for rows `y = xhat * gamma + beta`, given `dy`:
/// `dx = rstd * (g - mean(g) - xhat * mean(g * xhat))` with `g = dy * gamma`; adds the
/// parameter gradients into `dgamma`/`dbeta`. When `dmasked` is not empty it also receives
/// `dx * mask * keep_scale` (the gradient before the dropout that fed this LayerNorm; an empty
/// `mask` means no dropout).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn layer_norm_backward_generic(
    dy: &[f32],
    xhat: &[f32],
    rstd: &[f32],
    gamma: &[f32],
    dx: &mut [f32],
    mask: &[u8],
    keep_scale: f32,
    dmasked: &mut [f32],
    dgamma: &mut [f32],
    dbeta: &mut [f32],
) {
    let h = gamma.len();
    let n = h as f32;
    let mut g = vec![0f32; h];
    for (r, dxr) in dx.chunks_exact_mut(h).enumerate() {
        let span = r * h..(r + 1) * h;
        let (dyr, xr) = (&dy[span.clone()], &xhat[span.clone()]);
        for ((((gv, d), w), x), (dg, db)) in g
            .iter_mut()
            .zip(dyr)
            .zip(gamma)
            .zip(xr)
            .zip(dgamma.iter_mut().zip(dbeta.iter_mut()))
        {
            *gv = d * w;
            *dg += d * x;
            *db += d;
        }
        let m1 = sum(&g) / n;
        let m2 = dot(&g, xr) / n;
        let inv = rstd[r];
        for ((o, gv), x) in dxr.iter_mut().zip(&g).zip(xr) {
            *o = inv * (gv - m1 - x * m2);
        }
        if !dmasked.is_empty() {
            let out = &mut dmasked[span.clone()];
            if mask.is_empty() {
                out.copy_from_slice(dxr);
            } else {
                for ((o, d), &m) in out.iter_mut().zip(dxr.iter()).zip(&mask[span]) {
                    *o = d * (m as f32 * keep_scale);
                }
            }
        }
    }
}

/// `d *= gelu'(pre)`: the gradient through GELU, in place.
#[inline(always)]
fn gelu_backward_generic(d: &mut [f32], pre: &[f32]) {
    for (g, x) in d.iter_mut().zip(pre) {
        *g *= gelu_grad(*x);
    }
}

/// Softmax backward per row of width `cols`, through an optional dropout of the
/// probabilities: `d = d * mask * keep_scale`, then `d = p * (d - <d, p>)`.
#[inline(always)]
fn softmax_backward_rows_generic(
    p: &[f32],
    mask: &[u8],
    keep_scale: f32,
    d: &mut [f32],
    cols: usize,
) {
    for (r, (dr, pr)) in d
        .chunks_exact_mut(cols)
        .zip(p.chunks_exact(cols))
        .enumerate()
    {
        if !mask.is_empty() {
            for (v, &m) in dr.iter_mut().zip(&mask[r * cols..(r + 1) * cols]) {
                *v *= m as f32 * keep_scale;
            }
        }
        let c = dot(dr, pr);
        for (v, pv) in dr.iter_mut().zip(pr) {
            *v = pv * (*v - c);
        }
    }
}

/// `acc[c] += sum over rows of x[r][c]` (rows of width `acc.len()`): a bias gradient.
#[inline(always)]
fn add_column_sums_generic(x: &[f32], acc: &mut [f32]) {
    for row in x.chunks_exact(acc.len()) {
        for (a, v) in acc.iter_mut().zip(row) {
            *a += v;
        }
    }
}

dispatched!(
    /// LayerNorm backward (see the generic version's documentation).
    layer_norm_backward => layer_norm_backward_generic(dy: &[f32], xhat: &[f32], rstd: &[f32], gamma: &[f32], dx: &mut [f32], mask: &[u8], keep_scale: f32, dmasked: &mut [f32], dgamma: &mut [f32], dbeta: &mut [f32])
);
dispatched!(
    /// `d *= gelu'(pre)` in place.
    gelu_backward => gelu_backward_generic(d: &mut [f32], pre: &[f32])
);
dispatched!(
    /// Softmax (+ dropout) backward per row: `d = p * (d*mask*s - <d*mask*s, p>)`.
    softmax_backward_rows => softmax_backward_rows_generic(p: &[f32], mask: &[u8], keep_scale: f32, d: &mut [f32], cols: usize)
);
dispatched!(
    /// Column sums of row-major `x` added into `acc`.
    add_column_sums => add_column_sums_generic(x: &[f32], acc: &mut [f32])
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::{dropout_residual_layer_norm, softmax_rows};

    fn wave(n: usize, f: f32) -> Vec<f32> {
        (0..n).map(|i| (i as f32 * f + 0.3).sin()).collect()
    }

    /// Central difference of `loss(x) = <w, f(x)>` at each coordinate, in f64 on f32 kernels.
    fn numeric_grad(x: &[f32], w: &[f32], f: &dyn Fn(&[f32]) -> Vec<f32>) -> Vec<f32> {
        let eps = 1e-2f32;
        (0..x.len())
            .map(|i| {
                let (mut a, mut b) = (x.to_vec(), x.to_vec());
                a[i] += eps;
                b[i] -= eps;
                let la: f64 = f(&a).iter().zip(w).map(|(y, w)| (y * w) as f64).sum();
                let lb: f64 = f(&b).iter().zip(w).map(|(y, w)| (y * w) as f64).sum();
                ((la - lb) / (2.0 * eps as f64)) as f32
            })
            .collect()
    }

    fn assert_close(got: &[f32], want: &[f32], tol: f32, what: &str) {
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g - w).abs() <= tol * (1.0 + w.abs()),
                "{what}[{i}]: {g} vs {w}"
            );
        }
    }

    #[test]
    fn layer_norm_backward_matches_finite_differences() {
        let (rows, h) = (3, 20);
        let x: Vec<f32> = wave(rows * h, 0.7).iter().map(|v| v * 2.0).collect();
        let gamma: Vec<f32> = wave(h, 0.3).iter().map(|v| 1.0 + 0.5 * v).collect();
        let beta = wave(h, 0.9);
        let dy = wave(rows * h, 1.3);
        let ln = |x: &[f32]| {
            let mut y = x.to_vec();
            let (mut xh, mut rs) = (vec![0f32; x.len()], vec![0f32; rows]);
            dropout_residual_layer_norm(
                &mut y,
                &[],
                1.0,
                &[],
                &gamma,
                &beta,
                1e-5,
                &mut xh,
                &mut rs,
            );
            (y, xh, rs)
        };
        let (_, xhat, rstd) = ln(&x);
        let mut dx = vec![0f32; x.len()];
        let mask: Vec<u8> = (0..x.len()).map(|i| (i % 3 != 0) as u8).collect();
        let mut dmasked = vec![0f32; x.len()];
        let (mut dg, mut db) = (vec![0f32; h], vec![0f32; h]);
        layer_norm_backward(
            &dy,
            &xhat,
            &rstd,
            &gamma,
            &mut dx,
            &mask,
            1.5,
            &mut dmasked,
            &mut dg,
            &mut db,
        );
        let want = numeric_grad(&x, &dy, &|x| ln(x).0);
        assert_close(&dx, &want, 2e-3, "dx");
        for i in 0..x.len() {
            assert_eq!(dmasked[i], dx[i] * mask[i] as f32 * 1.5);
        }
        // dgamma = sum_r dy * xhat, dbeta = sum_r dy.
        for c in 0..h {
            let wg: f32 = (0..rows).map(|r| dy[r * h + c] * xhat[r * h + c]).sum();
            let wb: f32 = (0..rows).map(|r| dy[r * h + c]).sum();
            assert!((dg[c] - wg).abs() < 1e-5 && (db[c] - wb).abs() < 1e-5);
        }
    }

    #[test]
    fn softmax_and_gelu_backward_match_finite_differences() {
        let cols = 7;
        let x: Vec<f32> = wave(2 * cols, 0.9).iter().map(|v| v * 3.0).collect();
        let w = wave(2 * cols, 0.4);
        let mask: Vec<u8> = (0..2 * cols).map(|i| (i % 4 != 1) as u8).collect();
        // loss = <w, dropout(softmax(x))>
        let f = |x: &[f32]| {
            let mut p = x.to_vec();
            softmax_rows(&mut p, cols);
            p.iter()
                .zip(&mask)
                .map(|(v, &m)| v * m as f32 * 1.25)
                .collect()
        };
        let mut p = x.clone();
        softmax_rows(&mut p, cols);
        let mut d = w.clone();
        softmax_backward_rows(&p, &mask, 1.25, &mut d, cols);
        assert_close(&d, &numeric_grad(&x, &w, &f), 2e-3, "softmax");

        let pre = wave(50, 0.5).iter().map(|v| v * 4.0).collect::<Vec<_>>();
        let mut d = wave(50, 0.2);
        let want = numeric_grad(&pre, &d, &|x| {
            x.iter().map(|v| crate::math::gelu(*v)).collect()
        });
        gelu_backward(&mut d, &pre);
        assert_close(&d, &want, 2e-3, "gelu");

        let mut acc = vec![1.0f32, 2.0];
        add_column_sums(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &mut acc);
        assert_eq!(acc, vec![10.0, 14.0]);
    }
}
