//! Scalar building blocks, `#[inline(always)]` and branch-free so the loops that call them
//! vectorise.

/// exp(x) (Cephes expf polynomial; relative error about 1e-7).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
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

/// erf(x) by Abramowitz-Stegun 7.1.26 (absolute error < 1.5e-7).
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_8 + t * (-1.453_152 + t * 1.061_405_4))));
    let erf_abs = 1.0 - poly * exp(-a * a);
    if x < 0.0 {
        -erf_abs
    } else {
        erf_abs
    }
}

/// The exact (erf) GELU: `x * Phi(x)`.
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// d gelu / dx = `Phi(x) + x * phi(x)`.
#[inline(always)]
pub fn gelu_grad(x: f32) -> f32 {
    const INV_SQRT_2PI: f32 = 0.398_942_28;
    let cdf = 0.5 * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2));
    cdf + x * INV_SQRT_2PI * exp(-0.5 * x * x)
}

const LANES: usize = 16;

/// Sum with 16 independent accumulators (vectorises; order differs from a plain loop).
#[inline(always)]
pub fn sum(v: &[f32]) -> f32 {
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

/// Dot product with 16 independent accumulators.
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let rest: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + rest
}

/// Maximum (NaN-ignoring, `-inf` for an empty slice).
#[inline(always)]
pub fn max(v: &[f32]) -> f32 {
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

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn erf_ref(x: f64) -> f64 {
        // Simpson's rule on the defining integral: slow, but independent of the code under test.
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
    fn exp_gelu_and_its_derivative_match_the_exact_functions() {
        for i in -800..800 {
            let x = i as f32 / 20.0;
            let e = exp(x) as f64;
            let want = (x as f64).exp();
            assert!(
                ((e - want) / want).abs() < 5e-7,
                "exp({x}) = {e}, want {want}"
            );
            let xd = x as f64;
            let cdf = 0.5 * (1.0 + erf_ref(xd / std::f64::consts::SQRT_2));
            let g = gelu(x) as f64;
            let gw = xd * cdf;
            assert!(
                (g - gw).abs() < 1e-6 * (1.0 + gw.abs()),
                "gelu({x}) = {g}, want {gw}"
            );
            let d = gelu_grad(x) as f64;
            let dw = cdf + xd * (-0.5 * xd * xd).exp() / (2.0 * std::f64::consts::PI).sqrt();
            assert!((d - dw).abs() < 1e-6, "gelu'({x}) = {d}, want {dw}");
        }
    }

    #[test]
    fn sum_dot_and_max_match_plain_loops() {
        let a: Vec<f32> = (0..37).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..37).map(|i| (i as f32 * 0.11).cos()).collect();
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - plain).abs() < 1e-5);
        assert!((sum(&a) - a.iter().sum::<f32>()).abs() < 1e-5);
        assert_eq!(max(&a), a.iter().cloned().fold(f32::MIN, f32::max));
        assert_eq!(max(&[]), f32::NEG_INFINITY);
    }
}
