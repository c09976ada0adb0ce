//! Concentric rings with Gaussian radial noise, with an exact density.
//!
//! Construction: pick ring `k` with probability `w_k`, draw
//! `ρ = |r_k + σ z|` (`z` standard normal) and an angle `θ ~ U[0, 2π)`,
//! return `ρ (cos θ, sin θ)`. Radii `r = (0.75, 1.5, 2.25, 3.0)`, weights
//! proportional to the radius, `w = (0.1, 0.2, 0.3, 0.4)` (so points are
//! spread evenly along the total arc length), radial noise `σ = 0.08`.
//!
//! Density, derived: in polar coordinates `dx = ρ dρ dθ`. Given the ring,
//! `ρ` is folded-normal, with density `φ_σ(ρ − r_k) + φ_σ(ρ + r_k)` on
//! `ρ ≥ 0` (`φ_σ` the `N(0, σ²)` density; the fold puts the mass of
//! `r_k + σz < 0` back on the positive side), independent of `θ` whose
//! density is `1/2π`. Dividing by the Jacobian `ρ`:
//! `p(x) = Σ_k w_k [φ_σ(|x| − r_k) + φ_σ(|x| + r_k)] / (2π|x|)`.
//! The second term is below `e^{-43}` relative to the first for these
//! radii, but it keeps the formula exact. The density has an integrable
//! `1/|x|` singularity at the origin (of negligible mass, `~e^{-44}`), where
//! [`log_density`] returns `+∞`.

use std::f64::consts::{PI, TAU};

use deepgen_tensor::HostRng;

/// Ring radii.
pub const RADII: [f64; 4] = [0.75, 1.5, 2.25, 3.0];
/// Ring weights (∝ radius, summing to 1).
pub const WEIGHTS: [f64; 4] = [0.1, 0.2, 0.3, 0.4];
/// Radial noise standard deviation.
pub const STD: f64 = 0.08;

/// `n` independent draws.
pub fn sample(n: usize, rng: &mut HostRng) -> Vec<[f64; 2]> {
    (0..n)
        .map(|_| {
            let u = rng.uniform();
            let mut k = 0;
            let mut acc = WEIGHTS[0];
            while u >= acc && k + 1 < RADII.len() {
                k += 1;
                acc += WEIGHTS[k];
            }
            let rho = (RADII[k] + STD * rng.normal()).abs();
            let theta = TAU * rng.uniform();
            [rho * theta.cos(), rho * theta.sin()]
        })
        .collect()
}

/// Exact log-density at `x` (`+∞` at the origin).
pub fn log_density(x: [f64; 2]) -> f64 {
    let rho = x[0].hypot(x[1]);
    if rho == 0.0 {
        return f64::INFINITY;
    }
    // log φ_σ(d) = −d²/2σ² − ln(σ√(2π)); combine the 8 terms by logsumexp.
    let terms: Vec<f64> = RADII
        .iter()
        .zip(WEIGHTS)
        .flat_map(|(&r, w)| [rho - r, rho + r].map(|d| w.ln() - d * d / (2.0 * STD * STD)))
        .collect();
    let m = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let lse = m + terms.iter().map(|t| (t - m).exp()).sum::<f64>().ln();
    lse - (STD * (2.0 * PI).sqrt()).ln() - (2.0 * PI * rho).ln()
}
