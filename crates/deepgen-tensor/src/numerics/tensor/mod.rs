//! The [`host`](super::host) numerics on Burn tensors.
//!
//! Built only from elementwise tensor operations and reductions, so they run
//! on every backend and are differentiable through Burn's autodiff. Branches
//! are selected with masks, and every branch is evaluated on a *safe*
//! argument where it is not selected, so unselected branches never inject
//! NaN into gradients.
//!
//! Accuracy figures are for `f32` tensors (Burn's default float type) and
//! were measured against the `f64` host versions on a grid.
//!
//! [`bernoulli_log_prob`] (`x·ℓ − softplus(ℓ)`) is one backend-extension operation on flex with
//! the composed formula's bits, and that composition elsewhere.
//!
//! Exception: the Bessel / von Mises–Fisher functions ([`log_bessel_i`],
//! [`vmf_log_normalizer`]) are evaluated on the host in `f64` and attached to
//! autodiff with an exact-gradient surrogate (one host sync per call; see
//! their module docs).

mod bernoulli_log_prob;
mod bessel;
mod digamma;
mod expm1;
mod lgamma;
mod log1mexp;
mod logsumexp;
mod softplus;

pub use bernoulli_log_prob::{COMPOSED_ENV, bernoulli_log_prob, bernoulli_log_prob_composed};
pub use bessel::{log_bessel_i, vmf_log_normalizer};
pub use digamma::digamma;
pub use expm1::expm1;
pub use lgamma::lgamma;
pub use log1mexp::log1mexp;
pub use logsumexp::{log_mean_exp, logsumexp};
pub use softplus::{log_sigmoid, softplus};

#[cfg(test)]
pub(crate) mod test_support;
