//! Row-parallel wrappers of the LayerNorm kernels (blocks of [`ROW_BLOCK`] rows per task).

use rayon::prelude::*;
use trawl_kernels::backward::layer_norm_backward;
use trawl_kernels::rows::dropout_residual_layer_norm;

use super::linear::{block, ROW_BLOCK};

/// `dropout_residual_layer_norm` over row blocks in parallel.
#[allow(clippy::too_many_arguments)]
pub(super) fn par_layer_norm(
    x: &mut [f32],
    mask: &[u8],
    scale: f32,
    residual: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    xhat: &mut [f32],
    rstd: &mut [f32],
) {
    let h = gamma.len();
    let n = ROW_BLOCK * h;
    x.par_chunks_mut(n)
        .zip(xhat.par_chunks_mut(n))
        .zip(rstd.par_chunks_mut(ROW_BLOCK))
        .enumerate()
        .for_each(|(i, ((xs, xh), rs))| {
            dropout_residual_layer_norm(
                xs,
                block(mask, i, n),
                scale,
                block(residual, i, n),
                gamma,
                beta,
                eps,
                xh,
                rs,
            )
        });
}

/// `layer_norm_backward` over row blocks in parallel; returns (dgamma, dbeta).
#[allow(clippy::too_many_arguments)]
pub(super) fn par_layer_norm_backward(
    dy: &[f32],
    xhat: &[f32],
    rstd: &[f32],
    gamma: &[f32],
    dx: &mut [f32],
    mask: &[u8],
    scale: f32,
    dmasked: &mut [f32],
) -> (Vec<f32>, Vec<f32>) {
    let h = gamma.len();
    let n = ROW_BLOCK * h;
    let zero = || (vec![0f32; h], vec![0f32; h]);
    let dm: Vec<&mut [f32]> = if dmasked.is_empty() {
        (0..dx.len().div_ceil(n))
            .map(|_| Default::default())
            .collect()
    } else {
        dmasked.chunks_mut(n).collect()
    };
    // Partial sums per fixed block, added in block order: the same bits on every run
    // whatever the thread scheduling.
    let partials: Vec<(Vec<f32>, Vec<f32>)> = dx
        .par_chunks_mut(n)
        .zip(dm.into_par_iter())
        .enumerate()
        .map(|(i, (dxs, dm))| {
            let (mut dg, mut db) = zero();
            layer_norm_backward(
                &dy[i * n..i * n + dxs.len()],
                &xhat[i * n..i * n + dxs.len()],
                block(rstd, i, ROW_BLOCK),
                gamma,
                dxs,
                block(mask, i, n),
                scale,
                dm,
                &mut dg,
                &mut db,
            );
            (dg, db)
        })
        .collect();
    partials
        .into_iter()
        .fold(zero(), |(mut g1, mut b1), (g2, b2)| {
            g1.iter_mut().zip(&g2).for_each(|(a, b)| *a += b);
            b1.iter_mut().zip(&b2).for_each(|(a, b)| *a += b);
            (g1, b1)
        })
}
