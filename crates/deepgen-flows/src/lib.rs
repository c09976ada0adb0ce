//! # deepgen-flows
//!
//! Normalizing flows on Burn tensors, on every backend: coupling flows (NICE, RealNVP, Glow,
//! neural spline flows) on vectors and images with exact log-likelihoods, exact inverses and
//! bits/dim; and the MADE-based autoregressive flows of the VAE family (IAF posterior,
//! autoregressive-flow prior).
//!
//! # Direction convention (all flows of this crate)
//!
//! **Forward is data → latent.** `forward_and_ladj(x, context)` returns `(z, ladj)` with
//! `ladj = ln|det ∂z/∂x|` per batch row (`[B]`); `inverse_and_ladj(z, context)` returns
//! `(x, ln|det ∂x/∂z|)`, minus the forward ladj at corresponding points. A density flow with base
//! `p_base` has `ln p(x) = ln p_base(z) + forward ladj`. (The IAF posterior uses the same
//! trait in the sampling direction; see [`Flow::push_forward`].)
//!
//! # Coupling-flow library
//!
//! - [`Bijection<R>`] (`bijection`): one transform trait for vectors `[B, D]` (`R = 2`) and
//!   images `[B, C, H, W]` (`R = 4`), with an optional context `[B, context_dim]` (why one
//!   const-generic trait: see the module docs).
//! - Elementwise bijections (`elementwise`), separate from the networks that parameterise
//!   them: [`Additive`], [`Affine`] ([`AffineScale`]: RealNVP's soft-clamped `exp`, Glow's
//!   `sigmoid(s + 2)`), [`RationalQuadraticSpline`], IAF's [`SigmoidGated`]; [`CouplingBijection`] picks one in configs.
//! - Conditioners (`conditioner`): [`MlpConditioner`] (context concatenated),
//!   [`ConvConditioner`] (3×3 → 1×1 → 3×3, zero-initialised output, context broadcast as
//!   channels) and the U-Net-lite [`UNetConditioner`] ([`ImageConditionerKind`] picks one).
//! - Masked autoregressive layers with any of these bijections (`autoregressive`):
//!   [`AutoregressiveLayer`] (RQ-NSF (AR) with the spline, MAF with the affine map).
//! - Coupling layers (`coupling`): [`VectorCoupling`] ([`VectorMask`]: halves, alternating) and
//!   [`ImageCoupling`] ([`ImageMask`]: checkerboard, channel-wise).
//! - Image layers: [`ActNorm`] (data-dependent init saved in the record), [`InvConv1x1`] and
//!   [`InvConv1x1Lu`] (host f64 LU), [`Squeeze`], [`LogitTransform`], [`Shift`],
//!   [`dequantize`], [`bits_per_dim`]; NICE's [`Scaling`].
//! - Flows: [`NormalizingFlow`] (`log_prob`, `sample`, `rsample`, `sample_with_temperature`,
//!   and [`FlowDistribution`], which implements `deepgen_distributions`' `Distribution` and
//!   `Rsample`); [`VectorFlow`] from [`CouplingFlowConfig`] (NICE / RealNVP / spline presets);
//!   [`MultiScaleFlow`] (factor-out, Glow's [`SplitPrior`]) from [`RealNvpConfig`] and
//!   [`GlowConfig`]. Conditional flows: every conditioner takes the context.
//!
//! - [`FVae`] (`fvae`): the f-VAE, a VAE whose decoder is a conditional Glow on the data;
//!   [`GaussianMixture`] (`gaussian_mixture`): the full-covariance mixture fitted by EM to its
//!   codes after training (ex-post density estimation).
//!
//! # Autoregressive flows of the VAE family
//!
//! - [`Transform`] (`transform`): the vector-only trait of the MADE-based steps (same
//!   conventions; each also implements `Bijection<2>`).
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
//! and dequantisation noise comes from an explicit [`HostRng`](deepgen_tensor::rng::HostRng).

pub mod actnorm;
pub mod ar_step;
pub mod autoregressive;
pub mod bijection;
pub mod conditioner;
pub mod coupling;
pub mod density;
pub mod elementwise;
pub mod flow;
pub mod fvae;
pub mod gaussian_mixture;
pub mod iaf;
pub mod image_flows;
pub mod inv_conv;
pub mod linalg;
pub mod made;
pub mod maf;
pub mod multiscale;
pub mod permutation;
pub mod preprocess;
pub mod prior;
pub mod scaling;
pub mod squeeze;
pub mod tasks;
pub mod transform;
pub mod vector_flow;

pub use ar_step::ArStepConfig;
pub use flow::{Flow, FlowStep, IafFlowConfig};
pub use iaf::IafStep;
pub use made::{Made, MadeConfig, MadeOrder, MaskedLinear};
pub use maf::MafStep;
pub use permutation::Permutation;
pub use prior::{AfPrior, AfPriorConfig};
pub use transform::Transform;

pub use actnorm::{ActNorm, ActNormConfig};
pub use autoregressive::{AutoregressiveConfig, AutoregressiveLayer};
pub use bijection::{Bijection, Inverted};
pub use conditioner::{
    ConvConditioner, ConvConditionerConfig, ImageConditioner, ImageConditionerKind, MlpConditioner,
    MlpConditionerConfig, UNetConditioner, UNetConditionerConfig,
};
pub use coupling::{
    ImageCoupling, ImageCouplingConfig, ImageMask, VectorCoupling, VectorCouplingConfig, VectorMask,
};
pub use density::{FlowDistribution, NormalizingFlow};
pub use elementwise::{
    Additive, Affine, AffineScale, CouplingBijection, ElementwiseBijection,
    RationalQuadraticSpline, SigmoidGated,
};
pub use fvae::{FVae, FVaeConfig, FVaeTerms};
pub use gaussian_mixture::{GaussianMixture, GaussianMixtureFit};
pub use image_flows::{GlowConfig, RealNvpConfig};
pub use inv_conv::{InvConv1x1, InvConv1x1Config, InvConv1x1Lu};
pub use multiscale::{
    ImageStep, MultiScaleFlow, Preprocess, ScaleLevel, SplitPrior, SplitPriorConfig,
};
pub use preprocess::{LogitTransform, PIXEL_LEVELS, Shift, bits_per_dim, dequantize};
pub use scaling::{Scaling, ScalingConfig};
pub use squeeze::Squeeze;
pub use vector_flow::{CouplingFlowConfig, VectorFlow, VectorStep};
