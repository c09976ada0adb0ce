//! Multi-scale image flows with factor-out (Dinh et al. 2017 §3.6; Kingma & Dhariwal 2018).
//!
//! A [`MultiScaleFlow`] is a list of [`ScaleLevel`]s. Each level applies its steps (couplings,
//! ActNorm, 1×1 convolutions, squeezes, preprocessing) and then, except the last, **factors
//! out** half of the channels: the first `C − ⌊C/2⌋` channels are kept and go on to the next
//! level, the last `⌊C/2⌋` are final latents. With Glow's **learned split prior**
//! ([`SplitPrior`]), the factored-out half `z₂` is modelled as `N(μ(z₁), σ(z₁)²)` given the
//! kept half `z₁`, written as a bijection `ε = (z₂ − μ)/σ` (an affine map conditioned on `z₁`,
//! from a zero-initialised 3×3 convolution); without it (RealNVP) `z₂` itself is the latent.
//!
//! The flow is a `Bijection<4>` from `[B, C, H, W]` to a latent of **the same shape**: the
//! factored-out parts are put back together level by level (concatenate along channels, then
//! undo the level's squeezes — pure reshapes). So the base is a standard normal over all
//! `C·H·W` latent elements, `ln p(x) = ln N(z) + ladj`, and temperature sampling scales one
//! noise tensor (with the split prior this is Glow's `z₂ = μ + T·σ·ε`).

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Initializer, PaddingConfig2d};
use burn::tensor::{Device, Tensor};
use deepgen_nn::conv::{Conv2d, Conv2dConfig};
use deepgen_tensor::config::positive;
use deepgen_tensor::{ConfigError, Validate};

use crate::actnorm::ActNorm;
use crate::bijection::{Bijection, chain_forward, chain_inverse, check_context, zero_ladj};
use crate::conditioner::conv::with_context_channels;
use crate::coupling::{ImageCoupling, couple_all};
use crate::density::NormalizingFlow;
use crate::elementwise::{Affine, AffineScale};
use crate::inv_conv::{InvConv1x1, InvConv1x1Lu};
use crate::preprocess::{LogitTransform, Shift};
use crate::squeeze::Squeeze;

/// One step of a [`ScaleLevel`].
// A flow holds a few dozen steps: the size difference between variants is irrelevant, and
// boxing would change the record layout Burn derives for enum modules.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum ImageStep {
    /// A coupling layer (checkerboard or channel-wise).
    Coupling(ImageCoupling),
    /// ActNorm.
    ActNorm(ActNorm),
    /// The plain invertible 1×1 convolution.
    InvConv(InvConv1x1),
    /// The LU-decomposed invertible 1×1 convolution.
    InvConvLu(InvConv1x1Lu),
    /// The squeeze `[B, C, H, W] → [B, 4C, H/2, W/2]`.
    Squeeze(Squeeze),
    /// The logit preprocessing.
    Logit(LogitTransform),
    /// A constant shift (Glow's centring).
    Shift(Shift),
}

macro_rules! dispatch {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            ImageStep::Coupling($s) => $e,
            ImageStep::ActNorm($s) => $e,
            ImageStep::InvConv($s) => $e,
            ImageStep::InvConvLu($s) => $e,
            ImageStep::Squeeze($s) => $e,
            ImageStep::Logit($s) => $e,
            ImageStep::Shift($s) => $e,
        }
    };
}

impl Bijection<4> for ImageStep {
    fn forward_and_ladj(
        &self,
        x: Tensor<4>,
        context: Option<&Tensor<2>>,
    ) -> (Tensor<4>, Tensor<1>) {
        dispatch!(self, s => s.forward_and_ladj(x, context))
    }

    fn inverse_and_ladj(
        &self,
        z: Tensor<4>,
        context: Option<&Tensor<2>>,
    ) -> (Tensor<4>, Tensor<1>) {
        dispatch!(self, s => s.inverse_and_ladj(z, context))
    }
}

/// How image data enters a flow (the first steps of the first level).
#[derive(Config, Debug, PartialEq)]
pub enum Preprocess {
    /// No preprocessing: the flow models `x ∈ [0, 1]^D` directly.
    Identity,
    /// [`LogitTransform`] with the given α (RealNVP: 0.05).
    Logit(f64),
    /// [`Shift`] by −½ (Glow).
    Center,
}

impl Preprocess {
    /// The preprocessing steps.
    pub fn steps(&self) -> Vec<ImageStep> {
        match self {
            Self::Identity => vec![],
            Self::Logit(a) => vec![ImageStep::Logit(LogitTransform::new(*a))],
            Self::Center => vec![ImageStep::Shift(Shift { offset: -0.5 })],
        }
    }
}

impl Validate for Preprocess {
    fn validate(&self) -> Result<(), ConfigError> {
        match self {
            Self::Logit(a) if !(*a > 0.0 && *a < 0.5) => Err(ConfigError::new(
                "Preprocess",
                "Logit",
                format!("alpha must be in (0, 0.5), got {a}"),
            )),
            _ => Ok(()),
        }
    }
}

/// Configuration of a [`SplitPrior`].
#[derive(Config, Debug)]
pub struct SplitPriorConfig {
    /// Channels of the kept half `z₁` (the conditioning input).
    pub kept_channels: usize,
    /// Channels of the factored-out half `z₂`.
    pub factored_channels: usize,
    /// Width of the context, broadcast as extra input channels (0 = none).
    #[config(default = 0)]
    pub context_dim: usize,
    /// How the predicted log-scale is squashed (`−ln σ`, soft-clamped to `[−5, 5]` by default).
    #[config(default = "AffineScale::SoftClampedExp(5.0)")]
    pub scale: AffineScale,
}

impl Validate for SplitPriorConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        positive("SplitPriorConfig", "kept_channels", self.kept_channels)?;
        positive(
            "SplitPriorConfig",
            "factored_channels",
            self.factored_channels,
        )?;
        Affine::new()
            .with_scale(self.scale.clone())
            .validate()
            .map_err(|e| e.within("SplitPriorConfig", "scale"))
    }
}

impl SplitPriorConfig {
    /// Validates the config, then builds the prior on `device` (its convolution is
    /// zero-initialised: the prior starts as `N(0, I)`).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid field.
    pub fn try_init(&self, device: &Device) -> Result<SplitPrior, ConfigError> {
        self.validate()?;
        Ok(SplitPrior {
            conv: Conv2dConfig::new(
                [
                    self.kept_channels + self.context_dim,
                    2 * self.factored_channels,
                ],
                [3, 3],
            )
            .with_padding(PaddingConfig2d::Same)
            .with_initializer(Initializer::Zeros)
            .init(device),
            affine: Affine::new().with_scale(self.scale.clone()),
            kept_channels: self.kept_channels,
            factored_channels: self.factored_channels,
            context_dim: self.context_dim,
        })
    }

    /// Builds the prior on `device`.
    ///
    /// # Panics
    /// If the config is invalid (see [`SplitPriorConfig::try_init`]).
    pub fn init(&self, device: &Device) -> SplitPrior {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// Glow's learned prior of a factored-out half, as a conditional affine bijection
/// `ε = z₂·σ(s) + t` with `[s, t] = conv3×3(z₁, context)` (see the [module docs](self)).
#[derive(Module, Debug)]
pub struct SplitPrior {
    /// `[z₁ | context planes] → [s | t]`, zero-initialised.
    pub conv: Conv2d,
    /// The affine map (configuration, not recorded).
    #[module(skip)]
    pub affine: Affine,
    /// Channels of `z₁`.
    pub kept_channels: usize,
    /// Channels of `z₂`.
    pub factored_channels: usize,
    /// Width of the context (0 = none).
    pub context_dim: usize,
}

impl SplitPrior {
    fn apply(
        &self,
        z2: Tensor<4>,
        kept: &Tensor<4>,
        context: Option<&Tensor<2>>,
        inverse: bool,
    ) -> (Tensor<4>, Tensor<1>) {
        let dims = z2.dims();
        assert!(
            dims[1] == self.factored_channels && kept.dims()[1] == self.kept_channels,
            "SplitPrior: got {} kept and {} factored channels, expected {} and {}",
            kept.dims()[1],
            dims[1],
            self.kept_channels,
            self.factored_channels
        );
        check_context("SplitPrior", context, self.context_dim, dims[0]);
        let params = self
            .conv
            .forward(with_context_channels(kept.clone(), context));
        couple_all(z2, params, &self.affine, inverse)
    }

    /// `(ε, ln|det ∂ε/∂z₂|)` given the kept half.
    ///
    /// # Shapes
    /// - z2: `[batch, factored_channels, H, W]`
    /// - kept: `[batch, kept_channels, H, W]`
    /// - output: `ε` like `z2` and the ladj `[batch]`
    pub fn forward_and_ladj(
        &self,
        z2: Tensor<4>,
        kept: &Tensor<4>,
        context: Option<&Tensor<2>>,
    ) -> (Tensor<4>, Tensor<1>) {
        self.apply(z2, kept, context, false)
    }

    /// `(z₂, ln|det ∂z₂/∂ε|)` given the kept half.
    ///
    /// # Shapes
    /// - as in [`SplitPrior::forward_and_ladj`]
    pub fn inverse_and_ladj(
        &self,
        eps: Tensor<4>,
        kept: &Tensor<4>,
        context: Option<&Tensor<2>>,
    ) -> (Tensor<4>, Tensor<1>) {
        self.apply(eps, kept, context, true)
    }
}

/// One scale of a [`MultiScaleFlow`]: steps, then optionally factor out half the channels.
#[derive(Module, Debug)]
pub struct ScaleLevel {
    /// The steps, first applied first on `forward`.
    pub steps: Vec<ImageStep>,
    /// Whether half the channels are factored out after the steps.
    pub factor_out: bool,
    /// The learned prior of the factored-out half (`None`: plain factor-out).
    pub prior: Option<SplitPrior>,
}

impl ScaleLevel {
    fn squeezes(&self) -> Vec<&Squeeze> {
        self.steps
            .iter()
            .filter_map(|s| match s {
                ImageStep::Squeeze(q) => Some(q),
                _ => None,
            })
            .collect()
    }

    /// `(kept, factored)` channel split.
    fn split(h: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let c = h.dims()[1];
        assert!(
            c >= 2,
            "MultiScaleFlow: cannot factor out half of {c} channel(s)"
        );
        let keep = c - c / 2;
        (h.clone().narrow(1, 0, keep), h.narrow(1, keep, c / 2))
    }
}

/// A multi-scale image density flow; see the [module docs](self). Built by
/// [`RealNvpConfig`](crate::RealNvpConfig) and [`GlowConfig`](crate::GlowConfig).
#[derive(Module, Debug)]
pub struct MultiScaleFlow {
    /// The levels, first applied first on `forward`.
    pub levels: Vec<ScaleLevel>,
    /// `[C, H, W]` of the data (for sampling).
    pub image_shape: [usize; 3],
}

impl MultiScaleFlow {
    /// Runs the data-dependent initialisation of every [`ActNorm`] step, in order, on the batch
    /// `x`; already initialised layers (e.g. loaded from a record) are left unchanged. Call once
    /// before the first optimiser step.
    ///
    /// # Shapes
    /// - x: `[batch, C, H, W]`
    /// - context: `[batch, context_dim]` (`None` when unconditioned)
    pub fn initialize_actnorm(self, x: Tensor<4>, context: Option<&Tensor<2>>) -> Self {
        let mut h = x.detach();
        let mut levels = Vec::with_capacity(self.levels.len());
        for level in self.levels {
            let mut steps = Vec::with_capacity(level.steps.len());
            for step in level.steps {
                let step = match step {
                    ImageStep::ActNorm(a) => ImageStep::ActNorm(a.initialize(h.clone())),
                    s => s,
                };
                h = step.forward(h, context).detach();
                steps.push(step);
            }
            if level.factor_out {
                h = ScaleLevel::split(h).0;
            }
            levels.push(ScaleLevel {
                steps,
                factor_out: level.factor_out,
                prior: level.prior,
            });
        }
        Self {
            levels,
            image_shape: self.image_shape,
        }
    }

    fn check(&self, x: &Tensor<4>) {
        let [_, c, h, w] = x.dims();
        assert!(
            [c, h, w] == self.image_shape,
            "MultiScaleFlow: input is [_, {c}, {h}, {w}], the flow models {:?}",
            self.image_shape
        );
    }
}

impl Bijection<4> for MultiScaleFlow {
    fn forward_and_ladj(
        &self,
        x: Tensor<4>,
        context: Option<&Tensor<2>>,
    ) -> (Tensor<4>, Tensor<1>) {
        self.check(&x);
        let mut ladj = zero_ladj(&x);
        let mut h = x;
        let mut factored = Vec::new();
        for level in &self.levels {
            let (y, l) = chain_forward(&level.steps, h, context);
            ladj = ladj + l;
            h = y;
            if level.factor_out {
                let (kept, z2) = ScaleLevel::split(h);
                let z2 = match &level.prior {
                    Some(prior) => {
                        let (eps, l) = prior.forward_and_ladj(z2, &kept, context);
                        ladj = ladj + l;
                        eps
                    }
                    None => z2,
                };
                factored.push(z2);
                h = kept;
            }
        }
        for level in self.levels.iter().rev() {
            if level.factor_out {
                let z2 = factored.pop().expect("one part per factoring level");
                h = Tensor::cat(vec![h, z2], 1);
            }
            for q in level.squeezes().iter().rev() {
                h = q.unsqueeze(h);
            }
        }
        (h, ladj)
    }

    fn inverse_and_ladj(
        &self,
        z: Tensor<4>,
        context: Option<&Tensor<2>>,
    ) -> (Tensor<4>, Tensor<1>) {
        self.check(&z);
        let mut ladj = zero_ladj(&z);
        let mut h = z;
        let mut factored = Vec::new();
        for level in &self.levels {
            for q in level.squeezes() {
                h = q.squeeze(h);
            }
            if level.factor_out {
                let (kept, z2) = ScaleLevel::split(h);
                factored.push(z2);
                h = kept;
            }
        }
        for level in self.levels.iter().rev() {
            if level.factor_out {
                let eps = factored.pop().expect("one part per factoring level");
                let z2 = match &level.prior {
                    Some(prior) => {
                        let (z2, l) = prior.inverse_and_ladj(eps, &h, context);
                        ladj = ladj + l;
                        z2
                    }
                    None => eps,
                };
                h = Tensor::cat(vec![h, z2], 1);
            }
            let (x, l) = chain_inverse(&level.steps, h, context);
            ladj = ladj + l;
            h = x;
        }
        (h, ladj)
    }
}

impl NormalizingFlow<4> for MultiScaleFlow {
    fn sample_shape(&self, n: usize) -> [usize; 4] {
        let [c, h, w] = self.image_shape;
        [n, c, h, w]
    }

    fn flow_device(&self) -> Device {
        self.devices()
            .into_iter()
            .next()
            .expect("a MultiScaleFlow has parameters")
    }
}
