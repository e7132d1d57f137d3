//! AdamW with parameter groups (separate learning rates for base and head), decoupled weight
//! decay skipped for biases and layer-norm weights (as Hugging Face's Trainer does), global
//! gradient-norm clipping, the linear warmup/decay schedule, and state that can be saved and
//! restored (candle's own `AdamW` keeps its moments private, so resuming with it would restart them).
//! f32 CPU parameters are updated in place by one fused parallel pass (moments kept as plain
//! vectors); other parameters through candle tensor ops.

use std::cell::RefCell;
use std::collections::HashMap;

use candle_core::{CpuStorage, DType, InplaceOp1, Layout, Tensor, Var};
use rayon::prelude::*;

use crate::packed::HostF32;
use crate::{Error, Result};

/// One parameter group.
pub struct ParamGroup {
    pub params: Vec<(String, Var)>,
    /// Peak learning rate of this group.
    pub lr: f64,
}

/// First and second moments of one parameter.
enum Moments {
    /// For an f32 CPU parameter: plain vectors, updated in place with it.
    Host {
        m: Vec<f32>,
        v: Vec<f32>,
    },
    Tensors {
        m: Tensor,
        v: Tensor,
    },
}

struct Slot {
    name: String,
    var: Var,
    group: usize,
    decay: bool,
    moments: Moments,
}

/// The hyper-parameters of one fused update.
#[derive(Clone, Copy)]
struct Update {
    lr: f32,
    decay: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    bc1: f32,
    bc2: f32,
    grad_scale: f32,
}

/// One AdamW update of an f32 CPU parameter in place (candle calls it with the parameter's
/// storage); the moments and the gradient are borrowed from the optimizer.
struct FusedAdamW<'a> {
    grad: &'a [f32],
    m: RefCell<&'a mut [f32]>,
    v: RefCell<&'a mut [f32]>,
    u: Update,
}

impl InplaceOp1 for FusedAdamW<'_> {
    fn name(&self) -> &'static str {
        "fused-adamw"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> candle_core::Result<()> {
        let (CpuStorage::F32(theta), Some((start, end))) = (storage, layout.contiguous_offsets())
        else {
            candle_core::bail!("fused AdamW needs a contiguous f32 parameter");
        };
        let theta = &mut theta[start..end];
        let (mut m, mut v) = (self.m.borrow_mut(), self.v.borrow_mut());
        if theta.len() != self.grad.len() || m.len() != theta.len() || v.len() != theta.len() {
            candle_core::bail!("fused AdamW: parameter, gradient and moments differ in size");
        }
        let u = self.u;
        const CHUNK: usize = 1 << 14;
        theta
            .par_chunks_mut(CHUNK)
            .zip(m.par_chunks_mut(CHUNK))
            .zip(v.par_chunks_mut(CHUNK))
            .zip(self.grad.par_chunks(CHUNK))
            .for_each(|(((th, m), v), g)| {
                for (((th, m), v), g) in th.iter_mut().zip(m).zip(v).zip(g) {
                    let g = g * u.grad_scale;
                    *m = u.beta1 * *m + (1.0 - u.beta1) * g;
                    *v = u.beta2 * *v + (1.0 - u.beta2) * g * g;
                    let denom = (*v / u.bc2).sqrt() + u.eps;
                    *th = *th * (1.0 - u.lr * u.decay) - (u.lr / u.bc1) * *m / denom;
                }
            });
        Ok(())
    }
}

/// AdamW (PyTorch semantics: `theta -= lr * (wd * theta + m_hat / (sqrt(v_hat) + eps))`).
pub struct AdamW {
    slots: Vec<Slot>,
    group_lr: Vec<f64>,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    step: u64,
}

fn decays(name: &str) -> bool {
    !(name.ends_with("bias") || name.contains("LayerNorm"))
}

impl AdamW {
    pub fn new(groups: Vec<ParamGroup>, weight_decay: f64) -> Result<Self> {
        let mut slots = Vec::new();
        let mut group_lr = Vec::new();
        for (gi, g) in groups.into_iter().enumerate() {
            group_lr.push(g.lr);
            for (name, var) in g.params {
                let moments = if HostF32::new(var.as_tensor()).is_some() {
                    Moments::Host {
                        m: vec![0.0; var.elem_count()],
                        v: vec![0.0; var.elem_count()],
                    }
                } else {
                    let zeros = var.as_tensor().zeros_like()?;
                    Moments::Tensors {
                        m: zeros.clone(),
                        v: zeros,
                    }
                };
                slots.push(Slot {
                    decay: decays(&name),
                    name,
                    var,
                    group: gi,
                    moments,
                });
            }
        }
        Ok(Self {
            slots,
            group_lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay,
            step: 0,
        })
    }

    /// Optimizer steps taken so far.
    pub fn steps(&self) -> u64 {
        self.step
    }

    pub fn num_params(&self) -> usize {
        self.slots.len()
    }

    /// The parameters, in optimizer order.
    pub fn vars(&self) -> impl Iterator<Item = (&str, &Var)> {
        self.slots.iter().map(|s| (s.name.as_str(), &s.var))
    }

    /// One update with each group's peak rate times `lr_mult` (the schedule), each gradient
    /// multiplied by `grad_scale` first (the clipping factor). Parameters without a gradient in
    /// `grads` are left alone.
    pub fn step(
        &mut self,
        grads: &HashMap<String, Tensor>,
        lr_mult: f64,
        grad_scale: f64,
    ) -> Result<()> {
        self.step += 1;
        let t = self.step as i32;
        let bc1 = 1.0 - self.beta1.powi(t);
        let bc2 = 1.0 - self.beta2.powi(t);
        for s in &mut self.slots {
            let Some(g) = grads.get(&s.name) else {
                continue;
            };
            let lr = self.group_lr[s.group] * lr_mult;
            let decay = if s.decay { self.weight_decay } else { 0.0 };
            match &mut s.moments {
                Moments::Host { m, v } => {
                    let g = g.to_dtype(DType::F32)?.contiguous()?;
                    let Some(grad) = HostF32::new(&g) else {
                        return Err(Error::InvalidOption(format!(
                            "gradient of `{}` is not on the CPU like its parameter",
                            s.name
                        )));
                    };
                    let op = FusedAdamW {
                        grad: grad.as_slice(),
                        m: RefCell::new(m),
                        v: RefCell::new(v),
                        u: Update {
                            lr: lr as f32,
                            decay: decay as f32,
                            beta1: self.beta1 as f32,
                            beta2: self.beta2 as f32,
                            eps: self.eps as f32,
                            bc1: bc1 as f32,
                            bc2: bc2 as f32,
                            grad_scale: grad_scale as f32,
                        },
                    };
                    s.var.as_tensor().inplace_op1(&op)?;
                }
                Moments::Tensors { m, v } => {
                    let g = if grad_scale == 1.0 {
                        g.clone()
                    } else {
                        (g * grad_scale)?
                    };
                    let new_m = ((&*m * self.beta1)? + (&g * (1.0 - self.beta1))?)?;
                    let new_v = ((&*v * self.beta2)? + (g.sqr()? * (1.0 - self.beta2))?)?;
                    let denom = ((&new_v * (1.0 / bc2))?.sqrt()? + self.eps)?;
                    let update = ((&new_m * (lr / bc1))? / denom)?;
                    let mut theta = s.var.as_tensor().clone();
                    if decay > 0.0 {
                        theta = (theta * (1.0 - lr * decay))?;
                    }
                    s.var.set(&(theta - update)?)?;
                    *m = new_m;
                    *v = new_v;
                }
            }
        }
        Ok(())
    }

    /// Moments as a tensor map (`m.<name>`, `v.<name>`) for a checkpoint; the step count is
    /// stored by the caller.
    pub fn state_tensors(&self) -> Result<HashMap<String, Tensor>> {
        let mut out = HashMap::new();
        for s in &self.slots {
            let (m, v) = match &s.moments {
                Moments::Host { m, v } => {
                    let dev = s.var.device();
                    (
                        Tensor::from_slice(m, s.var.shape(), dev)?,
                        Tensor::from_slice(v, s.var.shape(), dev)?,
                    )
                }
                Moments::Tensors { m, v } => (m.to_dtype(DType::F32)?, v.to_dtype(DType::F32)?),
            };
            out.insert(format!("m.{}", s.name), m);
            out.insert(format!("v.{}", s.name), v);
        }
        Ok(out)
    }

    /// Restores moments saved by [`AdamW::state_tensors`] and the step count.
    pub fn load_state(&mut self, tensors: &HashMap<String, Tensor>, step: u64) -> Result<()> {
        for s in &mut self.slots {
            let get = |k: String| -> Result<Tensor> {
                let t = tensors
                    .get(&k)
                    .ok_or_else(|| Error::InvalidOption(format!("optimizer state lacks `{k}`")))?;
                if t.dims() != s.var.dims() {
                    return Err(Error::InvalidOption(format!(
                        "optimizer state `{k}` has the wrong shape"
                    )));
                }
                Ok(t.to_dtype(s.var.dtype())?.to_device(s.var.device())?)
            };
            let (m, v) = (get(format!("m.{}", s.name))?, get(format!("v.{}", s.name))?);
            s.moments = match s.moments {
                Moments::Host { .. } => Moments::Host {
                    m: m.flatten_all()?.to_vec1()?,
                    v: v.flatten_all()?.to_vec1()?,
                },
                Moments::Tensors { .. } => Moments::Tensors { m, v },
            };
        }
        self.step = step;
        Ok(())
    }
}

/// Global L2 norm of all gradients (f64 accumulation).
pub fn grad_norm(grads: &HashMap<String, Tensor>) -> Result<f64> {
    let mut sq = 0f64;
    for g in grads.values() {
        sq += match HostF32::new(g) {
            // Block sums collected, then added in order: the same bits on every run.
            Some(host) => host
                .as_slice()
                .par_chunks(1 << 14)
                .map(|c| c.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>())
                .collect::<Vec<f64>>()
                .iter()
                .sum::<f64>(),
            None => g
                .to_dtype(DType::F64)?
                .sqr()?
                .sum_all()?
                .to_scalar::<f64>()?,
        };
    }
    Ok(sq.sqrt())
}

/// The factor that scales gradients of global norm `norm` down to `max_norm` (1 when they are
/// within it or `max_norm` is 0): PyTorch's `clip_grad_norm_`.
pub fn clip_factor(norm: f64, max_norm: f64) -> f64 {
    if max_norm > 0.0 && norm > max_norm {
        max_norm / (norm + 1e-6)
    } else {
        1.0
    }
}

/// Linear warmup from 0 to 1 over `warmup` steps, then linear decay to 0 at `total`
/// (Hugging Face's `get_linear_schedule_with_warmup`, evaluated at the 0-based step).
pub fn linear_schedule(step: u64, warmup: u64, total: u64) -> f64 {
    if step < warmup {
        return step as f64 / warmup.max(1) as f64;
    }
    let rest = total.saturating_sub(warmup).max(1) as f64;
    (total.saturating_sub(step) as f64 / rest).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// PyTorch's AdamW on one scalar, step by step (the formula of `torch.optim.AdamW`).
    fn reference(theta: f64, grads: &[f64], lr: f64, wd: f64, scale: f64) -> f64 {
        let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8);
        let (mut th, mut m, mut v) = (theta, 0.0, 0.0);
        for (t, g) in grads.iter().enumerate() {
            let g = g * scale;
            th *= 1.0 - lr * wd;
            m = b1 * m + (1.0 - b1) * g;
            v = b2 * v + (1.0 - b2) * g * g;
            let (bc1, bc2) = (1.0 - b1.powi(t as i32 + 1), 1.0 - b2.powi(t as i32 + 1));
            th -= lr * (m / bc1) / ((v / bc2).sqrt() + eps);
        }
        th
    }

    #[test]
    fn fused_and_tensor_updates_follow_pytorch_adamw() {
        let start = [0.5f64, -1.0, 2.0, 0.0];
        let steps = [
            [0.1f64, -0.2, 0.3, 0.0],
            [0.05, 0.4, -0.1, 1e-3],
            [-0.3, 0.1, 0.2, 0.5],
        ];
        // f32 on the CPU takes the fused in-place path; f64 the tensor path.
        for dtype in [DType::F32, DType::F64] {
            let var = Var::from_tensor(
                &Tensor::new(&start, &Device::Cpu)
                    .unwrap()
                    .to_dtype(dtype)
                    .unwrap(),
            )
            .unwrap();
            let bias = Var::from_tensor(&var.as_tensor().copy().unwrap()).unwrap();
            let groups = vec![ParamGroup {
                params: vec![
                    ("w.weight".into(), var.clone()),
                    ("w.bias".into(), bias.clone()),
                ],
                lr: 0.1,
            }];
            let mut opt = AdamW::new(groups, 0.01).unwrap();
            for g in &steps {
                let g = Tensor::new(g, &Device::Cpu)
                    .unwrap()
                    .to_dtype(dtype)
                    .unwrap();
                let grads = HashMap::from([
                    ("w.weight".to_string(), g.clone()),
                    ("w.bias".to_string(), g),
                ]);
                opt.step(&grads, 0.5, 0.8).unwrap();
            }
            let got: Vec<f64> = var
                .as_tensor()
                .to_dtype(DType::F64)
                .unwrap()
                .to_vec1()
                .unwrap();
            let got_bias: Vec<f64> = bias
                .as_tensor()
                .to_dtype(DType::F64)
                .unwrap()
                .to_vec1()
                .unwrap();
            for i in 0..4 {
                let gs: Vec<f64> = steps.iter().map(|s| s[i]).collect();
                // Weight decay applies to weights, not biases.
                let want = reference(start[i], &gs, 0.05, 0.01, 0.8);
                let want_bias = reference(start[i], &gs, 0.05, 0.0, 0.8);
                assert!(
                    (got[i] - want).abs() < 1e-6,
                    "{dtype:?} weight[{i}]: {} vs {want}",
                    got[i]
                );
                assert!(
                    (got_bias[i] - want_bias).abs() < 1e-6,
                    "{dtype:?} bias[{i}]"
                );
            }
            // Moments survive a save/restore round trip.
            let state = opt.state_tensors().unwrap();
            let mut again = AdamW::new(
                vec![ParamGroup {
                    params: vec![
                        ("w.weight".into(), var.clone()),
                        ("w.bias".into(), bias.clone()),
                    ],
                    lr: 0.1,
                }],
                0.01,
            )
            .unwrap();
            again.load_state(&state, opt.steps()).unwrap();
            assert_eq!(
                again.state_tensors().unwrap()["m.w.weight"]
                    .to_dtype(DType::F64)
                    .unwrap()
                    .to_vec1::<f64>()
                    .unwrap(),
                state["m.w.weight"]
                    .to_dtype(DType::F64)
                    .unwrap()
                    .to_vec1::<f64>()
                    .unwrap()
            );
        }
    }

    #[test]
    fn clipping_factor_and_norm() {
        let g = HashMap::from([
            (
                "a".to_string(),
                Tensor::new(&[3f32, 0.0], &Device::Cpu).unwrap(),
            ),
            ("b".to_string(), Tensor::new(&[4f64], &Device::Cpu).unwrap()),
        ]);
        assert!((grad_norm(&g).unwrap() - 5.0).abs() < 1e-12);
        assert!((clip_factor(5.0, 1.0) - 1.0 / (5.0 + 1e-6)).abs() < 1e-12);
        assert_eq!(clip_factor(0.5, 1.0), 1.0);
        assert_eq!(clip_factor(5.0, 0.0), 1.0);
    }
}
