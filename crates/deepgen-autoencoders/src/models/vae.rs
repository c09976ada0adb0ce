//! The Gaussian-latent VAE (Kingma & Welling 2014) with MLP or convolutional encoder and
//! decoder ([`crate::models::body`]), a choice of observation model, and optional BN on the posterior
//! means (BN-VAE).

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use deepgen_distributions::{
    DiagGaussian, Distribution as _, Rsample as _, StandardNormal, noise::standard_normal,
};
use deepgen_nn::{DecoderNet, EncoderNet};
use deepgen_tensor::HostRng;
use deepgen_tensor::config::{ConfigError, Validate, positive};

use crate::models::body::{BodyConfig, impl_with_body};
use crate::models::posterior_bn::PosteriorBatchNorm;
use crate::models::variational::{LatentCodec, VariationalModel};
use crate::objective::likelihood::LikelihoodConfig;
use crate::objective::{ElboParts, KlWeights, VaeObjective, iwae_step};
use deepgen_train::{StepContext, StepOutput};

/// Configuration of a [`Vae`]. Defaults: 784-512-256-32 with ReLU and a Bernoulli
/// decoder (the benchmark network). The IWAE paper's network is
/// `hidden = [200, 200]`, `latent_dim = 50`, `activation = Tanh`. With
/// `conv = Some(ConvBodyConfig::new([1, 28, 28], vec![32, 64]))` the encoder and decoder are
/// convolutional instead (see [`crate::models::body`]).
#[derive(Config, Debug)]
pub struct VaeConfig {
    /// Data size, encoder/decoder body and observation model (see [`BodyConfig`]; the builder
    /// methods `with_hidden`, `with_conv`, … of [`WithBody`](crate::models::body::WithBody) set its fields).
    #[config(default = "BodyConfig::new()")]
    pub body: BodyConfig,
    /// Latent dimensionality.
    #[config(default = 32)]
    pub latent_dim: usize,
    /// BN-VAE: fixed scale γ of the batch norm on the posterior means (`None`: no BN).
    #[config(default = "None")]
    pub bn_gamma: Option<f64>,
}

/// Per-example terms of the negative ELBO, in nats.
#[derive(Debug, Clone)]
pub struct ElboTerms {
    /// −ln p(x | z) for the sampled z, summed over pixels, `[B]`.
    pub recon_nll: Tensor<1>,
    /// KL(q(z | x) ‖ N(0, I)), summed over latent dimensions, `[B]`.
    pub kl: Tensor<1>,
    /// The KL per latent dimension, `[B, L]` (for free bits and active units).
    pub kl_per_dim: Tensor<2>,
}

impl ElboTerms {
    /// The negative ELBO with KL weight β: recon + β·KL, averaged over the batch, `[1]`.
    pub fn loss(&self, beta: f64) -> Tensor<1> {
        (self.recon_nll.clone() + self.kl.clone() * beta).mean()
    }
}

/// Variational autoencoder: q(z|x) = N(μ(x), diag σ(x)²), p(z) = N(0, I), p(x|z)
/// from [`LikelihoodConfig`].
///
/// The encoder outputs `[μ, ln σ]` (log **standard deviation**) in one layer of width
/// `2 · latent_dim`; with BN-VAE, μ passes through [`PosteriorBatchNorm`].
#[derive(Module, Debug)]
pub struct Vae {
    /// x → [μ, ln σ].
    pub encoder: EncoderNet,
    /// z → likelihood parameters.
    pub decoder: DecoderNet,
    /// BN-VAE's batch norm on μ, if enabled.
    pub posterior_bn: Option<PosteriorBatchNorm>,
    /// Latent dimensionality.
    pub latent_dim: usize,
    /// Observation model (configuration, not saved in records).
    #[module(skip)]
    pub likelihood: LikelihoodConfig,
}

impl_with_body!(VaeConfig);

impl Validate for VaeConfig {
    /// The body ([`BodyConfig`]), `latent_dim ≥ 1` and a finite positive `bn_gamma`.
    fn validate(&self) -> Result<(), ConfigError> {
        const C: &str = "VaeConfig";
        self.body.validate().map_err(|e| e.within(C, "body"))?;
        positive(C, "latent_dim", self.latent_dim)?;
        if let Some(g) = self.bn_gamma
            && !(g.is_finite() && g > 0.0)
        {
            return Err(ConfigError::new(
                C,
                "bn_gamma",
                format!("must be finite and > 0, got {g}"),
            ));
        }
        Ok(())
    }
}

impl VaeConfig {
    /// Initialises the model on `device`.
    ///
    /// # Errors
    /// The first invalid field (see [`Validate`]).
    pub fn try_init(&self, device: &Device) -> Result<Vae, ConfigError> {
        self.validate()?;
        let (encoder, decoder) = self
            .body
            .try_init_nets(2 * self.latent_dim, self.latent_dim, device)
            .map_err(|e| e.within("VaeConfig", "body"))?;
        Ok(Vae {
            encoder,
            decoder,
            posterior_bn: self
                .bn_gamma
                .map(|g| PosteriorBatchNorm::new(self.latent_dim, g, device)),
            latent_dim: self.latent_dim,
            likelihood: self.body.likelihood.clone(),
        })
    }

    /// [`try_init`](Self::try_init) that panics with the field-naming message.
    ///
    /// # Panics
    /// If the configuration is invalid.
    pub fn init(&self, device: &Device) -> Vae {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

impl Vae {
    /// q(z | x) for `x` of shape `[B, input_dim]`.
    pub fn encode(&self, x: Tensor<2>) -> DiagGaussian {
        let h = self.encoder.forward(x);
        let [mean, log_std] = h
            .chunk(2, 1)
            .try_into()
            .expect("encoder output has 2·latent columns");
        let mean = match &self.posterior_bn {
            Some(bn) => bn.forward(mean),
            None => mean,
        };
        DiagGaussian::new(mean, log_std).expect("encoder heads have equal shapes")
    }

    /// Decoder output (likelihood parameters) for `z` of shape `[B, latent_dim]`.
    pub fn decode(&self, z: Tensor<2>) -> Tensor<2> {
        self.decoder.forward(z)
    }

    /// ln p(x | z) per row, `[B]`.
    pub fn log_likelihood(&self, z: Tensor<2>, x: Tensor<2>) -> Tensor<1> {
        self.likelihood.log_prob(self.decode(z), x)
    }

    /// The negative-ELBO terms with reparameterisation noise `eps` (`[B, latent_dim]`).
    pub fn elbo_terms_with_noise(&self, x: Tensor<2>, eps: Tensor<2>) -> ElboTerms {
        let q = self.encode(x.clone());
        let z = q.rsample_from_noise(eps);
        let recon_nll = self.log_likelihood(z, x).neg();
        let kl_per_dim = q.kl_standard_normal_per_dim();
        ElboTerms {
            recon_nll,
            kl: kl_per_dim.clone().sum_dim(1).squeeze_dim(1),
            kl_per_dim,
        }
    }

    /// The negative-ELBO terms with noise drawn from `rng`.
    pub fn elbo_terms(&self, x: Tensor<2>, rng: &mut HostRng) -> ElboTerms {
        let [b, _] = x.dims();
        let eps = standard_normal(rng, [b, self.latent_dim], &x.device());
        self.elbo_terms_with_noise(x, eps)
    }

    /// ln w = ln p(x|z) + ln N(z; 0, I) − ln q(z|x) for `k` samples per row, with the
    /// noise `eps` (`[B·k, L]`, row `b·k + j` is sample j of example b): `[B, k]`.
    pub fn log_weights_with_noise(&self, x: Tensor<2>, eps: Tensor<2>, k: usize) -> Tensor<2> {
        let [b, d] = x.dims();
        let l = self.latent_dim;
        let q = self.encode(x.clone());
        let rep =
            |t: Tensor<2>, w: usize| t.unsqueeze_dim::<3>(1).repeat_dim(1, k).reshape([b * k, w]);
        let qk = DiagGaussian::new(rep(q.mean, l), rep(q.log_std, l))
            .expect("repeated encoder heads have equal shapes");
        let z = qk.rsample_from_noise(eps);
        let prior = StandardNormal::new(b * k, l, &x.device()).expect("b·k ≥ 1 and latent_dim ≥ 1");
        let log_pz = prior.log_prob(z.clone());
        let log_qz = qk.log_prob(z.clone());
        let log_px = self.log_likelihood(z, rep(x, d));
        (log_px + log_pz - log_qz).reshape([b, k])
    }

    /// Draws `n` images from the model: the likelihood means at z ~ N(0, I),
    /// `[n, input_dim]` in [0, 1].
    pub fn sample_means(&self, n: usize, device: &Device, rng: &mut HostRng) -> Tensor<2> {
        let z = standard_normal(rng, [n, self.latent_dim], device);
        self.decode_means(z)
    }

    /// The likelihood means (images in [0, 1]) at latent codes `z`, `[B, input_dim]`.
    pub fn decode_means(&self, z: Tensor<2>) -> Tensor<2> {
        self.likelihood.mean(self.decode(z))
    }
}

impl crate::objective::importance::ImportanceSampled for Vae {
    /// [`Vae::log_weights_with_noise`] with noise drawn from `rng`.
    fn log_weights(&self, x: Tensor<2>, k: usize, rng: &mut HostRng) -> Tensor<2> {
        let [b, _] = x.dims();
        let eps = standard_normal(rng, [b * k, self.latent_dim], &x.device());
        self.log_weights_with_noise(x, eps, k)
    }
}

impl Vae {
    /// Loss and metrics for a batch `x` (`[B, D]`) under `objective`, with noise `eps`
    /// (`[B·k, L]`): the IWAE bound for k > 1 ([`iwae_step`]), otherwise the (β-, free-bits
    /// or capacity-controlled) ELBO ([`VaeObjective::elbo_step`]) with the weights of `ctx`.
    pub fn objective_step(
        &self,
        objective: &VaeObjective,
        x: Tensor<2>,
        eps: Tensor<2>,
        ctx: &StepContext,
    ) -> StepOutput {
        if objective.iw_samples > 1 {
            return iwae_step(self.log_weights_with_noise(x, eps, objective.iw_samples));
        }
        let terms = self.elbo_terms_with_noise(x, eps);
        objective.elbo_step(
            ElboParts {
                recon: terms.recon_nll,
                kl: terms.kl,
                kl_per_dim: Some(terms.kl_per_dim),
            },
            KlWeights::from_context(ctx),
        )
    }
}

impl VariationalModel for Vae {
    fn train_step(
        &self,
        objective: &VaeObjective,
        x: Tensor<2>,
        rng: &mut HostRng,
        ctx: &StepContext,
    ) -> StepOutput {
        let [b, _] = x.dims();
        let eps = deepgen_distributions::noise::standard_normal(
            rng,
            [b * objective.iw_samples, self.latent_dim],
            &x.device(),
        );
        self.objective_step(objective, x, eps, ctx)
    }

    fn elbo_parts(&self, x: Tensor<2>, rng: &mut HostRng) -> (Tensor<1>, Tensor<1>) {
        let t = self.elbo_terms(x, rng);
        (t.recon_nll, t.kl)
    }

    fn sample_means(&self, n: usize, device: &Device, rng: &mut HostRng) -> Tensor<2> {
        Vae::sample_means(self, n, device, rng)
    }
}

impl LatentCodec for Vae {
    fn latent_dim(&self) -> usize {
        self.latent_dim
    }

    fn encode_mean(&self, x: Tensor<2>) -> Tensor<2> {
        self.encode(x).mean
    }

    fn decode_mean(&self, z: Tensor<2>) -> Tensor<2> {
        self.decode_means(z)
    }
}
