//! Element-wise and row-wise f32 kernels for BERT-style encoders, written so LLVM vectorises
//! them: each public kernel has an AVX2+FMA build chosen at run time and a portable fallback.
//!
//! [`math`] holds the scalar building blocks (a branch-free `exp`, the erf GELU and its
//! derivative), [`rows`] the forward kernels used by inference and training, [`backward`] the
//! kernels only training needs.
//!
//! ```
//! let mut x = vec![1.0f32, 2.0, 3.0, 0.0, 0.0, 0.0];
//! trawl_kernels::rows::softmax_rows(&mut x, 3);
//! assert!((x[0..3].iter().sum::<f32>() - 1.0).abs() < 1e-6);
//! assert!((x[3] - 1.0 / 3.0).abs() < 1e-6);
//! ```

#![allow(clippy::excessive_precision)] // Cephes / Abramowitz-Stegun constants, as published

pub(crate) fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Declares `pub fn $name(args)` that runs `$generic(args)` compiled for AVX2+FMA when the CPU
/// has them, else the portable build of the same code.
macro_rules! dispatched {
    ($(#[$doc:meta])* $name:ident => $generic:ident ($($arg:ident : $ty:ty),*)) => {
        $(#[$doc])*
        // Kernels take each buffer as its own slice.
        #[allow(clippy::too_many_arguments)]
        pub fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx2($($arg: $ty),*) {
                    $generic($($arg),*)
                }
                if $crate::has_avx2_fma() {
                    // SAFETY: the CPU supports AVX2 and FMA (checked just above).
                    return unsafe { avx2($($arg),*) };
                }
            }
            $generic($($arg),*)
        }
    };
}

/// A raw pointer that parallel tasks writing disjoint regions of one buffer may share (each
/// task writes only its own region; the buffer outlives the tasks).
#[derive(Clone, Copy)]
pub struct SharedMut(*mut f32);
// SAFETY: only used for writes to disjoint regions, one task per region.
unsafe impl Send for SharedMut {}
unsafe impl Sync for SharedMut {}

impl SharedMut {
    pub fn new(buf: &mut [f32]) -> Self {
        Self(buf.as_mut_ptr())
    }

    // A method (not field access) so closures capture the whole Sync wrapper.
    pub fn ptr(&self) -> *mut f32 {
        self.0
    }
}

pub mod backward;
pub mod int8;
pub mod math;
pub mod rows;
