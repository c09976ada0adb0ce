//! Stable numerics Burn lacks.
//!
//! Two mirrored namespaces:
//! - [`host`]: scalar `f64` versions (`logsumexp`, `log_mean_exp`, `softplus`,
//!   `log_sigmoid`, `log1mexp`, `lgamma`, `digamma`) for losses, metrics and
//!   reference checks, accurate to a few ulps;
//! - [`tensor`]: the same functions on Burn [`Tensor`](burn::tensor::Tensor)s,
//!   built from elementwise tensor operations so they run on any backend and
//!   are differentiable through Burn's autodiff (accuracy ≈ `f32`, see each
//!   function).
//!
//! The tensor versions are tested against the host ones on a grid, on both the
//! flex and the ndarray backend.

pub mod host;
pub mod tensor;
