//! An isotropy regulariser on a batch's embeddings (queries and documents together, L2-normalised,
//! as retrieval compares them), added to the contrastive loss with a weight: the idea of an
//! "isotropic Gaussian encoder". Built from candle ops, so its gradient joins the existing backward
//! on both training paths.
//!
//! - [`IsotropyKind::Covariance`]: `d ||C/tr(C) - I/d||_F^2 = d ||C||_F^2 / tr(C)^2 - 1`, the
//!   distance of the batch covariance `C` from a scaled identity, scale-free; 0 exactly when `C` is
//!   a multiple of the identity, `d / PR - 1` with `PR` the participation ratio (effective
//!   dimension). A batch of `n <= d` vectors spans at most `n - 1` directions, so its minimum is
//!   `d / (n - 1) - 1`: the term spreads variance evenly over the directions the batch has.
//! - [`IsotropyKind::Uniformity`]: Wang & Isola's uniformity loss
//!   `log mean_{i != j} exp(-2 ||x_i - x_j||^2)` (t = 2), lower when the vectors spread over the
//!   sphere (the same quantity `trawl embeddings stats` reports).

use std::str::FromStr;

use candle_core::{Tensor, D};

use crate::bert::l2_normalize;
use crate::{Error, Result};

/// Which isotropy term.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IsotropyKind {
    #[default]
    Covariance,
    Uniformity,
}

impl FromStr for IsotropyKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "covariance" => Ok(Self::Covariance),
            "uniformity" => Ok(Self::Uniformity),
            other => Err(Error::InvalidOption(format!(
                "isotropy kind `{other}`: expected covariance or uniformity"
            ))),
        }
    }
}

impl IsotropyKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Covariance => "covariance",
            Self::Uniformity => "uniformity",
        }
    }
}

/// The regulariser's settings; weight 0 (the default) leaves training unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct IsotropyConfig {
    pub weight: f64,
    pub kind: IsotropyKind,
}

impl IsotropyConfig {
    pub fn is_on(&self) -> bool {
        self.weight != 0.0
    }

    pub fn validate(&self) -> Result<()> {
        if !(self.weight >= 0.0 && self.weight.is_finite()) {
            return Err(Error::InvalidOption(format!(
                "isotropy weight must be >= 0, got {}",
                self.weight
            )));
        }
        Ok(())
    }
}

/// The term (a scalar tensor) on the `(n, d)` embeddings `emb`; `n >= 2`.
pub fn isotropy_term(emb: &Tensor, kind: IsotropyKind) -> Result<Tensor> {
    let (n, d) = emb.dims2()?;
    if n < 2 {
        return Err(Error::InvalidOption(format!(
            "the isotropy term needs at least 2 embeddings, got {n}"
        )));
    }
    let x = l2_normalize(emb)?;
    match kind {
        IsotropyKind::Covariance => {
            let xc = x.broadcast_sub(&x.mean_keepdim(0)?)?;
            // ||Xc^T Xc||_F = ||Xc Xc^T||_F: use the smaller Gram matrix. The 1/n of C cancels.
            let gram = if n <= d {
                xc.matmul(&xc.t()?)?
            } else {
                xc.t()?.matmul(&xc)?
            };
            let frob = gram.sqr()?.sum_all()?;
            let trace = xc.sqr()?.sum_all()?;
            Ok(((frob.div(&trace.sqr()?)? * d as f64)? - 1.0)?)
        }
        IsotropyKind::Uniformity => {
            // -2 ||xi - xj||^2 = 4 xi.xj - 4 on unit vectors; the diagonal (i = j) is masked out.
            let logits = ((x.matmul(&x.t()?)? * 4.0)? - 4.0)?;
            let mask: Vec<f64> = (0..n * n)
                .map(|k| if k / n == k % n { -1e9 } else { 0.0 })
                .collect();
            let mask = Tensor::from_vec(mask, (n, n), emb.device())?.to_dtype(emb.dtype())?;
            let logits = logits.add(&mask)?.flatten_all()?;
            // log-sum-exp around the (constant) maximum.
            let max = logits
                .max(D::Minus1)?
                .to_dtype(candle_core::DType::F64)?
                .to_scalar::<f64>()?;
            let lse = ((logits - max)?.exp()?.sum_all()?.log()? + max)?;
            Ok((lse - ((n * (n - 1)) as f64).ln())?)
        }
    }
}

/// `loss + weight * term(queries and documents)` and the term's value (`None` when off).
pub fn add_isotropy(
    loss: Tensor,
    queries: &Tensor,
    docs: &Tensor,
    cfg: &IsotropyConfig,
) -> Result<(Tensor, Option<f64>)> {
    if !cfg.is_on() {
        return Ok((loss, None));
    }
    let term = isotropy_term(&Tensor::cat(&[queries, docs], 0)?, cfg.kind)?;
    let value = term.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?;
    Ok(((loss + (term * cfg.weight)?)?, Some(value)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device, Var};
    use rand::{Rng, SeedableRng};

    fn scalar(t: &Tensor) -> f64 {
        t.to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap()
    }

    #[test]
    fn gradient_matches_finite_differences_for_both_kinds() {
        let (n, d) = (7, 5);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        // Unnormalised, anisotropic, with an offset: the normalisation and centring are exercised.
        let vals: Vec<f64> = (0..n * d)
            .map(|k| rng.random_range(-1.0..1.0) * (1.0 + (k % d) as f64) + 0.3)
            .collect();
        for kind in [IsotropyKind::Covariance, IsotropyKind::Uniformity] {
            let x = Var::from_vec(vals.clone(), (n, d), &Device::Cpu).unwrap();
            let term = isotropy_term(x.as_tensor(), kind).unwrap();
            let grad: Vec<f64> = term
                .backward()
                .unwrap()
                .get(x.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let h = 1e-6;
            let at = |v: Vec<f64>| {
                scalar(
                    &isotropy_term(&Tensor::from_vec(v, (n, d), &Device::Cpu).unwrap(), kind)
                        .unwrap(),
                )
            };
            let norm = grad.iter().map(|g| g * g).sum::<f64>().sqrt();
            assert!(norm > 1e-3, "{kind:?}: a non-trivial gradient ({norm})");
            for k in 0..n * d {
                let (mut up, mut down) = (vals.clone(), vals.clone());
                up[k] += h;
                down[k] -= h;
                let fd = (at(up) - at(down)) / (2.0 * h);
                assert!(
                    (fd - grad[k]).abs() < 1e-6 * norm.max(1.0),
                    "{kind:?} entry {k}: autograd {} vs finite difference {fd}",
                    grad[k]
                );
            }
        }
    }

    #[test]
    fn known_values_on_constructed_sets() {
        let dev = Device::Cpu;
        // +-e_i for every axis (scaled): mean 0, covariance a multiple of I -> covariance term 0.
        let d = 4;
        let mut rows = Vec::new();
        for i in 0..d {
            for s in [3.0, -3.0] {
                let mut r = vec![0f64; d];
                r[i] = s;
                rows.extend(r);
            }
        }
        let iso = Tensor::from_vec(rows, (2 * d, d), &dev).unwrap();
        let cov = scalar(&isotropy_term(&iso, IsotropyKind::Covariance).unwrap());
        assert!(cov.abs() < 1e-12, "{cov}");
        // Uniformity by hand: for each vector, 1 antipode (distance^2 4) and 2d - 2 orthogonal (2).
        let n = 2 * d;
        let want = (((2 * d - 2) as f64 * (-4f64).exp() + (-8f64).exp()) * n as f64
            / (n * (n - 1)) as f64)
            .ln();
        let uni = scalar(&isotropy_term(&iso, IsotropyKind::Uniformity).unwrap());
        assert!((uni - want).abs() < 1e-12, "{uni} vs {want}");
        // All variance on one axis: d ||C||^2 / tr(C)^2 - 1 = d - 1; identical vectors: uniformity 0.
        let line = Tensor::new(
            &[
                [1f64, 0.2, 0.0, 0.0],
                [-1.0, -0.2, 0.0, 0.0],
                [2.0, 0.4, 0.0, 0.0],
            ],
            &dev,
        )
        .unwrap();
        let cov = scalar(&isotropy_term(&line, IsotropyKind::Covariance).unwrap());
        assert!((cov - 3.0).abs() < 1e-9, "{cov}");
        let same = Tensor::new(&[[1f64, 2.0], [1.0, 2.0], [1.0, 2.0]], &dev).unwrap();
        assert!(scalar(&isotropy_term(&same, IsotropyKind::Uniformity).unwrap()).abs() < 1e-12);
        assert!(isotropy_term(&same.narrow(0, 0, 1).unwrap(), IsotropyKind::Covariance).is_err());
        assert!("gaussian".parse::<IsotropyKind>().is_err());
    }
}
