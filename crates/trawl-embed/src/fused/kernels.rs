//! Element-wise kernels of the CPU forward pass, written so LLVM vectorises them: an AVX2+FMA
//! build of each is chosen at run time, with a portable fallback.

#![allow(clippy::excessive_precision)] // Cephes constants, as published

/// exp(x) (Cephes expf polynomial; relative error about 1e-7), branch-free so it vectorises.
#[inline(always)]
fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let fx = (x * std::f32::consts::LOG2_E + 0.5).floor();
    let r = x - fx * 0.693_359_375 + fx * 2.121_944_4e-4;
    let mut y = 1.987_569_1e-4f32;
    y = y * r + 1.398_199_9e-3;
    y = y * r + 8.333_452e-3;
    y = y * r + 4.166_579_6e-2;
    y = y * r + 1.666_666_5e-1;
    y = y * r + 5.000_000_1e-1;
    y = y * r * r + r + 1.0;
    // 2^fx without a float->int cast (whose saturating semantics block vectorisation): adding
    // 2^23 puts the integer fx + 127 (in 1..=254 after the clamp) in the low mantissa bits.
    let biased = (fx + (127.0 + 8_388_608.0)).to_bits() - 0x4B00_0000;
    let pow2 = f32::from_bits(biased << 23);
    y * pow2
}

/// Exact (erf) GELU, erf by Abramowitz-Stegun 7.1.26 (absolute error < 1.5e-7).
#[inline(always)]
fn gelu(x: f32) -> f32 {
    let z = x * std::f32::consts::FRAC_1_SQRT_2;
    let a = z.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_8 + t * (-1.453_152 + t * 1.061_405_4))));
    let erf_abs = 1.0 - poly * exp(-a * a);
    let erf = if z < 0.0 { -erf_abs } else { erf_abs };
    0.5 * x * (1.0 + erf)
}

const LANES: usize = 16;

#[inline(always)]
fn sum(v: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let chunks = v.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..LANES {
            acc[i] += c[i];
        }
    }
    acc.iter().sum::<f32>() + rest.iter().sum::<f32>()
}

#[inline(always)]
fn max(v: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = v.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..LANES {
            acc[i] = if c[i] > acc[i] { c[i] } else { acc[i] };
        }
    }
    acc.iter()
        .chain(rest)
        .fold(f32::NEG_INFINITY, |m, &x| if x > m { x } else { m })
}

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
    let n = h as f32;
    for (r, row) in x.chunks_exact_mut(h).enumerate() {
        if !y.is_empty() {
            let yr = &y[r * h..(r + 1) * h];
            for ((v, a), b) in row.iter_mut().zip(yr).zip(bias) {
                *v += a + b;
            }
        }
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
        let inv = 1.0 / (var + eps).sqrt();
        for ((v, g), b) in row.iter_mut().zip(gamma).zip(beta) {
            *v = (*v - mean) * inv * g + b;
        }
    }
}

fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

macro_rules! dispatched {
    ($(#[$doc:meta])* $name:ident => $generic:ident ($($arg:ident : $ty:ty),*)) => {
        $(#[$doc])*
        pub(crate) fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) {
                    $generic($($arg),*)
                }
                if has_avx2_fma() {
                    // SAFETY: the CPU supports AVX2 and FMA (checked just above).
                    return unsafe { avx2($($arg),*) };
                }
            }
            $generic($($arg),*)
        }
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn erf_ref(x: f64) -> f64 {
        // High-precision series/continued fraction is overkill here: integrate numerically.
        let n = 20_000;
        let h = x / n as f64;
        let f = |t: f64| (-t * t).exp();
        let mut s = f(0.0) + f(x);
        for i in 1..n {
            s += if i % 2 == 1 { 4.0 } else { 2.0 } * f(i as f64 * h);
        }
        s * h / 3.0 * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn exp_and_gelu_match_the_exact_functions() {
        for i in -800..800 {
            let x = i as f32 / 20.0;
            let e = exp(x) as f64;
            let want = (x as f64).exp();
            assert!(
                ((e - want) / want).abs() < 5e-7,
                "exp({x}) = {e}, want {want}"
            );
            let g = gelu(x) as f64;
            let gw = 0.5 * x as f64 * (1.0 + erf_ref(x as f64 / std::f64::consts::SQRT_2));
            assert!(
                (g - gw).abs() < 1e-6 * (1.0 + gw.abs()),
                "gelu({x}) = {g}, want {gw}"
            );
        }
    }

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
        residual_layer_norm(&mut a, &y, &bias, &gamma, &beta, 1e-12);
        for (got, want) in a.iter().zip(&expect) {
            assert!((got - want).abs() < 1e-5, "{got} vs {want}");
        }
    }
}
