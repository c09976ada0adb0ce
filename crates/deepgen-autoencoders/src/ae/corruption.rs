//! Input corruption of the denoising autoencoder (Vincent et al. 2008, 2010).
//!
//! Noise is drawn from a [`HostRng`] (the training loop's per-epoch stream, or a fixed seed at
//! evaluation), never from the device RNG, so a seed gives the same corrupted inputs on every
//! backend and a resumed run replays them.

use deepgen_tensor::HostRng;

/// How a denoising autoencoder corrupts its input x̃ ~ q(x̃ | x); the target stays the clean x.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Corruption {
    /// Additive isotropic Gaussian noise: x̃ = x + σ·ε, ε ~ N(0, I) (not clipped).
    Gaussian {
        /// Standard deviation σ ≥ 0.
        sigma: f64,
    },
    /// Masking noise: each input element is independently set to 0 with probability `p`.
    Masking {
        /// Drop probability in [0, 1).
        p: f64,
    },
}

impl Corruption {
    /// Corrupts `x` in place, drawing one value per element from `rng`, in order.
    pub fn apply(&self, x: &mut [f32], rng: &mut HostRng) {
        match *self {
            Corruption::Gaussian { sigma } => {
                for v in x.iter_mut() {
                    *v = (f64::from(*v) + sigma * rng.normal()) as f32;
                }
            }
            Corruption::Masking { p } => {
                for v in x.iter_mut() {
                    if rng.uniform() < p {
                        *v = 0.0;
                    }
                }
            }
        }
    }

    /// A corrupted copy of `x`.
    pub fn corrupted(&self, x: &[f32], rng: &mut HostRng) -> Vec<f32> {
        let mut out = x.to_vec();
        self.apply(&mut out, rng);
        out
    }
}
