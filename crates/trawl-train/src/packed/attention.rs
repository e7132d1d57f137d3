//! Self-attention of packed sequences, one task per (sequence, head), with no padding: `qkv` rows
//! are `[q | k | v]` (width `3h`), sequence `i` holds rows `starts[i]..starts[i + 1]`.
//! The forward pass keeps the probabilities (before dropout) for the backward pass.

use rayon::prelude::*;
use trawl_kernels::backward::softmax_backward_rows;
use trawl_kernels::rows::{apply_mask, softmax_rows};
use trawl_kernels::SharedMut;

use super::linear::{self, Operand};

/// Shapes of one attention call.
#[derive(Clone, Copy)]
pub(crate) struct Shape<'a> {
    pub starts: &'a [usize],
    pub heads: usize,
    pub hidden: usize,
    /// MPNet's relative position bias, added to the scaled scores before the softmax.
    pub bias: Option<RelativeBias<'a>>,
}

/// A `(buckets, heads)` bias table and the bucket of each relative distance
/// (`buckets[mid + j - i]`, `mid = buckets.len() / 2`; from
/// [`trawl_embed::relative_buckets_up_to`] for the longest sequence possible).
#[derive(Clone, Copy)]
pub(crate) struct RelativeBias<'a> {
    pub table: &'a [f32],
    pub buckets: &'a [usize],
}

impl RelativeBias<'_> {
    /// The table row (bucket) of every (query i, key j) pair of a sequence of `len` tokens.
    fn rows(&self, len: usize) -> impl Iterator<Item = usize> + '_ {
        let mid = self.buckets.len() / 2;
        assert!(
            len <= mid + 1,
            "sequence longer than the relative bucket map"
        );
        (0..len).flat_map(move |i| (0..len).map(move |j| self.buckets[mid + j - i]))
    }
}

impl Shape<'_> {
    fn head_dim(&self) -> usize {
        self.hidden / self.heads
    }

    /// Start of each sequence's block of probabilities (`heads` matrices of `len x len`) and
    /// the total length.
    pub fn prob_offsets(&self) -> (Vec<usize>, usize) {
        let mut off = Vec::with_capacity(self.starts.len());
        let mut total = 0;
        for w in self.starts.windows(2) {
            off.push(total);
            total += self.heads * (w[1] - w[0]) * (w[1] - w[0]);
        }
        (off, total)
    }

    fn jobs(&self) -> Vec<(usize, usize)> {
        (0..self.starts.len() - 1)
            .flat_map(|i| (0..self.heads).map(move |hd| (i, hd)))
            .collect()
    }
}

/// One single-threaded product of a (sequence, head) task, `dst = beta * lhs rhs` (`dst +=`
/// when `accumulate`; see [`linear::product`]).
///
/// # Safety
/// As [`linear::product`].
unsafe fn product(
    dims: (usize, usize, usize),
    dst: (*mut f32, isize),
    lhs: Operand,
    rhs: Operand,
    beta: f32,
    accumulate: bool,
) {
    linear::product(dims, dst, lhs, rhs, (accumulate, beta), 1);
}

/// `ctx = dropout(softmax(q k^T / sqrt(d) [+ relative bias])) v` per head; the softmax output goes to `probs`
/// (layout from [`Shape::prob_offsets`]). `mask` (same layout, may be empty) is the dropout.
pub(crate) fn forward(
    s: Shape,
    qkv: &[f32],
    mask: &[u8],
    keep_scale: f32,
    probs: &mut [f32],
    ctx: &mut [f32],
) {
    let (h, dh) = (s.hidden, s.head_dim());
    let t = *s.starts.last().unwrap_or(&0);
    let (off, total) = s.prob_offsets();
    assert!(qkv.len() >= t * 3 * h && ctx.len() >= t * h && probs.len() >= total);
    assert!(mask.is_empty() || mask.len() >= total);
    let scale = 1.0 / (dh as f32).sqrt();
    let (out, pout) = (SharedMut::new(ctx), SharedMut::new(probs));
    let rs = 3 * h as isize;
    s.jobs()
        .into_par_iter()
        .for_each_init(Vec::new, |dropped: &mut Vec<f32>, (i, head)| {
            let (s0, len) = (s.starts[i], s.starts[i + 1] - s.starts[i]);
            let p0 = off[i] + head * len * len;
            let base = s0 * 3 * h + head * dh;
            // SAFETY: reads stay in qkv rows s0..s0+len (length asserted); this task alone writes
            // probs[p0..p0 + len^2] and ctx rows s0..s0+len, columns head*dh..(head+1)*dh.
            unsafe {
                let p = std::slice::from_raw_parts_mut(pout.ptr().add(p0), len * len);
                let (q, k, v) = (
                    qkv.as_ptr().add(base),
                    qkv.as_ptr().add(base + h),
                    qkv.as_ptr().add(base + 2 * h),
                );
                let dims = (len, len, dh);
                let (dst, lhs, rhs) = ((p.as_mut_ptr(), len as isize), (q, 1, rs), (k, rs, 1));
                if let Some(b) = &s.bias {
                    for (x, r) in p.iter_mut().zip(b.rows(len)) {
                        *x = b.table[r * s.heads + head];
                    }
                }
                product(dims, dst, lhs, rhs, scale, s.bias.is_some());
                softmax_rows(p, len);
                let weights: &[f32] = if mask.is_empty() {
                    p
                } else {
                    dropped.resize(len * len, 0.0);
                    apply_mask(p, &mask[p0..p0 + len * len], keep_scale, dropped);
                    dropped
                };
                let o = out.ptr().add(s0 * h + head * dh);
                product(
                    (len, dh, len),
                    (o, h as isize),
                    (weights.as_ptr(), 1, len as isize),
                    (v, 1, rs),
                    1.0,
                    false,
                );
            }
        });
}

/// The backward pass of [`forward`]: `dqkv` (rows of width `3h`) from `dctx`; with a relative
/// bias, its gradient is added to `dbias` (`buckets x heads`, the table's layout).
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward(
    s: Shape,
    qkv: &[f32],
    probs: &[f32],
    mask: &[u8],
    keep_scale: f32,
    dctx: &[f32],
    dqkv: &mut [f32],
    dbias: &mut [f32],
) {
    let (h, dh) = (s.hidden, s.head_dim());
    let t = *s.starts.last().unwrap_or(&0);
    let (off, total) = s.prob_offsets();
    assert!(qkv.len() >= t * 3 * h && dctx.len() >= t * h && dqkv.len() >= t * 3 * h);
    assert!(probs.len() >= total && (mask.is_empty() || mask.len() >= total));
    let scale = 1.0 / (dh as f32).sqrt();
    let out = SharedMut::new(dqkv);
    let rs = 3 * h as isize;
    let scratch = || (Vec::new(), Vec::new());
    let nb = s.bias.map_or(0, |b| b.table.len() / s.heads);
    let per_task: Vec<(usize, Vec<f32>)> = s
        .jobs()
        .into_par_iter()
        .map_init(
            scratch,
            |(dropped, ds): &mut (Vec<f32>, Vec<f32>), (i, head)| {
                let (s0, len) = (s.starts[i], s.starts[i + 1] - s.starts[i]);
                let p0 = off[i] + head * len * len;
                let p = &probs[p0..p0 + len * len];
                let pm = if mask.is_empty() {
                    mask
                } else {
                    &mask[p0..p0 + len * len]
                };
                let base = s0 * 3 * h + head * dh;
                ds.resize(len * len, 0.0);
                // SAFETY: reads stay in qkv/dctx rows s0..s0+len (lengths asserted); this task alone
                // writes dqkv rows s0..s0+len in its head's q, k and v columns.
                unsafe {
                    let (q, k, v) = (
                        qkv.as_ptr().add(base),
                        qkv.as_ptr().add(base + h),
                        qkv.as_ptr().add(base + 2 * h),
                    );
                    let dc = dctx.as_ptr().add(s0 * h + head * dh);
                    let (dq, dk, dv) = (
                        out.ptr().add(base),
                        out.ptr().add(base + h),
                        out.ptr().add(base + 2 * h),
                    );
                    // d(dropped probs) = dctx v^T
                    product(
                        (len, len, dh),
                        (ds.as_mut_ptr(), len as isize),
                        (dc, 1, h as isize),
                        (v, rs, 1),
                        1.0,
                        false,
                    );
                    // dv = dropped^T dctx
                    let weights: &[f32] = if pm.is_empty() {
                        p
                    } else {
                        dropped.resize(len * len, 0.0);
                        apply_mask(p, pm, keep_scale, dropped);
                        dropped
                    };
                    product(
                        (len, dh, len),
                        (dv, rs),
                        (weights.as_ptr(), len as isize, 1),
                        (dc, 1, h as isize),
                        1.0,
                        false,
                    );
                    // through dropout and softmax: scores gradient
                    softmax_backward_rows(p, pm, keep_scale, ds, len);
                    // dq = scale * ds k, dk = scale * ds^T q
                    product(
                        (len, dh, len),
                        (dq, rs),
                        (ds.as_ptr(), 1, len as isize),
                        (k, 1, rs),
                        scale,
                        false,
                    );
                    product(
                        (len, dh, len),
                        (dk, rs),
                        (ds.as_ptr(), len as isize, 1),
                        (q, 1, rs),
                        scale,
                        false,
                    );
                }
                // The bias is added to the scores: its gradient is the scores' gradient, summed
                // over the pairs that share a bucket.
                let mut db = vec![0f32; nb];
                if let Some(b) = &s.bias {
                    for (g, r) in ds[..len * len].iter().zip(b.rows(len)) {
                        db[r] += g;
                    }
                }
                (head, db)
            },
        )
        .collect();
    if s.bias.is_some() {
        assert_eq!(dbias.len(), nb * s.heads);
        for (head, db) in per_task {
            for (r, g) in db.into_iter().enumerate() {
                dbias[r * s.heads + head] += g;
            }
        }
    }
}
