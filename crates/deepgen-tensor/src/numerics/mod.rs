//! Stable numerics Burn lacks.
//!
//! Two mirrored namespaces:
//! - [`host`]: scalar `f64` versions (`logsumexp`, `log_mean_exp`, `softplus`,
//!   `log_sigmoid`, `log1mexp`, `lgamma`, `digamma`) for losses, metrics and
//!   reference checks, accurate to a few ulps, plus `ln I_ν(x)`
//!   (`log_bessel_i`), the ratio `I_{ν+1}/I_ν` and the von Mises–Fisher
//!   log-normaliser (accurate to ~1e-14);
//! - [`tensor`]: the same functions on Burn [`Tensor`](burn::tensor::Tensor)s,
//!   built from elementwise tensor operations so they run on any backend and
//!   are differentiable through Burn's autodiff (accuracy ≈ `f32`, see each
//!   function); `log_bessel_i` and `vmf_log_normalizer` are computed on the
//!   host and carry their exact derivative through a surrogate.
//!
//! Shared constants ([`HALF_LN_2PI`]) live here too, defined once for every crate.
//!
//! The tensor versions are tested against the host ones on a grid, on both the
//! flex and the ndarray backend.

mod constants;
pub mod host;
pub mod tensor;

pub use constants::HALF_LN_2PI;
