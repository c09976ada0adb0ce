//! The KL sparsity penalty of the sparse autoencoder (Ng, "Sparse autoencoder", CS294A notes).

use burn::tensor::Tensor;

/// ρ̂ is clamped to [`RHO_HAT_EPS`, 1 − `RHO_HAT_EPS`] before the logarithms, so a unit whose
/// f32 sigmoid saturates over a whole batch gives a large finite penalty instead of ∞ (and no
/// gradient through the clamp).
pub const RHO_HAT_EPS: f64 = 1e-6;

/// Σ_j KL(ρ ‖ ρ̂_j) = Σ_j [ρ ln(ρ/ρ̂_j) + (1 − ρ) ln((1 − ρ)/(1 − ρ̂_j))], in nats, where
/// ρ̂_j = (1/B) Σ_b h_bj is the batch-mean activation of code unit j. `code` is `[B, m]` with
/// values in (0, 1) (a sigmoid code); returns `[1]`. `rho` must lie in (0, 1).
///
/// This is a statistic of the batch, not a sum of per-example terms: the training loss adds
/// `weight · sparsity_kl` once to the batch-mean reconstruction.
pub fn sparsity_kl(code: Tensor<2>, rho: f64) -> Tensor<1> {
    let rho_hat = code
        .mean_dim(0)
        .clamp(RHO_HAT_EPS, 1.0 - RHO_HAT_EPS)
        .squeeze_dim::<1>(0);
    // ρ ln ρ + (1 − ρ) ln(1 − ρ) − ρ ln ρ̂ − (1 − ρ) ln(1 − ρ̂), per unit.
    let c = rho * rho.ln() + (1.0 - rho) * (1.0 - rho).ln();
    let per_unit = rho_hat.clone().log() * (-rho) - (rho_hat.neg() + 1.0).log() * (1.0 - rho) + c;
    per_unit.sum()
}

/// The same penalty on the host in f64 from the mean activations ρ̂ (no clamp), for
/// evaluation over a whole split.
pub fn sparsity_kl_host(rho_hat: &[f64], rho: f64) -> f64 {
    rho_hat
        .iter()
        .map(|&q| rho * (rho / q).ln() + (1.0 - rho) * ((1.0 - rho) / (1.0 - q)).ln())
        .sum()
}
