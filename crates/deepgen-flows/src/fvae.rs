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
//! Bits/dim of the bound: [`bits_per_dim`](crate::bits_per_dim) of the ELBO (an upper bound
//! on the true bits/dim), or of the tighter importance-weighted bound
//! ([`FVae::iw_log_prob_with_noise`]: `ln (1/k) Σ_j p(x | z_j) p(z_j) / q(z_j | x)`), on
//! dequantised data as for every flow here.

use burn::config::Config;
use burn::module::Module;
use burn::nn::activation::ActivationConfig;
use burn::tensor::{Device, Tensor};
use deepgen_distributions::{DiagGaussian, noise};
use deepgen_nn::{EncoderNet, EncoderNetConfig};
use deepgen_tensor::config::{all_positive, positive};
use deepgen_tensor::numerics::tensor::log_mean_exp;
use deepgen_tensor::{ConfigError, HostRng, Validate};

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
}

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
            log_px_given_z: self.flow.log_prob(x, Some(&z)),
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
        let log_w = self.flow.log_prob(xs, Some(&z)) - log_q_minus_log_p;
        log_mean_exp(log_w.reshape([k, b]), 0).reshape([b])
    }

    /// `n` samples: `z ~ N(0, I)`, then the flow decoder's sample at `temperature` (Glow's
    /// temperature on the flow's base noise; 0.7 is usual), detached.
    ///
    /// # Shapes
    /// - output: `[n, C, H, W]`
    pub fn sample(&self, n: usize, temperature: f64, rng: &mut HostRng) -> Tensor<4> {
        let device = self.flow.flow_device();
        let z = noise::standard_normal(rng, [n, self.latent_dim], &device);
        self.flow
            .sample_with_temperature(n, temperature, Some(&z), rng)
    }

    /// The data-dependent ActNorm initialisation of the decoder on the batch `x`, with `z`
    /// from the posterior means (a no-op on a loaded or already initialised model). Call once
    /// before the first optimiser step.
    pub fn initialize_actnorm(self, x: Tensor<4>) -> Self {
        let z = self.posterior(x.clone()).mean.detach();
        let Self {
            encoder,
            flow,
            latent_dim,
        } = self;
        Self {
            encoder,
            flow: flow.initialize_actnorm(x, Some(&z)),
            latent_dim,
        }
    }
}
