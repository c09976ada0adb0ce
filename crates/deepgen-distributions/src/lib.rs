//! # deepgen-distributions
//!
//! Probability distributions on Burn tensors, for every backend.
//!
//! Conventions shared by every type here: the **last** dimension of a
//! parameter tensor is the event dimension; `log_prob` sums over it and
//! returns one value per batch row (`[B]`). Reparameterised distributions
//! offer `rsample_from_noise` so callers (and tests) drive sampling with
//! their own noise; no hidden global RNG state is touched besides Burn's
//! device RNG in `rsample`.
//!
//! Current contents (the distributions issue grows this crate):
//! - [`DiagGaussian`]: diagonal Gaussian parameterised by mean and log σ,
//!   with analytic KL to another diagonal Gaussian and to N(0, I);
//! - [`Bernoulli`]: Bernoulli parameterised by logits, with the stable
//!   log-likelihood that accepts non-binary targets in [0, 1].

mod bernoulli;
mod gaussian;

pub use bernoulli::Bernoulli;
pub use gaussian::DiagGaussian;
