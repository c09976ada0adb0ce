//! Scalar `f64` numerics: stable log-sum-exp family, softplus, `log1mexp`,
//! `lgamma` and `digamma`.
//!
//! Every function follows IEEE conventions for special inputs (NaN in, NaN
//! out; poles give an infinity or NaN as documented) instead of panicking.

mod digamma;
mod lgamma;
mod log1mexp;
mod logsumexp;
mod softplus;
mod trig;

pub use digamma::digamma;
pub use lgamma::lgamma;
pub use log1mexp::log1mexp;
pub use logsumexp::{log_mean_exp, logsumexp};
pub use softplus::{log_sigmoid, softplus};
