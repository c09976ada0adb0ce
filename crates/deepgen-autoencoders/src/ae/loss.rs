//! Reconstruction losses, per example.

use burn::tensor::Tensor;
use burn::tensor::activation::sigmoid;
use deepgen_tensor::numerics::tensor::softplus;

/// Bernoulli cross-entropy of targets `x` ∈ [0, 1] under logits ℓ, in nats per example,
/// summed over the `D` elements: −Σ_d [x ln σ(ℓ) + (1 − x) ln(1 − σ(ℓ))] = Σ_d softplus(ℓ) − xℓ.
/// `[B, D]` → `[B]`.
///
/// For grey-level targets this is a cross-entropy, not a normalised likelihood: its minimum
/// over ℓ is the binary entropy Σ_d H(x_d), not 0.
pub fn bernoulli_cross_entropy(logits: Tensor<2>, x: Tensor<2>) -> Tensor<1> {
    (softplus(logits.clone()) - x * logits)
        .sum_dim(1)
        .squeeze_dim(1)
}

/// Mean squared error per element between the reconstruction σ(ℓ) and `x`:
/// (1/D) Σ_d (σ(ℓ_d) − x_d)². `[B, D]` → `[B]`.
pub fn mse_per_element(logits: Tensor<2>, x: Tensor<2>) -> Tensor<1> {
    let diff = sigmoid(logits) - x;
    (diff.clone() * diff).mean_dim(1).squeeze_dim(1)
}
