//! AdamW with parameter groups (separate learning rates for base and head), decoupled weight
//! decay skipped for biases and layer-norm weights (as Hugging Face's Trainer does), global
//! gradient-norm clipping, the linear warmup/decay schedule, and state that can be saved and
//! restored (candle's own `AdamW` keeps its moments private, so resuming with it would restart them).

use std::collections::HashMap;

use candle_core::{DType, Tensor, Var};

use crate::{Error, Result};

/// One parameter group.
pub struct ParamGroup {
    pub params: Vec<(String, Var)>,
    /// Peak learning rate of this group.
    pub lr: f64,
}

struct Slot {
    name: String,
    var: Var,
    group: usize,
    decay: bool,
    m: Tensor,
    v: Tensor,
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
                let zeros = var.as_tensor().zeros_like()?;
                slots.push(Slot {
                    decay: decays(&name),
                    name,
                    var,
                    group: gi,
                    m: zeros.clone(),
                    v: zeros,
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

    /// One update with each group's peak rate times `lr_mult` (the schedule). Parameters without
    /// a gradient in `grads` are left alone.
    pub fn step(&mut self, grads: &HashMap<String, Tensor>, lr_mult: f64) -> Result<()> {
        self.step += 1;
        let t = self.step as i32;
        let bc1 = 1.0 - self.beta1.powi(t);
        let bc2 = 1.0 - self.beta2.powi(t);
        for s in &mut self.slots {
            let Some(g) = grads.get(&s.name) else {
                continue;
            };
            let lr = self.group_lr[s.group] * lr_mult;
            let m = ((&s.m * self.beta1)? + (g * (1.0 - self.beta1))?)?;
            let v = ((&s.v * self.beta2)? + (g.sqr()? * (1.0 - self.beta2))?)?;
            let denom = ((&v * (1.0 / bc2))?.sqrt()? + self.eps)?;
            let update = ((&m * (lr / bc1))? / denom)?;
            let mut theta = s.var.as_tensor().clone();
            if s.decay && self.weight_decay > 0.0 {
                theta = (theta * (1.0 - lr * self.weight_decay))?;
            }
            s.var.set(&(theta - update)?)?;
            s.m = m;
            s.v = v;
        }
        Ok(())
    }

    /// Moments as a tensor map (`m.<name>`, `v.<name>`) for a checkpoint; the step count is
    /// stored by the caller.
    pub fn state_tensors(&self) -> Result<HashMap<String, Tensor>> {
        let mut out = HashMap::new();
        for s in &self.slots {
            out.insert(format!("m.{}", s.name), s.m.to_dtype(DType::F32)?);
            out.insert(format!("v.{}", s.name), s.v.to_dtype(DType::F32)?);
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
            s.m = get(format!("m.{}", s.name))?;
            s.v = get(format!("v.{}", s.name))?;
        }
        self.step = step;
        Ok(())
    }
}

/// Scales gradients so their global L2 norm is at most `max_norm`; returns the norm before.
pub fn clip_grad_norm(grads: &mut HashMap<String, Tensor>, max_norm: f64) -> Result<f64> {
    let mut sq = 0f64;
    for g in grads.values() {
        sq += g
            .sqr()?
            .sum_all()?
            .to_dtype(DType::F64)?
            .to_scalar::<f64>()?;
    }
    let norm = sq.sqrt();
    if max_norm > 0.0 && norm > max_norm {
        let scale = max_norm / (norm + 1e-6);
        for g in grads.values_mut() {
            *g = (&*g * scale)?;
        }
    }
    Ok(norm)
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
