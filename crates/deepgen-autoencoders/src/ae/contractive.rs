//! The contractive penalty (Rifai et al. 2011, "Contractive auto-encoders").
//!
//! For a sigmoid layer h = σ(W x + b) the Jacobian is ∂h_j/∂x_i = h_j(1 − h_j) W_ji, so
//!
//! ```text
//! ‖J(x)‖²_F = Σ_j (h_j(1 − h_j))² Σ_i W_ji²
//! ```
//!
//! (Rifai et al., eq. 5). Burn has first-order autodiff only, so the penalty is this closed
//! form, whose gradient with respect to W and b autodiff then computes exactly. It is the
//! Jacobian of the **first encoder layer** ([`Autoencoder::sigmoid_first_layer`]): the whole
//! encoder for the classical one-layer sigmoid encoder, and only the first hidden layer of a
//! deeper sigmoid MLP.
//!
//! [`Autoencoder::sigmoid_first_layer`]: super::Autoencoder::sigmoid_first_layer

use burn::tensor::Tensor;

/// ‖∂h/∂x‖²_F per example for a sigmoid layer with outputs `h` (`[B, m]`) and weight `weight`
/// in Burn's `Linear` layout `[D, m]` (h = σ(x W + b)). Returns `[B]`.
pub fn contractive_penalty(h: Tensor<2>, weight: Tensor<2>) -> Tensor<1> {
    let slope = h.clone() * (h.neg() + 1.0); // h(1 − h), [B, m]
    let col_norms = (weight.clone() * weight).sum_dim(0); // Σ_i W_ij², [1, m]
    (slope.clone() * slope * col_norms)
        .sum_dim(1)
        .squeeze_dim(1)
}
