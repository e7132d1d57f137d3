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

    /// Zeroes each element with probability `p` and scales the rest by `1 / (1 - p)`
    /// (inverted dropout, as in PyTorch). `p == 0` returns the input unchanged.
    pub fn apply(&mut self, xs: &Tensor, p: f64) -> Result<Tensor> {
        if p <= 0.0 {
            return Ok(xs.clone());
        }
        let keep_scale = (1.0 / (1.0 - p)) as f32;
        // Drop when a uniform u32 falls below p * 2^32.
        let threshold = (p * 4_294_967_296.0).min(u32::MAX as f64) as u32;
        let n = xs.elem_count();
        let mut mask = Vec::with_capacity(n);
        for _ in 0..n {
            let keep = self.rng.next_u32() >= threshold;
            mask.push(if keep { keep_scale } else { 0.0 });
        }
        let mask = Tensor::from_vec(mask, xs.shape(), xs.device())?.to_dtype(xs.dtype())?;
        Ok(xs.mul(&mask)?)
    }
}
