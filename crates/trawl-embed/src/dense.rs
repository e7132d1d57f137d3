//! sentence-transformers' Dense module: its weights (safetensors or pytorch_model.bin, f32, f16
//! or bf16) and `y = act(x W^T + b)` on pooled vectors.

use candle_core::Tensor;

use crate::config::{DenseActivation, DenseModule};
use crate::weights::{float_f32, read_tensors, weights_path};
use crate::{Error, Result};

/// A Dense module's weight `(out, in)` and optional bias `(out)`, as f32 CPU tensors checked
/// against its config.json.
pub fn load_dense_tensors(m: &DenseModule) -> Result<(Tensor, Option<Tensor>)> {
    let path = weights_path(&m.dir)?;
    let tensors = read_tensors(&path)?;
    let (inp, out) = (m.config.in_features, m.config.out_features);
    let get = |name: &str, shape: &[usize]| -> Result<Tensor> {
        let t = tensors.get(name).ok_or_else(|| Error::MissingWeight {
            path: path.clone(),
            tensor: name.into(),
        })?;
        if t.dims() != shape {
            return Err(Error::ShapeMismatch {
                path: path.clone(),
                tensor: name.into(),
                expected: shape.to_vec(),
                found: t.dims().to_vec(),
            });
        }
        float_f32(t, name, &path)
    };
    let weight = get("linear.weight", &[out, inp])?;
    let bias = if m.config.bias {
        Some(get("linear.bias", &[out])?)
    } else {
        None
    };
    Ok((weight, bias))
}

/// A loaded Dense module for inference.
pub(crate) struct Dense {
    weight: Vec<f32>,
    bias: Option<Vec<f32>>,
    inp: usize,
    out: usize,
    activation: DenseActivation,
}

impl Dense {
    pub fn load(m: &DenseModule) -> Result<Dense> {
        let (w, b) = load_dense_tensors(m)?;
        Ok(Dense {
            weight: w.flatten_all()?.to_vec1()?,
            bias: b.map(|b| b.to_vec1()).transpose()?,
            inp: m.config.in_features,
            out: m.config.out_features,
            activation: m.activation,
        })
    }

    pub fn in_features(&self) -> usize {
        self.inp
    }

    pub fn out_features(&self) -> usize {
        self.out
    }

    /// Rows of width `in` -> rows of width `out`.
    pub fn apply(&self, x: &[f32]) -> Vec<f32> {
        let n = x.len() / self.inp;
        let mut y = vec![0f32; n * self.out];
        for (xr, yr) in x.chunks_exact(self.inp).zip(y.chunks_exact_mut(self.out)) {
            for (o, (yo, wr)) in yr
                .iter_mut()
                .zip(self.weight.chunks_exact(self.inp))
                .enumerate()
            {
                let dot: f32 = xr.iter().zip(wr).map(|(a, b)| a * b).sum();
                let v = dot + self.bias.as_ref().map_or(0.0, |b| b[o]);
                *yo = match self.activation {
                    DenseActivation::Identity => v,
                    DenseActivation::Tanh => v.tanh(),
                };
            }
        }
        y
    }
}
