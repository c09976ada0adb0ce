//! Scalar `f64` numerics: stable log-sum-exp family, softplus, `log1mexp`,
//! `lgamma`, `digamma`, and the log modified Bessel function `ln I_ν(x)` with
//! its ratio and the von Mises–Fisher normaliser.
//!
//! Every function follows IEEE conventions for special inputs (NaN in, NaN
//! out; poles give an infinity or NaN as documented) instead of panicking.
//! The one exception is an integer dimension `m < 2` passed to the
//! von Mises–Fisher helpers, a programming error, which panics.

mod bessel;
mod digamma;
mod lgamma;
mod log1mexp;
mod logsumexp;
mod softplus;
mod trig;

pub use bessel::{
    bessel_i_ratio, log_bessel_i, log_bessel_i_dx, vmf_log_normalizer, vmf_mean_resultant_length,
};
pub use digamma::digamma;
pub use lgamma::lgamma;
pub use log1mexp::log1mexp;
pub use logsumexp::{log_mean_exp, logsumexp};
pub use softplus::{log_sigmoid, softplus};
