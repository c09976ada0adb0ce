//! # deepgen-distributions
//!
//! Probability distributions on Burn tensors, on every backend.
//!
//! How the parts fit:
//! - [`Distribution`] (shapes, `log_prob`, `sample(&mut HostRng)`), [`Rsample`]
//!   (base noise + differentiable `rsample_from_noise`), [`Entropy`] and
//!   [`KlDivergence<Q>`] (one impl per analytic pair; [`monte_carlo_kl`] otherwise)
//!   are the shared API, in `traits`.
//! - Parameters are rank-2 tensors `[B, E]`: rows are batch elements, columns the
//!   (flattened) event; [`DistShape`] records batch and event shape, and
//!   `log_prob` returns `[B]` with the event summed.
//! - Constructors are checked and return [`Result`] with a [`DistributionError`]
//!   naming the bad argument.
//! - Noise is drawn on the host ([`noise`]) from an explicit
//!   [`HostRng`](deepgen_tensor::rng::HostRng): no hidden global state, and the
//!   same samples on every backend.
//!
//! Each distribution lives in its own module; `docs/distributions.md` lists them
//! with their parameterisation and numerical technique.

mod bernoulli;
mod categorical;
mod check;
mod concrete;
mod continuous_bernoulli;
mod discretized_logistic;
mod error;
pub mod gamma;
mod gaussian;
mod gumbel;
pub mod noise;
mod power_spherical;
mod shape;
pub mod sphere;
mod traits;
mod uniform_sphere;
mod vmf;
pub mod vmf_sampler;

pub use bernoulli::Bernoulli;
pub use categorical::Categorical;
pub use concrete::{Concrete, GumbelSoftmax};
pub use continuous_bernoulli::ContinuousBernoulli;
pub use discretized_logistic::{DiscretizedLogisticMixture, MIN_LOG_SCALE, TinyMassRule};
pub use error::{DistributionError, Result};
pub use gaussian::{DiagGaussian, StandardNormal, standard_normal_log_prob};
pub use gumbel::{EULER_GAMMA, Gumbel};
pub use power_spherical::{PowerSpherical, PowerSphericalNoise};
pub use shape::DistShape;
pub use traits::{Distribution, Entropy, KlDivergence, Rsample, monte_carlo_kl};
pub use uniform_sphere::UniformSphere;
pub use vmf::{VmfNoise, VonMisesFisher};
