//! Pooling of packed token states into one vector per text, and L2 normalisation.

use crate::config::Pooling;

/// `hidden` holds rows of width `h`; sequence `i` is rows `starts[i]..starts[i + 1]`.
pub(crate) fn pool(hidden: &[f32], starts: &[usize], h: usize, mode: Pooling, out: &mut [f32]) {
    for (i, o) in out.chunks_exact_mut(h).enumerate() {
        let rows = &hidden[starts[i] * h..starts[i + 1] * h];
        let n = (starts[i + 1] - starts[i]).max(1);
        match mode {
            _ if rows.is_empty() => o.fill(0.0),
            Pooling::Cls => o.copy_from_slice(&rows[..h]),
            Pooling::LastToken => o.copy_from_slice(&rows[rows.len() - h..]),
            Pooling::Max => {
                o.fill(f32::NEG_INFINITY);
                for r in rows.chunks_exact(h) {
                    for (a, &b) in o.iter_mut().zip(r) {
                        *a = a.max(b);
                    }
                }
            }
            Pooling::Mean | Pooling::MeanSqrtLen => {
                o.fill(0.0);
                for r in rows.chunks_exact(h) {
                    for (a, &b) in o.iter_mut().zip(r) {
                        *a += b;
                    }
                }
                let div = if mode == Pooling::Mean {
                    n as f32
                } else {
                    (n as f32).sqrt()
                };
                o.iter_mut().for_each(|a| *a /= div);
            }
        }
    }
}

/// Divides each row by its L2 norm (sentence-transformers' Normalize: norm clamped to 1e-12).
pub(crate) fn normalize(v: &mut [f32], h: usize) {
    for row in v.chunks_exact_mut(h) {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        row.iter_mut().for_each(|x| *x /= norm);
    }
}
