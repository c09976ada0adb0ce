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
//!   forward = density), [`Permutation`] (`permutation`, ladj 0).
//! - [`Flow`] (`flow`): a `Vec` of [`FlowStep`]s with summed ladj; [`IafFlowConfig`] builds
//!   the IAF posterior stack, [`Flow::push_forward`] turns `(z_0, ln q_0)` into
//!   `(z_T, ln q(z_T))`.
//! - [`AfPrior`] (`prior`): `ln p(z)` in one pass per MAF step, `sample(n, rng)` sequentially.
//!
//! Randomness: weights come from Burn's device RNG at `init` (like `burn::nn::Linear`); sampling
//! noise comes from an explicit [`HostRng`](deepgen_tensor::rng::HostRng).

pub mod flow;
pub mod iaf;
pub mod made;
pub mod maf;
pub mod permutation;
pub mod prior;
pub mod transform;

pub use flow::{Flow, FlowStep, IafFlowConfig};
pub use iaf::{IafConfig, IafStep};
pub use made::{Made, MadeConfig, MadeOrder, MaskedLinear};
pub use maf::{MafConfig, MafStep};
pub use permutation::Permutation;
pub use prior::{AfPrior, AfPriorConfig};
pub use transform::Transform;
