//! Seeded dropout: the masks come from a ChaCha stream derived from (seed, step), so a run (and a
//! resumed run) draws the same masks without saving any RNG state.

use candle_core::Tensor;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::Result;

/// Source of dropout masks for one forward pass (or one training step).
pub struct DropoutRng {
    rng: ChaCha8Rng,
}

impl DropoutRng {
    /// The mask stream for training step `step` of a run seeded with `seed`.
    pub fn for_step(seed: u64, step: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(step.wrapping_add(1));
        Self { rng }
    }

    /// One byte per element, 1 = kept: each element is dropped with probability `p` (a uniform
    /// 16-bit draw below `p * 2^16`, four draws per u64). Empty when `p <= 0`.
    pub fn keep_mask(&mut self, n: usize, p: f64) -> Vec<u8> {
        if p <= 0.0 {
            return Vec::new();
        }
        let threshold = (p * 65536.0).round().min(65535.0) as u64;
        let mut mask = vec![0u8; n];
        // One u64 per four elements; the last, shorter chunk takes a whole u64 too.
        for c in mask.chunks_mut(4) {
            let bits = self.rng.next_u64();
            for (k, m) in c.iter_mut().enumerate() {
                *m = ((bits >> (16 * k)) & 0xffff >= threshold) as u8;
            }
        }
        mask
    }

    /// Zeroes each element with probability `p` and scales the rest by `1 / (1 - p)`
    /// (inverted dropout, as in PyTorch). `p == 0` returns the input unchanged.
    pub fn apply(&mut self, xs: &Tensor, p: f64) -> Result<Tensor> {
        if p <= 0.0 {
            return Ok(xs.clone());
        }
        let keep_scale = (1.0 / (1.0 - p)) as f32;
        let mask: Vec<f32> = self
            .keep_mask(xs.elem_count(), p)
            .into_iter()
            .map(|k| k as f32 * keep_scale)
            .collect();
        let mask = Tensor::from_vec(mask, xs.shape(), xs.device())?.to_dtype(xs.dtype())?;
        Ok(xs.mul(&mask)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_about_p_and_rescales_the_rest() {
        let x = Tensor::ones(100_000, candle_core::DType::F32, &candle_core::Device::Cpu).unwrap();
        let y: Vec<f32> = DropoutRng::for_step(1, 2)
            .apply(&x, 0.1)
            .unwrap()
            .to_vec1()
            .unwrap();
        let dropped = y.iter().filter(|v| **v == 0.0).count() as f64 / y.len() as f64;
        assert!((dropped - 0.1).abs() < 0.005, "dropped {dropped}");
        assert!(y.iter().all(|v| *v == 0.0 || (*v - 1.0 / 0.9).abs() < 1e-6));
        let again: Vec<f32> = DropoutRng::for_step(1, 2)
            .apply(&x, 0.1)
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(y, again, "same seed and step, same mask");
        let other: Vec<f32> = DropoutRng::for_step(1, 3)
            .apply(&x, 0.1)
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_ne!(y, other);
    }
}
