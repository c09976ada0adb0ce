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

#[test]
fn tmp_dump() {
    use std::io::Write;
    let mut f = std::fs::File::create("/tmp/host_dump.txt").unwrap();
    let mut xs: Vec<f64> = (0..=2000).map(|i| 10f64.powf(-8.0 + i as f64 * 0.007)).collect();
    xs.extend((1..2000).map(|i| i as f64 * 0.0071));
    xs.extend((1..1000).map(|i| -10.0 + i as f64 * 0.01 + 0.00123));
    for x in xs {
        writeln!(f, "{:e} {:e} {:e}", x, lgamma(x), digamma(x)).unwrap();
    }
}
