//! Int8 linear layers for dynamically quantised inference: `y = x W^T + b` with W quantised once
//! per output channel (symmetric, int8 in [-127, 127]) and x quantised per row (token) at run
//! time, the products summed exactly in 32-bit integers and scaled back to f32.
//!
//! Three integer kernels give the same integers (each sum is exact: |q| <= 127, so a row of
//! up to 133,000 products cannot overflow i32):
//! - AVX-512 VNNI (`vpdpbusd`, u8 x s8): activations are stored shifted to u8 (`q + 128`) and
//!   each output corrected by `128 * sum(weights of its channel)`;
//! - AVX2 (`vpmaddubsw` + `vpmaddwd`): `vpmaddubsw` saturates pairs of u8 x s8 products at
//!   i16, so it is fed `|q|` and the weights with q's sign moved onto them (`vpsignb`): each
//!   pair is then at most 2 * 127 * 127 = 32,258, below the i16 limit;
//! - a portable scalar loop.
//!
//! The weights are packed once into blocks of 16 output channels x 4 inputs (64 bytes: one zmm,
//! two ymm), the layout `vpdpbusd` wants with one 4-byte activation group broadcast.
//!
//! ```
//! use trawl_kernels::int8::{linear, QuantizedLinear};
//! let w = [1.0f32, 0.0, 0.5, -2.0]; // two output channels, two inputs
//! let q = QuantizedLinear::new(&w, 2, 2);
//! let mut y = [0f32; 2];
//! linear(&mut y, &[2.0, 4.0], 1, &q, &[0.25, 0.0]);
//! assert!((y[0] - 2.25).abs() < 0.05 && (y[1] + 7.0).abs() < 0.05);
//! ```

/// How a model's Linear layers run: f32 (`none`, the default) or dynamically quantised int8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Quantize {
    #[default]
    None,
    Int8,
}

impl Quantize {
    /// The values `--quantize` accepts.
    pub const NAMES: &'static [&'static str] = &["none", "int8"];

    pub fn as_str(self) -> &'static str {
        match self {
            Quantize::None => "none",
            Quantize::Int8 => "int8",
        }
    }
}

impl std::fmt::Display for Quantize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Quantize {
    type Err = String;
    fn from_str(s: &str) -> Result<Quantize, String> {
        match s.to_ascii_lowercase().as_str() {
            "none" | "f32" => Ok(Quantize::None),
            "int8" => Ok(Quantize::Int8),
            _ => Err(format!(
                "unknown quantisation `{s}`; expected one of: {}",
                Quantize::NAMES.join(", ")
            )),
        }
    }
}

/// Output channels per packed block.
const BLOCK: usize = 16;
/// Channels the padded weight matrix is a multiple of (the widest tile, VNNI's 4 blocks).
const CHANNEL_PAD: usize = 64;
/// Rows the quantised activations are padded to (a multiple of every tile's row count).
const ROW_PAD: usize = 12;
/// Rows quantised and multiplied together (their int8 copy stays in L1/L2 across the channels).
const ROW_CHUNK: usize = 48;

/// An integer kernel implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    Scalar,
    Avx2,
    Avx512Vnni,
}

impl Isa {
    /// The fastest kernel this CPU runs.
    pub fn detect() -> Isa {
        [Isa::Avx512Vnni, Isa::Avx2]
            .into_iter()
            .find(|i| i.supported())
            .unwrap_or(Isa::Scalar)
    }

    /// Every kernel this CPU runs, slowest first (Scalar always).
    pub fn available() -> Vec<Isa> {
        [Isa::Scalar, Isa::Avx2, Isa::Avx512Vnni]
            .into_iter()
            .filter(|i| i.supported())
            .collect()
    }

    /// Whether this CPU runs the kernel (feature detection is cached by std).
    pub fn supported(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            match self {
                Isa::Scalar => true,
                Isa::Avx2 => has!("avx2"),
                Isa::Avx512Vnni => has!("avx512f") && has!("avx512bw") && has!("avx512vnni"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == Isa::Scalar
        }
    }

    /// Rows and channels of one tile.
    fn tile(self) -> (usize, usize) {
        match self {
            Isa::Scalar => (1, BLOCK),
            Isa::Avx2 => (4, BLOCK),
            Isa::Avx512Vnni => (6, 4 * BLOCK),
        }
    }
}

/// A Linear layer's weight (`n` output channels x `k` inputs, PyTorch layout) quantised per
/// output channel: `w[j][p] ~= scale[j] * q[j][p]`, `q` in [-127, 127].
pub struct QuantizedLinear {
    n: usize,
    k: usize,
    /// `k` rounded up to a multiple of 4.
    kp: usize,
    /// `[np / 16][kp / 4][16][4]`, zero in the padding.
    packed: Vec<i8>,
    scales: Vec<f32>,
    /// Per padded channel: 128 * the sum of its int8 weights (the VNNI kernel's correction).
    shift_correction: Vec<i32>,
}

impl QuantizedLinear {
    /// Quantises `w` (`n` x `k`, row-major): each channel's scale is its largest |weight| / 127.
    pub fn new(w: &[f32], n: usize, k: usize) -> QuantizedLinear {
        assert_eq!(w.len(), n * k, "weight is not {n} x {k}");
        let kp = k.next_multiple_of(4);
        let np = n.next_multiple_of(CHANNEL_PAD);
        let mut packed = vec![0i8; np * kp];
        let mut scales = vec![0f32; n];
        let mut shift_correction = vec![0i32; np];
        for (j, row) in w.chunks_exact(k.max(1)).take(n).enumerate() {
            let amax = row.iter().fold(0f32, |m, v| m.max(v.abs()));
            let (scale, inv) = if amax > 0.0 {
                (amax / 127.0, 127.0 / amax)
            } else {
                (0.0, 0.0)
            };
            scales[j] = scale;
            let mut sum = 0i32;
            for (p, &v) in row.iter().enumerate() {
                let q = (v * inv).round_ties_even().clamp(-127.0, 127.0) as i8;
                packed[Self::offset(kp, j, p)] = q;
                sum += q as i32;
            }
            shift_correction[j] = 128 * sum;
        }
        QuantizedLinear {
            n,
            k,
            kp,
            packed,
            scales,
            shift_correction,
        }
    }

    fn offset(kp: usize, j: usize, p: usize) -> usize {
        (j / BLOCK) * kp * BLOCK + (p / 4) * 4 * BLOCK + (j % BLOCK) * 4 + p % 4
    }

    pub fn out_features(&self) -> usize {
        self.n
    }
    pub fn in_features(&self) -> usize {
        self.k
    }
    /// The int8 weight of channel `j`, input `p`.
    pub fn weight(&self, j: usize, p: usize) -> i8 {
        self.packed[Self::offset(self.kp, j, p)]
    }
    /// Channel `j`'s scale.
    pub fn scale(&self, j: usize) -> f32 {
        self.scales[j]
    }
    /// Bytes held (packed weights, scales, corrections).
    pub fn bytes(&self) -> usize {
        self.packed.len() + 4 * (self.scales.len() + self.shift_correction.len())
    }
}

/// Rows of activations quantised for one kernel: `x[r][p] ~= scale[r] * q[r][p]`.
pub struct Int8Rows {
    isa: Isa,
    m: usize,
    kp: usize,
    /// `[m rounded up to ROW_PAD][kp]`: q as i8 bytes, or `q + 128` for VNNI; padding is q = 0.
    data: Vec<u8>,
    scales: Vec<f32>,
}

impl Int8Rows {
    /// Quantises `m` rows of `x` (`m` x `k`), each with scale max|x| / 127, rounding to nearest.
    pub fn quantize(x: &[f32], m: usize, k: usize, isa: Isa) -> Int8Rows {
        assert!(x.len() >= m * k);
        let mut rows = Int8Rows::zeros(m, k, isa);
        for r in 0..m {
            let dst = &mut rows.data[r * rows.kp..r * rows.kp + k];
            rows.scales[r] = quantize_row(&x[r * k..(r + 1) * k], dst, isa == Isa::Avx512Vnni);
        }
        rows
    }

    /// Rows from integers already quantised (`q`: `m` x `k`, values in [-127, 127]), scale 1.
    pub fn from_ints(q: &[i8], m: usize, k: usize, isa: Isa) -> Int8Rows {
        assert!(q.len() >= m * k);
        let mut rows = Int8Rows::zeros(m, k, isa);
        let flip = if isa == Isa::Avx512Vnni { 0x80 } else { 0 };
        for r in 0..m {
            for p in 0..k {
                let v = q[r * k + p].clamp(-127, 127);
                rows.data[r * rows.kp + p] = (v as u8) ^ flip;
            }
            rows.scales[r] = 1.0;
        }
        rows
    }

    fn zeros(m: usize, k: usize, isa: Isa) -> Int8Rows {
        let kp = k.next_multiple_of(4);
        let mp = m.next_multiple_of(ROW_PAD);
        let zero = if isa == Isa::Avx512Vnni { 0x80 } else { 0 };
        Int8Rows {
            isa,
            m,
            kp,
            data: vec![zero; mp * kp],
            scales: vec![0.0; m],
        }
    }
}

#[inline(always)]
fn quantize_row_generic(x: &[f32], dst: &mut [u8], shift: bool) -> f32 {
    let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    if amax == 0.0 || !amax.is_finite() {
        let zero = if shift { 0x80 } else { 0 };
        dst.fill(zero);
        return 0.0;
    }
    let inv = 127.0 / amax;
    let flip = if shift { 0x80u8 } else { 0 };
    for (d, v) in dst.iter_mut().zip(x) {
        *d = ((*v * inv).round_ties_even() as i32 as i8 as u8) ^ flip;
    }
    amax / 127.0
}

/// Quantises one row into `dst` (q, or q + 128 when `shift`); returns its scale.
fn quantize_row(x: &[f32], dst: &mut [u8], shift: bool) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2(x: &[f32], dst: &mut [u8], shift: bool) -> f32 {
            quantize_row_generic(x, dst, shift)
        }
        if crate::has_avx2_fma() {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            return unsafe { avx2(x, dst, shift) };
        }
    }
    quantize_row_generic(x, dst, shift)
}

/// Integer products: `out[r * n + j] = sum_p q[r][p] * w_q[j][p]` (`out`: m x n, row-major).
pub fn matmul_i32(a: &Int8Rows, w: &QuantizedLinear, out: &mut [i32]) {
    let n = w.n;
    assert_eq!(
        a.kp, w.kp,
        "activations have {} inputs, the weight {}",
        a.kp, w.kp
    );
    assert!(out.len() >= a.m * n);
    for_each_tile(a, w, |r0, rows, c0, tile| {
        for r in 0..rows {
            let cols = (n - c0).min(CHANNEL_PAD);
            out[(r0 + r) * n + c0..(r0 + r) * n + c0 + cols]
                .copy_from_slice(&tile[r * CHANNEL_PAD..r * CHANNEL_PAD + cols]);
        }
    });
}

/// `dst (m x n) = x (m x k) W^T + bias` (bias may be empty) with `x` quantised per row on the
/// fastest kernel of this CPU.
pub fn linear(dst: &mut [f32], x: &[f32], m: usize, w: &QuantizedLinear, bias: &[f32]) {
    linear_with(dst, x, m, w, bias, Isa::detect())
}

/// [`linear`] on a chosen kernel (which must be in [`Isa::available`]).
pub fn linear_with(
    dst: &mut [f32],
    x: &[f32],
    m: usize,
    w: &QuantizedLinear,
    bias: &[f32],
    isa: Isa,
) {
    let (n, k) = (w.n, w.k);
    assert!(dst.len() >= m * n && x.len() >= m * k);
    assert!(bias.is_empty() || bias.len() == n);
    for r0 in (0..m).step_by(ROW_CHUNK) {
        let rows = (m - r0).min(ROW_CHUNK);
        let a = Int8Rows::quantize(&x[r0 * k..(r0 + rows) * k], rows, k, isa);
        let dst = &mut dst[r0 * n..(r0 + rows) * n];
        for_each_tile(&a, w, |t0, trows, c0, tile| {
            let cols = (n - c0).min(CHANNEL_PAD);
            let (scales, bias) = (&w.scales[c0..c0 + cols], bias.get(c0..c0 + cols));
            for r in 0..trows {
                let sa = a.scales[t0 + r];
                let out = &mut dst[(t0 + r) * n + c0..(t0 + r) * n + c0 + cols];
                let acc = &tile[r * CHANNEL_PAD..r * CHANNEL_PAD + cols];
                let scaled = out.iter_mut().zip(acc).zip(scales);
                match bias {
                    Some(b) => {
                        for (((o, &v), &s), &b) in scaled.zip(b) {
                            *o = v as f32 * (sa * s) + b;
                        }
                    }
                    None => {
                        for ((o, &v), &s) in scaled {
                            *o = v as f32 * (sa * s);
                        }
                    }
                }
            }
        });
    }
}

/// Runs the kernel of `a.isa` over every (rows, 64 channels) tile, calling
/// `f(first row, rows, first channel, tile)` with the tile's integers (row stride 64).
fn for_each_tile(
    a: &Int8Rows,
    w: &QuantizedLinear,
    mut f: impl FnMut(usize, usize, usize, &[i32]),
) {
    let (mr, nc) = a.isa.tile();
    assert!(
        a.isa.supported(),
        "this CPU cannot run the {:?} kernel",
        a.isa
    );
    let mut tile = [0i32; ROW_PAD * CHANNEL_PAD];
    let kp = a.kp;
    for c0 in (0..w.n).step_by(CHANNEL_PAD) {
        for r0 in (0..a.m).step_by(mr) {
            for cb in (c0..c0 + CHANNEL_PAD).step_by(nc) {
                let wblk = &w.packed[(cb / BLOCK) * kp * BLOCK..];
                let arows = &a.data[r0 * kp..(r0 + mr) * kp];
                let t = &mut tile[cb - c0..];
                match a.isa {
                    Isa::Scalar => tile_scalar(arows, wblk, kp, t),
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx2 => {
                        // SAFETY: the CPU has AVX2 (asserted above); arows holds 4 rows of kp bytes
                        // (rows are padded to ROW_PAD), wblk 16 channels x kp, t 4 rows of 64.
                        unsafe { x86::tile_avx2(arows.as_ptr(), wblk.as_ptr(), kp, t) }
                    }
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx512Vnni => {
                        let corr = &w.shift_correction[cb..cb + 4 * BLOCK];
                        // SAFETY: the CPU has AVX-512 F/BW/VNNI (asserted above); arows holds 6 rows
                        // of kp bytes, wblk 64 channels x kp, t 6 rows of 64.
                        unsafe {
                            x86::tile_vnni(arows.as_ptr(), wblk.as_ptr(), kp, corr.as_ptr(), t)
                        }
                    }
                    #[cfg(not(target_arch = "x86_64"))]
                    _ => unreachable!("{:?} is x86-only", a.isa),
                }
            }
            let rows = (a.m - r0).min(mr);
            f(r0, rows, c0, &tile);
        }
    }
}

/// One row x 16 channels: `t[c] = sum_p a[p] * w[c][p]`.
fn tile_scalar(a: &[u8], w: &[i8], kp: usize, t: &mut [i32]) {
    let mut acc = [0i32; BLOCK];
    for g in 0..kp / 4 {
        let av = &a[4 * g..4 * g + 4];
        let wg = &w[g * 4 * BLOCK..(g + 1) * 4 * BLOCK];
        for (s, wc) in acc.iter_mut().zip(wg.chunks_exact(4)) {
            for (&x, &w) in av.iter().zip(wc) {
                *s += x as i8 as i32 * w as i32;
            }
        }
    }
    t[..BLOCK].copy_from_slice(&acc);
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{BLOCK, CHANNEL_PAD};
    use std::arch::x86_64::*;

    /// 4 rows x 16 channels with AVX2; `a` holds signed q.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn tile_avx2(a: *const u8, w: *const i8, kp: usize, t: &mut [i32]) {
        const MR: usize = 4;
        let ones = _mm256_set1_epi16(1);
        let mut acc = [[_mm256_setzero_si256(); 2]; MR];
        for g in 0..kp / 4 {
            let wp = w.add(g * 4 * BLOCK) as *const __m256i;
            let w0 = _mm256_loadu_si256(wp);
            let w1 = _mm256_loadu_si256(wp.add(1));
            for (r, acc) in acc.iter_mut().enumerate() {
                let av = _mm256_set1_epi32((a.add(r * kp + 4 * g) as *const i32).read_unaligned());
                let abs = _mm256_abs_epi8(av);
                for (s, wv) in acc.iter_mut().zip([w0, w1]) {
                    let pairs = _mm256_maddubs_epi16(abs, _mm256_sign_epi8(wv, av));
                    *s = _mm256_add_epi32(*s, _mm256_madd_epi16(pairs, ones));
                }
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            let out = t.as_mut_ptr().add(r * CHANNEL_PAD) as *mut __m256i;
            _mm256_storeu_si256(out, acc[0]);
            _mm256_storeu_si256(out.add(1), acc[1]);
        }
    }

    /// 6 rows x 64 channels with AVX-512 VNNI; `a` holds q + 128, `corr` 128 * each channel's
    /// weight sum.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn tile_vnni(
        a: *const u8,
        w: *const i8,
        kp: usize,
        corr: *const i32,
        t: &mut [i32],
    ) {
        const MR: usize = 6;
        const NB: usize = 4;
        let mut acc = [[_mm512_setzero_si512(); NB]; MR];
        let stride = kp * BLOCK;
        for g in 0..kp / 4 {
            let mut wv = [_mm512_setzero_si512(); NB];
            for (b, v) in wv.iter_mut().enumerate() {
                *v = _mm512_loadu_si512(w.add(b * stride + g * 4 * BLOCK) as *const _);
            }
            for (r, acc) in acc.iter_mut().enumerate() {
                let av = _mm512_set1_epi32((a.add(r * kp + 4 * g) as *const i32).read_unaligned());
                for (s, wv) in acc.iter_mut().zip(wv) {
                    *s = _mm512_dpbusd_epi32(*s, av, wv);
                }
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            for (b, s) in acc.iter().enumerate() {
                let c = _mm512_loadu_si512(corr.add(b * BLOCK) as *const _);
                let out = t.as_mut_ptr().add(r * CHANNEL_PAD + b * BLOCK);
                _mm512_storeu_si512(out as *mut _, _mm512_sub_epi32(*s, c));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (no dev-dependencies in this crate).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u32 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) as u32
        }
        fn uniform(&mut self) -> f32 {
            self.next() as f32 / (1u64 << 31) as f32 * 2.0 - 1.0
        }
        fn below(&mut self, n: usize) -> usize {
            self.next() as usize % n
        }
    }

    #[test]
    fn every_kernel_gives_the_scalar_reference_integers_on_random_shapes() {
        let mut rng = Lcg(7);
        let isas = Isa::available();
        let mut shapes = vec![(1, 1, 1), (13, 37, 65), (7, 384, 1152), (50, 1536, 384)];
        for _ in 0..40 {
            shapes.push((1 + rng.below(30), 1 + rng.below(200), 1 + rng.below(150)));
        }
        for (m, k, n) in shapes {
            let w: Vec<f32> = (0..n * k).map(|_| rng.uniform()).collect();
            let q = QuantizedLinear::new(&w, n, k);
            // Extremes included: -127 and 127 everywhere push every sum to its largest size.
            let a: Vec<i8> = (0..m * k)
                .map(|i| match i % 11 {
                    0 => 127,
                    1 => -127,
                    _ => (rng.below(255) as i32 - 127) as i8,
                })
                .collect();
            let mut want = vec![0i32; m * n];
            for r in 0..m {
                for j in 0..n {
                    want[r * n + j] = (0..k)
                        .map(|p| a[r * k + p] as i32 * q.weight(j, p) as i32)
                        .sum();
                }
            }
            for &isa in &isas {
                let rows = Int8Rows::from_ints(&a, m, k, isa);
                let mut got = vec![0i32; m * n];
                matmul_i32(&rows, &q, &mut got);
                assert_eq!(got, want, "{isa:?} differs on m={m} k={k} n={n}");
            }
        }
        // Weights of +-127 and activations of +-127 at full width: the AVX2 saturation case.
        let (m, k, n) = (5, 1536, 70);
        let w: Vec<f32> = (0..n * k)
            .map(|i| if i % 3 == 0 { -1.0 } else { 1.0 })
            .collect();
        let q = QuantizedLinear::new(&w, n, k);
        let a: Vec<i8> = (0..m * k)
            .map(|i| if i % 5 == 0 { -127 } else { 127 })
            .collect();
        let want: Vec<i32> = (0..m * n)
            .map(|i| {
                (0..k)
                    .map(|p| a[(i / n) * k + p] as i32 * q.weight(i % n, p) as i32)
                    .sum()
            })
            .collect();
        for &isa in &isas {
            let mut got = vec![0i32; m * n];
            matmul_i32(&Int8Rows::from_ints(&a, m, k, isa), &q, &mut got);
            assert_eq!(got, want, "{isa:?} saturates or overflows");
        }
    }

    #[test]
    fn weights_quantise_per_channel_symmetrically() {
        let w = [0.5f32, -1.0, 0.25, 0.0, 0.0, 0.0, 3.0, 1.5, -0.03];
        let q = QuantizedLinear::new(&w, 3, 3);
        assert_eq!(
            (q.weight(0, 0), q.weight(0, 1), q.weight(0, 2)),
            (64, -127, 32)
        );
        assert_eq!(q.scale(1), 0.0); // an all-zero channel
        assert_eq!(
            (q.weight(2, 0), q.weight(2, 1), q.weight(2, 2)),
            (127, 64, -1)
        );
        assert!((q.scale(2) - 3.0 / 127.0).abs() < 1e-9);
    }

    #[test]
    fn linear_is_close_to_f32_and_equal_on_every_kernel() {
        let mut rng = Lcg(11);
        let (m, k, n) = (29, 131, 77);
        let x: Vec<f32> = (0..m * k).map(|_| rng.uniform() * 3.0).collect();
        let w: Vec<f32> = (0..n * k).map(|_| rng.uniform() * 0.1).collect();
        let b: Vec<f32> = (0..n).map(|_| rng.uniform()).collect();
        let q = QuantizedLinear::new(&w, n, k);
        let mut exact = vec![0f32; m * n];
        for r in 0..m {
            for j in 0..n {
                exact[r * n + j] = (0..k).map(|p| x[r * k + p] * w[j * k + p]).sum::<f32>() + b[j];
            }
        }
        let mut first: Option<Vec<f32>> = None;
        for isa in Isa::available() {
            let mut y = vec![0f32; m * n];
            linear_with(&mut y, &x, m, &q, &b, isa);
            // Each product's error is at most half a step of x and of w; 131 terms of random sign.
            let worst = y
                .iter()
                .zip(&exact)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(worst < 0.05, "{isa:?}: max error {worst}");
            match &first {
                None => first = Some(y),
                Some(f) => assert_eq!(f, &y, "{isa:?} differs from the scalar kernel"),
            }
        }
    }
}
