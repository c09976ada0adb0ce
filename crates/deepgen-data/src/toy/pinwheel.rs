//! Pinwheel: five curved blades (FFJORD `pinwheel`).
//!
//! Blade `k ~ U{0..5}`; features `f = (1 + 0.3 z₀, 0.1 z₁)`; angle
//! `a = 2πk/5 + 0.25 e^{f₀}`; `x = 2 (f₀ cos a + f₁ sin a, −f₀ sin a + f₁ cos a)`
//! (FFJORD's `einsum("ti,tij->tj")`, a rotation by `−a`). Rotation keeps
//! norms, so `E|x|² = 4 (1 + 0.3² + 0.1²) = 4.4` exactly. The map from `f`
//! to `x` is not invertible in closed form, so there is no analytic density
//! ([`crate::ToyDensity::log_density`] returns `None`).

use std::f64::consts::TAU;

use deepgen_tensor::HostRng;

/// Number of blades.
pub const BLADES: u64 = 5;
/// Radial standard deviation of the features.
pub const RADIAL_STD: f64 = 0.3;
/// Tangential standard deviation of the features.
pub const TANGENTIAL_STD: f64 = 0.1;
/// How strongly the angle grows with the radial feature.
pub const RATE: f64 = 0.25;

/// `n` independent draws.
pub fn sample(n: usize, rng: &mut HostRng) -> Vec<[f64; 2]> {
    (0..n)
        .map(|_| {
            let k = rng.below(BLADES) as f64;
            let f0 = 1.0 + RADIAL_STD * rng.normal();
            let f1 = TANGENTIAL_STD * rng.normal();
            let a = TAU * k / BLADES as f64 + RATE * f0.exp();
            let (s, c) = a.sin_cos();
            [2.0 * (f0 * c + f1 * s), 2.0 * (-f0 * s + f1 * c)]
        })
        .collect()
}
