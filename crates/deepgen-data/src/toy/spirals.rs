//! Two interleaved spirals (FFJORD `2spirals`).
//!
//! `s = 3π√u` (`u ~ U[0,1)`, i.e. up to 540°), `d = (−s cos s + v/2, s sin s + w/2)`
//! with `v, w ~ U[0,1)`, a fair sign `±d` picks the spiral, then
//! `x = ±d/3 + 0.1 z`. No closed-form density ([`crate::ToyDensity::log_density`]
//! returns `None`).

use std::f64::consts::PI;

use deepgen_tensor::HostRng;

/// `n` independent draws.
pub fn sample(n: usize, rng: &mut HostRng) -> Vec<[f64; 2]> {
    (0..n)
        .map(|_| {
            let s = 3.0 * PI * rng.uniform().sqrt();
            let dx = -s.cos() * s + 0.5 * rng.uniform();
            let dy = s.sin() * s + 0.5 * rng.uniform();
            let sign = if rng.below(2) == 0 { 1.0 } else { -1.0 };
            [
                sign * dx / 3.0 + 0.1 * rng.normal(),
                sign * dy / 3.0 + 0.1 * rng.normal(),
            ]
        })
        .collect()
}
