//! Integration tests of deepgen-distributions against SciPy/mpmath reference values.
//!
//! One integration-test binary per crate: every test binary links all of Burn (flex, ndarray
//! and wgpu), so one binary instead of one per file saves minutes of linking and gigabytes of
//! disk in CI. Each module below is one topic; run one with `cargo test --release --test distributions <module>::`.

mod categorical;
mod concrete;
mod continuous_bernoulli;
mod discretized_logistic;
mod gamma;
mod gaussian_bernoulli;
mod gumbel;
mod power_spherical;
mod sphere;
mod vmf;
