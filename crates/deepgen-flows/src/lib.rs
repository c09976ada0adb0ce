//! # deepgen-flows
//!
//! Normalizing flows on Burn tensors, on every backend. For now, what the VAE family needs:
//! an inverse-autoregressive-flow posterior and an autoregressive-flow prior (Kingma et al.
//! 2016), both built on MADE (Germain et al. 2015).
//!
//! How the parts fit:
//! - [`Transform`] (`transform`): `forward_and_ladj` / `inverse_and_ladj` on `[B, D]` batches
//!   with an optional context `h`, ladj = `ln|det J|` of the map just applied, `[B]` (sign
//!   conventions in the module docs).
//! - [`Made`] (`made`): masked autoregressive network, deterministic degrees, masks stored as
//!   recorded-but-untrained bool parameters.
//! - Steps: [`IafStep`] (`iaf`, one pass forward = sampling), [`MafStep`] (`maf`, one pass
//!   forward = density), both built from one [`ArStepConfig`] (`ar_step`:
//!   [`ArStepConfig::init_iaf`], [`ArStepConfig::init_maf`]), and [`Permutation`]
//!   (`permutation`, ladj 0).
//! - [`Flow`] (`flow`): a `Vec` of [`FlowStep`]s with summed ladj; [`IafFlowConfig`] builds
//!   the IAF posterior stack, [`Flow::push_forward`] turns `(z_0, ln q_0)` into
//!   `(z_T, ln q(z_T))`.
//! - [`AfPrior`] (`prior`): `ln p(z)` in one pass per MAF step, `sample(n, rng)` sequentially.
//!
//! Every config implements [`Validate`](deepgen_tensor::Validate) and has `try_init`
//! (returning a [`ConfigError`](deepgen_tensor::ConfigError) naming the field) and `init`
//! (panicking with that message).
//!
//! Randomness: weights come from Burn's device RNG at `init` (like `burn::nn::Linear`); sampling
//! noise comes from an explicit [`HostRng`](deepgen_tensor::rng::HostRng).

pub mod ar_step;
pub mod flow;
pub mod iaf;
pub mod made;
pub mod maf;
pub mod permutation;
pub mod prior;
pub mod transform;

pub use ar_step::ArStepConfig;
pub use flow::{Flow, FlowStep, IafFlowConfig};
pub use iaf::IafStep;
pub use made::{Made, MadeConfig, MadeOrder, MaskedLinear};
pub use maf::MafStep;
pub use permutation::Permutation;
pub use prior::{AfPrior, AfPriorConfig};
pub use transform::Transform;
