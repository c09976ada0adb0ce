//! Swiss roll, 2-D (scikit-learn's `make_swiss_roll(noise=1.0)`, FFJORD's projection).
//!
//! `t = 1.5π (1 + 2u)` with `u ~ U[0,1)`, then
//! `x = (t cos t + z₀, t sin t + z₁) / 5` (`z` standard normal; the
//! roll's height coordinate is dropped). No closed-form density
//! ([`crate::ToyDensity::log_density`] returns `None`).

use std::f64::consts::PI;

use deepgen_tensor::HostRng;

/// Noise standard deviation before the division by [`SCALE`].
pub const NOISE: f64 = 1.0;
/// The roll is divided by this.
pub const SCALE: f64 = 5.0;

/// `n` independent draws.
pub fn sample(n: usize, rng: &mut HostRng) -> Vec<[f64; 2]> {
    (0..n)
        .map(|_| {
            let t = 1.5 * PI * (1.0 + 2.0 * rng.uniform());
            [
                (t * t.cos() + NOISE * rng.normal()) / SCALE,
                (t * t.sin() + NOISE * rng.normal()) / SCALE,
            ]
        })
        .collect()
}
