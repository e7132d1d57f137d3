//! Fused CPU kernels that keep a backward pass: softmax over the last dimension (one pass per
//! row forward, `y * (g - sum(g * y))` backward) instead of the five-op composed softmax, whose
//! autograd graph is large on `(batch, heads, seq, seq)` attention scores; and layer norm with
//! fused forward and backward kernels (candle's own fused layer norm has no backward at all); and
//! GELU (erf) whose derivative is one pass instead of candle's dozen full-size temporaries; and a
//! bias add whose gradient is a contiguous column sum.
//! Other devices and dtypes fall back to composed primitive ops.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, DType, Layout, Shape, Tensor, D};

use crate::Result;

/// Runs `$body` with `$t` bound to the element type of an f32 or f64 CPU storage and wraps the
/// resulting `Vec` back into a storage; other dtypes are an error naming `$op`.
macro_rules! per_float {
    ($storage:expr, $op:literal, |$t:ident| $body:expr) => {
        match $storage {
            CpuStorage::F32(_) => {
                type $t = f32;
                CpuStorage::F32($body)
            }
            CpuStorage::F64(_) => {
                type $t = f64;
                CpuStorage::F64($body)
            }
            _ => candle_core::bail!(concat!($op, ": only f32 and f64 are supported")),
        }
    };
}

struct SoftmaxLastDim;

fn softmax_rows<T: num_like::Float>(src: &[T], dim: usize) -> Vec<T> {
    let mut out = vec![T::zero(); src.len()];
    for (row, dst) in src.chunks(dim).zip(out.chunks_mut(dim)) {
        let max = row.iter().copied().fold(T::neg_inf(), T::max);
        let mut sum = T::zero();
        for (d, &x) in dst.iter_mut().zip(row) {
            *d = (x - max).exp();
            sum = sum + *d;
        }
        let inv = T::one() / sum;
        dst.iter_mut().for_each(|d| *d = *d * inv);
    }
    out
}

impl CustomOp1 for SoftmaxLastDim {
    fn name(&self) -> &'static str {
        "trawl-softmax-last-dim"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let dim = *layout.dims().last().unwrap_or(&1);
        let (start, end) = layout
            .contiguous_offsets()
            .ok_or_else(|| candle_core::Error::Msg("softmax: input must be contiguous".into()))?;
        let out = match storage {
            CpuStorage::F32(v) => CpuStorage::F32(softmax_rows(&v[start..end], dim)),
            CpuStorage::F64(v) => CpuStorage::F64(softmax_rows(&v[start..end], dim)),
            _ => candle_core::bail!("softmax: only f32 and f64 are supported"),
        };
        Ok((out, layout.shape().clone()))
    }

    fn bwd(
        &self,
        _arg: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let dot = (grad_res * res)?.sum_keepdim(D::Minus1)?;
        Ok(Some((grad_res.broadcast_sub(&dot)? * res)?))
    }
}

/// Softmax over the last dimension with a backward pass (fused on CPU for f32/f64).
pub fn softmax_last_dim(xs: &Tensor) -> Result<Tensor> {
    if xs.device().is_cpu() && matches!(xs.dtype(), DType::F32 | DType::F64) {
        return Ok(xs.contiguous()?.apply_op1(SoftmaxLastDim)?);
    }
    Ok(candle_nn::ops::softmax(xs, D::Minus1)?)
}

fn contiguous<'a, T: candle_core::WithDType>(
    s: &'a CpuStorage,
    l: &Layout,
    what: &str,
) -> candle_core::Result<&'a [T]> {
    let (a, b) = l
        .contiguous_offsets()
        .ok_or_else(|| candle_core::Error::Msg(format!("layer norm: {what} must be contiguous")))?;
    Ok(&s.as_slice::<T>()?[a..b])
}

/// GELU (erf form) with its derivative computed in one pass over the input, instead of candle's
/// backward of a dozen ops (each a full-size temporary) on the `(batch, seq, 4 * hidden)` tensor.
struct GeluErf;

/// Elements per parallel task: large enough that the split costs nothing.
const GELU_CHUNK: usize = 1 << 15;

trait GeluFloat: Copy + Send + Sync {
    fn gelu(self) -> Self;
    /// d gelu / dx.
    fn gelu_grad(self) -> Self;
    fn mul(self, other: Self) -> Self;
}

impl GeluFloat for f32 {
    fn gelu(self) -> f32 {
        (candle_core::cpu::erf::erf_f32(self * std::f32::consts::FRAC_1_SQRT_2) + 1.0) * 0.5 * self
    }
    fn gelu_grad(self) -> f32 {
        // Computed in f64: the difference is invisible in f32 and the cost is the erf anyway.
        (self as f64).gelu_grad() as f32
    }
    fn mul(self, other: f32) -> f32 {
        self * other
    }
}

impl GeluFloat for f64 {
    fn gelu(self) -> f64 {
        (candle_core::cpu::erf::erf_f64(self * std::f64::consts::FRAC_1_SQRT_2) + 1.0) * 0.5 * self
    }
    fn gelu_grad(self) -> f64 {
        const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
        let cdf =
            0.5 * (1.0 + candle_core::cpu::erf::erf_f64(self * std::f64::consts::FRAC_1_SQRT_2));
        cdf + self * INV_SQRT_2PI * (-0.5 * self * self).exp()
    }
    fn mul(self, other: f64) -> f64 {
        self * other
    }
}

fn gelu_forward<T: GeluFloat + Default>(x: &[T]) -> Vec<T> {
    use rayon::prelude::*;
    let mut out = vec![T::default(); x.len()];
    out.par_chunks_mut(GELU_CHUNK)
        .zip(x.par_chunks(GELU_CHUNK))
        .for_each(|(dst, src)| {
            for (d, &v) in dst.iter_mut().zip(src) {
                *d = v.gelu();
            }
        });
    out
}

fn gelu_backward<T: GeluFloat + Default>(x: &[T], g: &[T]) -> Vec<T> {
    use rayon::prelude::*;
    let mut out = vec![T::default(); x.len()];
    out.par_chunks_mut(GELU_CHUNK)
        .zip(x.par_chunks(GELU_CHUNK).zip(g.par_chunks(GELU_CHUNK)))
        .for_each(|(dst, (xs, gs))| {
            for ((d, &v), &gv) in dst.iter_mut().zip(xs).zip(gs) {
                *d = gv.mul(v.gelu_grad());
            }
        });
    out
}

impl CustomOp1 for GeluErf {
    fn name(&self) -> &'static str {
        "trawl-gelu-erf"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let out = per_float!(storage, "gelu", |T| gelu_forward(contiguous::<T>(
            storage, layout, "input"
        )?));
        Ok((out, layout.shape().clone()))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let grad = grad_res.contiguous()?;
        Ok(Some(arg.apply_op2_no_bwd(&grad, &GeluErfBackward)?))
    }
}

/// `grad * gelu'(x)` for the inputs (x, grad).
struct GeluErfBackward;

impl CustomOp2 for GeluErfBackward {
    fn name(&self) -> &'static str {
        "trawl-gelu-erf-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let out = per_float!(s1, "gelu", |T| gelu_backward::<T>(
            contiguous(s1, l1, "input")?,
            contiguous(s2, l2, "gradient")?,
        ));
        Ok((out, l1.shape().clone()))
    }
}

/// GELU, erf form (BERT's `gelu`), with a backward pass; fused on CPU for f32/f64.
pub fn gelu_erf(xs: &Tensor) -> Result<Tensor> {
    if xs.device().is_cpu() && matches!(xs.dtype(), DType::F32 | DType::F64) {
        return Ok(xs.contiguous()?.apply_op1(GeluErf)?);
    }
    Ok(xs.gelu_erf()?)
}

/// `x + bias` over the last dimension of a contiguous `(rows, h)` input. Its backward sums the
/// gradient's rows in one contiguous pass; candle's backward of a broadcast add reduces over the
/// leading dimensions with a strided loop, a visible share of every training step.
struct AddBias;

fn add_bias_rows<T: Copy + Default + std::ops::Add<Output = T>>(x: &[T], b: &[T]) -> Vec<T> {
    let mut out = vec![T::default(); x.len()];
    for (dst, row) in out.chunks_mut(b.len()).zip(x.chunks(b.len())) {
        for ((d, &v), &bv) in dst.iter_mut().zip(row).zip(b) {
            *d = v + bv;
        }
    }
    out
}

impl CustomOp2 for AddBias {
    fn name(&self) -> &'static str {
        "trawl-add-bias"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let out = per_float!(s1, "bias add", |T| add_bias_rows::<T>(
            contiguous(s1, l1, "input")?,
            contiguous(s2, l2, "bias")?,
        ));
        Ok((out, l1.shape().clone()))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let db = grad.apply_op1_no_bwd(&ColumnSum)?;
        Ok((Some(grad), Some(db)))
    }
}

/// Sum over the rows of a contiguous `(rows, h)` tensor, shape `(h,)`.
struct ColumnSum;

fn column_sum<T: Copy + Default + Send + Sync + std::ops::Add<Output = T>>(
    x: &[T],
    h: usize,
) -> Vec<T> {
    use rayon::prelude::*;
    let rows_per_task = (GELU_CHUNK / h.max(1)).max(1);
    let add = |mut acc: Vec<T>, other: &[T]| {
        for (a, &v) in acc.iter_mut().zip(other) {
            *a = *a + v;
        }
        acc
    };
    x.par_chunks(rows_per_task * h)
        .map(|block| block.chunks(h).fold(vec![T::default(); h], add))
        .reduce(|| vec![T::default(); h], |a, b| add(a, &b))
}

impl CustomOp1 for ColumnSum {
    fn name(&self) -> &'static str {
        "trawl-column-sum"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let h = *layout.dims().last().unwrap_or(&1);
        let out = per_float!(storage, "bias add", |T| column_sum(
            contiguous::<T>(storage, layout, "gradient")?,
            h,
        ));
        Ok((out, Shape::from(h)))
    }
}

/// `xs + bias` broadcast over the rows of a 2-d `xs`, with a backward pass (fused on CPU).
pub fn add_bias(xs: &Tensor, bias: &Tensor) -> Result<Tensor> {
    if xs.device().is_cpu() && matches!(xs.dtype(), DType::F32 | DType::F64) && xs.rank() == 2 {
        return Ok(xs.contiguous()?.apply_op2(&bias.contiguous()?, AddBias)?);
    }
    Ok(xs.broadcast_add(bias)?)
}

/// Mean and 1/sqrt(var + eps) of one row.
fn row_stats<T: num_like::Float>(row: &[T], eps: f64) -> (T, T) {
    let n = T::from_f64(row.len() as f64);
    let mean = row.iter().fold(T::zero(), |a, &x| a + x) / n;
    let var = row
        .iter()
        .fold(T::zero(), |a, &x| a + (x - mean) * (x - mean))
        / n;
    (mean, T::one() / (var + T::from_f64(eps)).sqrt())
}

struct LayerNormOp {
    eps: f64,
}

fn ln_forward<T: num_like::Float>(x: &[T], w: &[T], b: &[T], eps: f64) -> Vec<T> {
    let h = w.len();
    let mut out = vec![T::zero(); x.len()];
    for (row, dst) in x.chunks(h).zip(out.chunks_mut(h)) {
        let (mean, rstd) = row_stats(row, eps);
        for i in 0..h {
            dst[i] = (row[i] - mean) * rstd * w[i] + b[i];
        }
    }
    out
}

impl CustomOp3 for LayerNormOp {
    fn name(&self) -> &'static str {
        "trawl-layer-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let out = per_float!(s1, "layer norm", |T| ln_forward::<T>(
            contiguous(s1, l1, "input")?,
            contiguous(s2, l2, "weight")?,
            contiguous(s3, l3, "bias")?,
            self.eps,
        ));
        Ok((out, l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let dx = x.apply_op3_no_bwd(w, &grad, &LayerNormBackwardX { eps: self.eps })?;
        let dwdb = x.apply_op2_no_bwd(&grad, &LayerNormBackwardWB { eps: self.eps })?;
        Ok((Some(dx), Some(dwdb.get(0)?), Some(dwdb.get(1)?)))
    }
}

/// dx = rstd * (g*w - mean(g*w) - xhat * mean(g*w * xhat)), per row.
struct LayerNormBackwardX {
    eps: f64,
}

fn ln_backward_x<T: num_like::Float>(x: &[T], w: &[T], g: &[T], eps: f64) -> Vec<T> {
    let h = w.len();
    let n = T::from_f64(h as f64);
    let mut out = vec![T::zero(); x.len()];
    let mut gw = vec![T::zero(); h];
    for ((row, grow), dst) in x.chunks(h).zip(g.chunks(h)).zip(out.chunks_mut(h)) {
        let (mean, rstd) = row_stats(row, eps);
        let (mut m1, mut m2) = (T::zero(), T::zero());
        for i in 0..h {
            gw[i] = grow[i] * w[i];
            m1 = m1 + gw[i];
            m2 = m2 + gw[i] * (row[i] - mean) * rstd;
        }
        let (m1, m2) = (m1 / n, m2 / n);
        for i in 0..h {
            let xhat = (row[i] - mean) * rstd;
            dst[i] = rstd * (gw[i] - m1 - xhat * m2);
        }
    }
    out
}

impl CustomOp3 for LayerNormBackwardX {
    fn name(&self) -> &'static str {
        "trawl-layer-norm-bwd-x"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let out = per_float!(s1, "layer norm", |T| ln_backward_x::<T>(
            contiguous(s1, l1, "input")?,
            contiguous(s2, l2, "weight")?,
            contiguous(s3, l3, "gradient")?,
            self.eps,
        ));
        Ok((out, l1.shape().clone()))
    }
}

/// [dw; db] = [sum over rows of g * xhat; sum over rows of g], shape (2, hidden).
struct LayerNormBackwardWB {
    eps: f64,
}

fn ln_backward_wb<T: num_like::Float>(x: &[T], g: &[T], h: usize, eps: f64) -> Vec<T> {
    let mut out = vec![T::zero(); 2 * h];
    for (row, grow) in x.chunks(h).zip(g.chunks(h)) {
        let (mean, rstd) = row_stats(row, eps);
        for i in 0..h {
            out[i] = out[i] + grow[i] * (row[i] - mean) * rstd;
            out[h + i] = out[h + i] + grow[i];
        }
    }
    out
}

impl CustomOp2 for LayerNormBackwardWB {
    fn name(&self) -> &'static str {
        "trawl-layer-norm-bwd-wb"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let h = *l1.dims().last().unwrap_or(&1);
        let out = per_float!(s1, "layer norm", |T| ln_backward_wb::<T>(
            contiguous(s1, l1, "input")?,
            contiguous(s2, l2, "gradient")?,
            h,
            self.eps,
        ));
        Ok((out, Shape::from((2, h))))
    }
}

/// Layer norm over the last dimension with a backward pass; `None` when this device/dtype has
/// no fused kernel (the caller then composes primitive ops).
pub fn layer_norm(xs: &Tensor, w: &Tensor, b: &Tensor, eps: f64) -> Result<Option<Tensor>> {
    if !(xs.device().is_cpu() && matches!(xs.dtype(), DType::F32 | DType::F64)) {
        return Ok(None);
    }
    let xs = xs.contiguous()?;
    Ok(Some(xs.apply_op3(
        &w.contiguous()?,
        &b.contiguous()?,
        LayerNormOp { eps },
    )?))
}

/// The few float operations the kernels need, for f32 and f64.
mod num_like {
    pub trait Float:
        Copy
        + std::ops::Sub<Output = Self>
        + std::ops::Add<Output = Self>
        + std::ops::Mul<Output = Self>
        + std::ops::Div<Output = Self>
    {
        fn zero() -> Self;
        fn one() -> Self;
        fn neg_inf() -> Self;
        fn exp(self) -> Self;
        fn max(self, other: Self) -> Self;
        fn sqrt(self) -> Self;
        fn from_f64(v: f64) -> Self;
    }
    macro_rules! float {
        ($t:ty) => {
            impl Float for $t {
                fn zero() -> Self {
                    0.0
                }
                fn one() -> Self {
                    1.0
                }
                fn neg_inf() -> Self {
                    <$t>::NEG_INFINITY
                }
                fn exp(self) -> Self {
                    <$t>::exp(self)
                }
                fn max(self, other: Self) -> Self {
                    <$t>::max(self, other)
                }
                fn sqrt(self) -> Self {
                    <$t>::sqrt(self)
                }
                fn from_f64(v: f64) -> Self {
                    v as $t
                }
            }
        };
    }
    float!(f32);
    float!(f64);
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor, Var, D};

    fn close(a: &Tensor, b: &Tensor) -> f64 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
    }

    #[test]
    fn fused_kernels_match_composed_ops_forward_and_backward() {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::randn(0f64, 2.0, (3, 5, 7), &dev).unwrap()).unwrap();
        let w = Var::from_tensor(&Tensor::randn(1f64, 0.3, 7, &dev).unwrap()).unwrap();
        let b = Var::from_tensor(&Tensor::randn(0f64, 0.3, 7, &dev).unwrap()).unwrap();
        let mix = Tensor::randn(0f64, 1.0, (3, 5, 7), &dev).unwrap();
        // Composed references.
        let mean = x.mean_keepdim(D::Minus1).unwrap();
        let xc = x.broadcast_sub(&mean).unwrap();
        let var = xc.sqr().unwrap().mean_keepdim(D::Minus1).unwrap();
        let ln_ref = xc
            .broadcast_div(&(var + 1e-12).unwrap().sqrt().unwrap())
            .unwrap()
            .broadcast_mul(&w)
            .unwrap()
            .broadcast_add(&b)
            .unwrap();
        let sm_ref = candle_nn::ops::softmax(&x, D::Minus1).unwrap();
        let ln = super::layer_norm(&x, &w, &b, 1e-12).unwrap().unwrap();
        let sm = super::softmax_last_dim(&x).unwrap();
        assert!(close(&ln, &ln_ref) < 1e-12);
        assert!(close(&sm, &sm_ref) < 1e-12);
        let loss = |a: &Tensor, s: &Tensor| {
            ((a * &mix).unwrap().sum_all().unwrap()
                + (s * &mix).unwrap().sqr().unwrap().sum_all().unwrap())
            .unwrap()
        };
        let g_ref = loss(&ln_ref, &sm_ref).backward().unwrap();
        let g = loss(&ln, &sm).backward().unwrap();
        for v in [&x, &w, &b] {
            let d = close(g.get(v).unwrap(), g_ref.get(v).unwrap());
            assert!(d < 1e-10, "gradient differs by {d}");
        }
    }

    #[test]
    fn fused_gelu_matches_candle_forward_and_finite_differences_backward() {
        let dev = Device::Cpu;
        // Large enough to split across parallel chunks, with values well into both tails.
        let n = 3 * super::GELU_CHUNK + 17;
        let x = Var::from_tensor(&Tensor::randn(0f64, 3.0, n, &dev).unwrap()).unwrap();
        let mix = Tensor::randn(0f64, 1.0, n, &dev).unwrap();
        let y = super::gelu_erf(&x).unwrap();
        assert!(close(&y, &x.gelu_erf().unwrap()) < 1e-12);
        let g = (&y * &mix).unwrap().sum_all().unwrap().backward().unwrap();
        let grad = g.get(&x).unwrap();
        // Central differences of sum(gelu(x) * mix) per element.
        let h = 1e-6;
        let fd = ((x.affine(1.0, h).unwrap().gelu_erf().unwrap()
            - x.affine(1.0, -h).unwrap().gelu_erf().unwrap())
        .unwrap()
            / (2.0 * h))
            .unwrap();
        let fd = (fd * &mix).unwrap();
        let d = close(grad, &fd);
        assert!(
            d < 1e-7,
            "gelu gradient differs from finite differences by {d}"
        );
        // f32 goes through the same kernel.
        let x32 = Var::from_tensor(&x.to_dtype(candle_core::DType::F32).unwrap()).unwrap();
        let y32 = super::gelu_erf(&x32).unwrap();
        let ref32 = x32.gelu_erf().unwrap();
        let d32 = close(
            &y32.to_dtype(candle_core::DType::F64).unwrap(),
            &ref32.to_dtype(candle_core::DType::F64).unwrap(),
        );
        assert!(d32 < 1e-6, "f32 forward differs by {d32}");
    }

    #[test]
    fn fused_bias_add_matches_broadcast_add_forward_and_backward() {
        let dev = Device::Cpu;
        let rows = 2 * super::GELU_CHUNK / 5 + 3; // several parallel row blocks
        let x = Var::from_tensor(&Tensor::randn(0f64, 1.0, (rows, 5), &dev).unwrap()).unwrap();
        let b = Var::from_tensor(&Tensor::randn(0f64, 1.0, 5, &dev).unwrap()).unwrap();
        let mix = Tensor::randn(0f64, 1.0, (rows, 5), &dev).unwrap();
        let want = x.broadcast_add(&b).unwrap();
        let got = super::add_bias(&x, &b).unwrap();
        assert!(close(&got, &want) < 1e-15);
        let g_ref = (want.sqr().unwrap() * &mix)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let g = (got.sqr().unwrap() * &mix)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        for v in [&x, &b] {
            let d = close(g.get(v).unwrap(), g_ref.get(v).unwrap());
            assert!(d < 1e-9, "gradient differs by {d}");
        }
    }
}
