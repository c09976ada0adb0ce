//! Two interleaving half-moons (scikit-learn's `make_moons`, FFJORD scaling).
//!
//! With probability ½ each: the upper moon `(cos t, sin t)` or the lower
//! moon `(1 − cos t, ½ − sin t)`, with `t ~ U[0, π]` (scikit-learn spaces `t`
//! evenly; drawing it uniformly makes this a proper density). Gaussian
//! noise `0.1 z` is added per coordinate, then FFJORD's map
//! `x ↦ 2x + (−1, −0.2)` centres the data: the mean is exactly `(0, 0.3)`.
//! The density is a convolution of arcs with a Gaussian and has no closed
//! form, so [`crate::ToyDensity::log_density`] returns `None` for it.

use std::f64::consts::PI;

use deepgen_tensor::HostRng;

/// Noise standard deviation before scaling (scikit-learn's `noise`).
pub const NOISE: f64 = 0.1;

/// `n` independent draws.
pub fn sample(n: usize, rng: &mut HostRng) -> Vec<[f64; 2]> {
    (0..n)
        .map(|_| {
            let t = PI * rng.uniform();
            let p = if rng.below(2) == 0 {
                [t.cos(), t.sin()]
            } else {
                [1.0 - t.cos(), 0.5 - t.sin()]
            };
            [
                2.0 * (p[0] + NOISE * rng.normal()) - 1.0,
                2.0 * (p[1] + NOISE * rng.normal()) - 0.2,
            ]
        })
        .collect()
}
