//! The f-VAE (Su & Wu 2018, "f-VAEs: Improve VAEs with Conditional Flows"; the seed article
//! "f-VAEs：Glow与VAEs的联姻"): a VAE whose decoder is a **conditional flow on the data**.
//!
//! ```text
//! q(z | x)  = N(μ(x), diag σ(x)²)                    (encoder: deepgen-nn conv/MLP net)
//! p(z)      = N(0, I)
//! p(x | z)  = conditional Glow with context z:  ln p(x | z) = ln N(f(x; z)) + ln|det ∂f/∂x|
//! ELBO(x)   = E_q[ln p(x | z)] − KL(q(z | x) ‖ p(z))   ≤ ln p(x)
//! ```
//!
//! A Gaussian or Bernoulli decoder makes the VAE's samples blurry because it models pixels as
//! independent given `z`; a flow decoder is an exact, expressive density on the whole image,
//! while `z` carries the global structure (the flow's conditioners see it at every step). With
//! an unconditioned flow the model reduces to Glow (the KL term pushes `q` to the prior); with a
//! trivial flow it reduces to a VAE with a Gaussian decoder.
//!
//! **Where `z` enters.** The conditioners see `z` as constant planes: a convolution turns them
//! into position-independent biases, so `z` can say *how much* but hardly *where*. With
//! [`FVaeConfig::base_channels`] the flow's base distribution is conditioned on `z` as well:
//! `p(x | z) = N(f(x; z); μ(z), diag σ(z)²)·|det ∂f/∂x|`, with `(μ, ln σ)` from a transposed-conv
//! net on the latent's `[C, H, W]` layout (zero-initialised last layer: training starts from
//! `N(0, I)`), so `z` can place structure in the latent — Su's construction, where the encoder's
//! code is added to the flow's latent (`G_z(v) = G(σv + E(x))`). Sampling at temperature `T`
//! draws `u = μ(z) + T·σ(z)·ε`.
//!
//! Bits/dim of the bound: [`bits_per_dim`](crate::bits_per_dim) of the ELBO (an upper bound
//! on the true bits/dim), or of the tighter importance-weighted bound
//! ([`FVae::iw_log_prob_with_noise`]: `ln (1/k) Σ_j p(x | z_j) p(z_j) / q(z_j | x)`), on
//! dequantised data as for every flow here.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::activation::ActivationConfig;
use burn::tensor::{Device, Tensor};
use deepgen_distributions::{DiagGaussian, noise};
use deepgen_nn::{ConvDecoder, ConvDecoderConfig, EncoderNet, EncoderNetConfig};
use deepgen_tensor::config::{all_positive, positive};
use deepgen_tensor::numerics::tensor::log_mean_exp;
use deepgen_tensor::{ConfigError, HostRng, Validate};

use crate::bijection::Bijection;
use crate::density::NormalizingFlow;
use crate::image_flows::GlowConfig;
use crate::multiscale::MultiScaleFlow;

/// Configuration of an [`FVae`]. Defaults for MNIST: 32 latent dimensions, a conv encoder
/// 32-64, and a 2-level Glow decoder (4 steps per level, 64 hidden channels) conditioned on `z`.
#[derive(Config, Debug)]
pub struct FVaeConfig {
    /// The decoder flow; its `image_shape` is the data's and its `context_dim` is set to
    /// `latent_dim` (any value given is replaced).
    #[config(
        default = "GlowConfig::new([1, 28, 28]).with_levels(2).with_steps_per_level(4).with_hidden_channels(64)"
    )]
    pub flow: GlowConfig,
    /// Dimensionality of the latent `z`.
    #[config(default = 32)]
    pub latent_dim: usize,
    /// Channels of the stride-2 conv encoder blocks (empty: an MLP encoder with
    /// `encoder_hidden`).
    #[config(default = "vec![32, 64]")]
    pub encoder_channels: Vec<usize>,
    /// Hidden widths of the MLP encoder (used when `encoder_channels` is empty).
    #[config(default = "vec![512, 256]")]
    pub encoder_hidden: Vec<usize>,
    /// Encoder activation.
    #[config(default = "ActivationConfig::Relu")]
    pub activation: ActivationConfig,
    /// Channels of the net `z → (μ(z), ln σ(z))` of the decoder flow's base distribution, a
    /// [`ConvDecoder`] mirroring a conv encoder with these channels (e.g. `[32, 64]`), its last
    /// layer zero-initialised; empty: the base is `N(0, I)` and `z` reaches the decoder only
    /// through the conditioners (see the [module docs](self)).
    #[config(default = "vec![]")]
    pub base_channels: Vec<usize>,
}

/// `ln σ(z)` of the conditional base is soft-clamped to `(−BASE_LOG_STD_BOUND, BASE_LOG_STD_BOUND)`
/// (`b·tanh(s/b)`): a collapsing or exploding scale cannot produce non-finite densities.
pub const BASE_LOG_STD_BOUND: f64 = 5.0;

impl FVaeConfig {
    fn encoder_config(&self) -> EncoderNetConfig {
        let shape = self.flow.image_shape;
        let out = 2 * self.latent_dim;
        if self.encoder_channels.is_empty() {
            let d = shape.iter().product();
            let mut c = EncoderNetConfig::mlp(d, self.encoder_hidden.clone(), out);
            if let EncoderNetConfig::Mlp(m) = &mut c {
                m.activation = self.activation.clone();
            }
            c
        } else {
            let mut c = EncoderNetConfig::conv(shape, self.encoder_channels.clone(), out);
            if let EncoderNetConfig::Conv(m) = &mut c {
                m.activation = self.activation.clone();
            }
            c
        }
    }

    fn base_config(&self) -> Option<ConvDecoderConfig> {
        if self.base_channels.is_empty() {
            return None;
        }
        let [c, h, w] = self.flow.image_shape;
        Some(ConvDecoderConfig::new(
            [2 * c, h, w],
            self.base_channels.clone(),
            self.latent_dim,
        ))
    }

    fn flow_config(&self) -> GlowConfig {
        self.flow.clone().with_context_dim(self.latent_dim)
    }

    /// Validates the config, then builds the model on `device`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid field.
    pub fn try_init(&self, device: &Device) -> Result<FVae, ConfigError> {
        self.validate()?;
        Ok(FVae {
            encoder: self
                .encoder_config()
                .try_init(device)
                .map_err(|e| e.within("FVaeConfig", "encoder"))?,
            flow: self
                .flow_config()
                .try_init(device)
                .map_err(|e| e.within("FVaeConfig", "flow"))?,
            base: match self.base_config() {
                None => None,
                Some(c) => Some(zero_last_layer(
                    c.try_init(device)
                        .map_err(|e| e.within("FVaeConfig", "base_channels"))?,
                )),
            },
            latent_dim: self.latent_dim,
        })
    }

    /// [`try_init`](Self::try_init) that panics with the field-naming message.
    ///
    /// # Panics
    /// If the config is invalid.
    pub fn init(&self, device: &Device) -> FVae {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

impl Validate for FVaeConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        const C: &str = "FVaeConfig";
        positive(C, "latent_dim", self.latent_dim)?;
        all_positive(C, "encoder_channels", &self.encoder_channels, false)?;
        all_positive(C, "encoder_hidden", &self.encoder_hidden, false)?;
        all_positive(C, "base_channels", &self.base_channels, false)?;
        if let Some(base) = self.base_config() {
            base.validate().map_err(|e| e.within(C, "base_channels"))?;
        }
        self.encoder_config()
            .validate()
            .map_err(|e| e.within(C, "encoder"))?;
        self.flow_config()
            .validate()
            .map_err(|e| e.within(C, "flow"))
    }
}

/// The f-VAE; see the [module docs](self).
#[derive(Module, Debug)]
pub struct FVae {
    /// `x → [μ, ln σ]`, `[B, 2·latent_dim]`.
    pub encoder: EncoderNet,
    /// The decoder: a multi-scale flow on the data conditioned on `z`.
    pub flow: MultiScaleFlow,
    /// `z → [μ | ln σ]` (`[B, 2C, H, W]`) of the flow's base distribution; `None`: `N(0, I)`.
    pub base: Option<ConvDecoder>,
    /// Dimensionality of `z`.
    pub latent_dim: usize,
}

/// The two terms of the f-VAE's negative ELBO, per image, in nats.
#[derive(Debug, Clone)]
pub struct FVaeTerms {
    /// `ln p(x | z)` of the flow decoder at the sampled `z`, `[B]`.
    pub log_px_given_z: Tensor<1>,
    /// `KL(q(z | x) ‖ N(0, I))`, `[B]`.
    pub kl: Tensor<1>,
}

impl FVaeTerms {
    /// The ELBO per image, `[B]`.
    pub fn elbo(&self) -> Tensor<1> {
        self.log_px_given_z.clone() - self.kl.clone()
    }
}

impl FVae {
    /// q(z | x).
    ///
    /// # Shapes
    /// - x: `[B, C, H, W]`
    pub fn posterior(&self, x: Tensor<4>) -> DiagGaussian {
        let [b, c, h, w] = x.dims();
        let out = self.encoder.forward(x.reshape([b, c * h * w]));
        let [mean, log_std] = out
            .chunk(2, 1)
            .try_into()
            .expect("the encoder emits [μ, ln σ]");
        DiagGaussian::new(mean, log_std).expect("encoder heads have equal shapes")
    }

    /// The ELBO terms with `z = μ + σ ⊙ ε` for the given standard-normal `ε`
    /// (reparameterised: differentiable in every parameter).
    ///
    /// # Shapes
    /// - x: `[B, C, H, W]` (dequantised data in `[0, 1]`)
    /// - eps: `[B, latent_dim]`
    pub fn terms_with_noise(&self, x: Tensor<4>, eps: Tensor<2>) -> FVaeTerms {
        let q = self.posterior(x.clone());
        let z = q.mean.clone() + q.std() * eps;
        FVaeTerms {
            log_px_given_z: self.log_px_given_z(x, &z),
            kl: q.kl_standard_normal(),
        }
    }

    /// [`terms_with_noise`](Self::terms_with_noise) with `ε` drawn from `rng`.
    pub fn terms(&self, x: Tensor<4>, rng: &mut HostRng) -> FVaeTerms {
        let b = x.dims()[0];
        let eps = noise::standard_normal(rng, [b, self.latent_dim], &x.device());
        self.terms_with_noise(x, eps)
    }

    /// The importance-weighted bound `ln (1/k) Σ_j p(x | z_j) p(z_j) / q(z_j | x)` with
    /// `z_j = μ + σ ⊙ ε_j` (Burda et al. 2016); `k = 1` is the ELBO with a single-sample KL
    /// estimate. At least the mean of the `k` single-sample bounds (Jensen).
    ///
    /// # Shapes
    /// - x: `[B, C, H, W]`
    /// - eps: `[k, B, latent_dim]`
    /// - output: `[B]`
    pub fn iw_log_prob_with_noise(&self, x: Tensor<4>, eps: Tensor<3>) -> Tensor<1> {
        let [k, b, l] = eps.dims();
        let [_, c, h, w] = x.dims();
        let q = self.posterior(x.clone());
        let mean = q.mean.clone().unsqueeze_dim::<3>(0).repeat_dim(0, k);
        let std = q.std().unsqueeze_dim::<3>(0).repeat_dim(0, k);
        let log_std = q.log_std.clone().unsqueeze_dim::<3>(0).repeat_dim(0, k);
        let z = mean + std * eps.clone();
        // ln q(z | x) − ln p(z) = Σ (−ln σ − ε²/2) − Σ (−z²/2), the 2π terms cancel.
        let log_q_minus_log_p = (eps.clone().powi_scalar(2) * -0.5 - log_std
            + z.clone().powi_scalar(2) * 0.5)
            .sum_dim(2)
            .reshape([k * b]);
        let xs = x
            .unsqueeze_dim::<5>(0)
            .repeat_dim(0, k)
            .reshape([k * b, c, h, w]);
        let z = z.reshape([k * b, l]);
        let log_w = self.log_px_given_z(xs, &z) - log_q_minus_log_p;
        log_mean_exp(log_w.reshape([k, b]), 0).reshape([b])
    }

    /// `n` samples: `z ~ N(0, I)`, then the flow decoder's sample at `temperature` (Glow's
    /// temperature on the flow's base noise; 0.7 is usual), detached.
    ///
    /// # Shapes
    /// - output: `[n, C, H, W]`
    pub fn sample(&self, n: usize, temperature: f64, rng: &mut HostRng) -> Tensor<4> {
        self.sample_tempered(n, 1.0, temperature, rng)
    }

    /// [`sample`](Self::sample) with `z ~ N(0, latent_temperature²·I)`: below 1 the codes stay
    /// nearer the centre of the prior, where the encoder's posteriors lie densest (the
    /// "prior holes" of a VAE whose aggregate posterior does not fill `N(0, I)` are mostly
    /// in its tails).
    ///
    /// # Shapes
    /// - output: `[n, C, H, W]`
    pub fn sample_tempered(
        &self,
        n: usize,
        latent_temperature: f64,
        temperature: f64,
        rng: &mut HostRng,
    ) -> Tensor<4> {
        let device = self.flow.flow_device();
        let mut z = noise::standard_normal(rng, [n, self.latent_dim], &device);
        if latent_temperature != 1.0 {
            z = z.mul_scalar(latent_temperature);
        }
        self.decode(&z, temperature, rng)
    }

    /// The decoder's base distribution given `z`, over the flattened latent `[B, C·H·W]`;
    /// `None` when it is `N(0, I)`.
    ///
    /// # Shapes
    /// - z: `[B, latent_dim]`
    pub fn base_given(&self, z: &Tensor<2>) -> Option<DiagGaussian> {
        let net = self.base.as_ref()?;
        let b = z.dims()[0];
        let d: usize = self.flow.image_shape.iter().product();
        let out = net.forward(z.clone()).reshape([b, 2 * d]);
        let [mean, raw] = out.chunk(2, 1).try_into().expect("[μ | ln σ]");
        let log_std = raw
            .div_scalar(BASE_LOG_STD_BOUND)
            .tanh()
            .mul_scalar(BASE_LOG_STD_BOUND);
        Some(DiagGaussian::new(mean, log_std).expect("equal halves"))
    }

    /// `ln p(x | z)` of the decoder: the flow's density with its base `N(0, I)` or, with
    /// [`base`](Self::base), `N(μ(z), σ(z)²)`.
    ///
    /// # Shapes
    /// - x: `[B, C, H, W]`
    /// - z: `[B, latent_dim]`
    /// - output: `[B]`
    pub fn log_px_given_z(&self, x: Tensor<4>, z: &Tensor<2>) -> Tensor<1> {
        match self.base_given(z) {
            None => self.flow.log_prob(x, Some(z)),
            Some(base) => {
                let [b, c, h, w] = x.dims();
                let (u, ladj) = self.flow.forward_and_ladj(x, Some(z));
                base.log_prob_per_dim(u.reshape([b, c * h * w]))
                    .sum_dim(1)
                    .reshape([b])
                    + ladj
            }
        }
    }

    /// A decoder sample given `z` at `temperature` (the base noise scaled by it), detached.
    ///
    /// # Shapes
    /// - z: `[n, latent_dim]`
    /// - output: `[n, C, H, W]`
    pub fn decode(&self, z: &Tensor<2>, temperature: f64, rng: &mut HostRng) -> Tensor<4> {
        let n = z.dims()[0];
        match self.base_given(z) {
            None => self
                .flow
                .sample_with_temperature(n, temperature, Some(z), rng),
            Some(base) => {
                let [c, h, w] = self.flow.image_shape;
                let eps = noise::standard_normal(rng, [n, c * h * w], &z.device());
                let u = base.mean.clone() + base.std() * eps.mul_scalar(temperature);
                self.flow.inverse(u.reshape([n, c, h, w]), Some(z)).detach()
            }
        }
    }

    /// The data-dependent ActNorm initialisation of the decoder on the batch `x`, with `z`
    /// from the posterior means (a no-op on a loaded or already initialised model). Call once
    /// before the first optimiser step.
    pub fn initialize_actnorm(self, x: Tensor<4>) -> Self {
        let z = self.posterior(x.clone()).mean.detach();
        let Self {
            encoder,
            flow,
            base,
            latent_dim,
        } = self;
        Self {
            encoder,
            flow: flow.initialize_actnorm(x, Some(&z)),
            base,
            latent_dim,
        }
    }
}

/// The decoder with its last transposed convolution's weights and bias set to zero.
fn zero_last_layer(mut net: ConvDecoder) -> ConvDecoder {
    if let Some(last) = net.deconvs.pop() {
        let mut last = last;
        // New parameters (not `Param::map`, which keeps the old tensor's autodiff state: the
        // zeros would not require a gradient).
        last.weight = Param::from_tensor(last.weight.val().zeros_like());
        last.bias = last.bias.map(|b| Param::from_tensor(b.val().zeros_like()));
        net.deconvs.push(last);
    }
    net
}
