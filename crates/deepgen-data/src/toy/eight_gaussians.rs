//! Eight Gaussians on a circle (the FFJORD `8gaussians` convention).
//!
//! An equal-weight mixture of 8 isotropic Gaussians with centres
//! `c_k = R (cos(kπ/4), sin(kπ/4))`, `k = 0..8`, radius `R = 2√2 ≈ 2.828`,
//! and standard deviation `σ = √2/4 ≈ 0.354` per coordinate. (FFJORD draws
//! `4·u_k + 0.5·z` and divides by `1.414`; with `√2` exactly this is the
//! mixture above.) Exact density:
//! `log p(x) = logsumexp_k(−|x − c_k|² / 2σ²) − ln 8 − ln(2πσ²)`.

use std::f64::consts::{FRAC_PI_4, PI, SQRT_2};

use deepgen_tensor::HostRng;

/// Radius of the circle of centres.
pub const RADIUS: f64 = 2.0 * SQRT_2;
/// Standard deviation of each component, per coordinate.
pub const STD: f64 = SQRT_2 / 4.0;
/// Number of components.
pub const COMPONENTS: usize = 8;

/// Centre of component `k` (taken modulo 8).
pub fn centre(k: usize) -> [f64; 2] {
    let a = (k % COMPONENTS) as f64 * FRAC_PI_4;
    [RADIUS * a.cos(), RADIUS * a.sin()]
}

/// `n` independent draws.
pub fn sample(n: usize, rng: &mut HostRng) -> Vec<[f64; 2]> {
    (0..n)
        .map(|_| {
            let c = centre(rng.below(COMPONENTS as u64) as usize);
            [c[0] + STD * rng.normal(), c[1] + STD * rng.normal()]
        })
        .collect()
}

/// Exact log-density at `x`.
pub fn log_density(x: [f64; 2]) -> f64 {
    let e: Vec<f64> = (0..COMPONENTS)
        .map(|k| {
            let c = centre(k);
            -((x[0] - c[0]).powi(2) + (x[1] - c[1]).powi(2)) / (2.0 * STD * STD)
        })
        .collect();
    let m = e.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let lse = m + e.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
    lse - (COMPONENTS as f64).ln() - (2.0 * PI * STD * STD).ln()
}
