//! Dense-layer products on row-major f32 matrices (one gemm each) and the row-parallel helpers
//! the encoder uses. `W` is a PyTorch Linear weight: `out x in`, row-major.

use rayon::prelude::*;

/// Rows per parallel task in row-wise kernels.
pub(crate) const ROW_BLOCK: usize = 64;

fn par(threads: usize) -> gemm::Parallelism {
    if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    }
}

/// A gemm operand: pointer, column stride, row stride.
pub(crate) type Operand = (*const f32, isize, isize);

/// `dst (m x n) = [dst +] beta * lhs (m x k) rhs (k x n)`, `dst` given by pointer and row
/// stride (unit column stride), the operands by pointer and (column, row) strides.
///
/// # Safety
/// Every element addressed through the strides must lie inside the caller's buffers, and no
/// other thread may touch the `dst` region meanwhile.
pub(crate) unsafe fn product(
    (m, n, k): (usize, usize, usize),
    dst: (*mut f32, isize),
    lhs: Operand,
    rhs: Operand,
    (accumulate, beta): (bool, f32),
    threads: usize,
) {
    gemm::gemm(
        m,
        n,
        k,
        dst.0,
        1,
        dst.1,
        accumulate,
        lhs.0,
        lhs.1,
        lhs.2,
        rhs.0,
        rhs.1,
        rhs.2,
        1.0,
        beta,
        false,
        false,
        false,
        par(threads),
    );
}

/// `y (t x out) = x (t x inp) W^T`, added to `y` when `accumulate`.
pub(crate) fn forward(
    y: &mut [f32],
    x: &[f32],
    w: &[f32],
    dims: (usize, usize, usize),
    accumulate: bool,
    threads: usize,
) {
    let (t, out, inp) = dims;
    assert!(y.len() >= t * out && x.len() >= t * inp && w.len() >= out * inp);
    // SAFETY: bounds asserted; W^T is read through strides (element (k, j) is w[j * inp + k]).
    unsafe {
        product(
            (t, out, inp),
            (y.as_mut_ptr(), out as isize),
            (x.as_ptr(), 1, inp as isize),
            (w.as_ptr(), inp as isize, 1),
            (accumulate, 1.0),
            threads,
        );
    }
}

/// `dx (t x inp) = dy (t x out) W`, added to `dx` when `accumulate`.
pub(crate) fn grad_input(
    dx: &mut [f32],
    dy: &[f32],
    w: &[f32],
    dims: (usize, usize, usize),
    accumulate: bool,
    threads: usize,
) {
    let (t, out, inp) = dims;
    assert!(dx.len() >= t * inp && dy.len() >= t * out && w.len() >= out * inp);
    // SAFETY: bounds asserted; all three row-major.
    unsafe {
        product(
            (t, inp, out),
            (dx.as_mut_ptr(), inp as isize),
            (dy.as_ptr(), 1, out as isize),
            (w.as_ptr(), 1, inp as isize),
            (accumulate, 1.0),
            threads,
        );
    }
}

/// `dw (out x inp) = dy^T (out x t) x (t x inp)`.
pub(crate) fn grad_weight(
    dw: &mut [f32],
    dy: &[f32],
    x: &[f32],
    dims: (usize, usize, usize),
    threads: usize,
) {
    let (t, out, inp) = dims;
    assert!(dw.len() >= out * inp && dy.len() >= t * out && x.len() >= t * inp);
    // SAFETY: bounds asserted; dy^T is read through strides (element (o, k) is dy[k * out + o]).
    unsafe {
        product(
            (out, inp, t),
            (dw.as_mut_ptr(), inp as isize),
            (dy.as_ptr(), out as isize, 1),
            (x.as_ptr(), 1, inp as isize),
            (false, 1.0),
            threads,
        );
    }
}

/// Column sums of row-major `x` (rows of width `w`): a bias gradient. Partial sums per fixed
/// block of rows are added in block order, so the result does not depend on scheduling.
pub(crate) fn column_sums(x: &[f32], w: usize) -> Vec<f32> {
    let partials: Vec<Vec<f32>> = x
        .par_chunks(ROW_BLOCK * 8 * w)
        .map(|rows| {
            let mut acc = vec![0f32; w];
            trawl_kernels::backward::add_column_sums(rows, &mut acc);
            acc
        })
        .collect();
    partials.into_iter().fold(vec![0f32; w], |mut a, b| {
        a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
        a
    })
}

/// Each row of `y` (width `bias.len()`) set to `bias`: the start of a biased product.
pub(crate) fn fill_rows(y: &mut [f32], bias: &[f32]) {
    y.par_chunks_mut(ROW_BLOCK * bias.len()).for_each(|rows| {
        for r in rows.chunks_exact_mut(bias.len()) {
            r.copy_from_slice(bias);
        }
    });
}

/// The `i`-th block of `len` elements of `s`, or an empty slice when `s` is empty (an absent
/// dropout mask).
pub(crate) fn block<T>(s: &[T], i: usize, len: usize) -> &[T] {
    if s.is_empty() {
        s
    } else {
        &s[i * len..((i + 1) * len).min(s.len())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize, at: bool, bt: bool) -> Vec<f32> {
        // a: m x k (stored k x m when at), b: k x n (stored n x k when bt)
        let mut c = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                for p in 0..k {
                    let av = if at { a[p * m + i] } else { a[i * k + p] };
                    let bv = if bt { b[j * k + p] } else { b[p * n + j] };
                    c[i * n + j] += av * bv;
                }
            }
        }
        c
    }

    #[test]
    fn products_match_naive_loops() {
        let (t, out, inp) = (7, 5, 3);
        let x: Vec<f32> = (0..t * inp).map(|i| (i as f32 * 0.3).sin()).collect();
        let w: Vec<f32> = (0..out * inp).map(|i| (i as f32 * 0.7).cos()).collect();
        let dy: Vec<f32> = (0..t * out).map(|i| (i as f32 * 0.2).sin()).collect();
        let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5);
        let mut y = vec![1f32; t * out];
        forward(&mut y, &x, &w, (t, out, inp), true, 2);
        let want: Vec<f32> = naive(&x, &w, t, inp, out, false, true)
            .iter()
            .map(|v| v + 1.0)
            .collect();
        assert!(close(&y, &want));
        let mut dx = vec![0f32; t * inp];
        grad_input(&mut dx, &dy, &w, (t, out, inp), false, 1);
        assert!(close(&dx, &naive(&dy, &w, t, out, inp, false, false)));
        let mut dw = vec![0f32; out * inp];
        grad_weight(&mut dw, &dy, &x, (t, out, inp), 2);
        assert!(close(&dw, &naive(&dy, &x, out, t, inp, true, false)));
        let sums = column_sums(&dy, out);
        for c in 0..out {
            let s: f32 = (0..t).map(|r| dy[r * out + c]).sum();
            assert!((sums[c] - s).abs() < 1e-5);
        }
    }
}
