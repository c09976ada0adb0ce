//! Hyperspherical VAEs: latent codes on the unit sphere S^{m−1} with a uniform prior.
//!
//! - **S-VAE** (Davidson et al. 2018; seed article on the vMF-VAE): q(z|x) = vMF(μ(x), κ(x))
//!   with a learned concentration κ = softplus(·) + 1 (the +1 of the reference code keeps
//!   the posterior away from the uniform collapse);
//! - **fixed-κ vMF-VAE** (Xu & Durrett 2018): κ is a constant, so KL(q ‖ U) is a constant
//!   that cannot vanish — the encoder only chooses directions;
//! - **power spherical** posterior (De Cao & Aziz 2020) as the numerically stable drop-in.
//!
//! The KL to the uniform prior is analytic (`KlDivergence<UniformSphere>`); gradients reach
//! μ through the Householder map and κ through implicit reparameterisation (see
//! `docs/distributions.md`). The encoder predicts an unnormalised direction, normalised
//! here: μ = d/‖d‖.

use std::str::FromStr;

use burn::config::Config;
use burn::module::Module;
use burn::tensor::activation::softplus;
use burn::tensor::{Device, Tensor};
use deepgen_distributions::{
    Distribution, KlDivergence, PowerSpherical, Rsample, UniformSphere, VonMisesFisher,
};
use deepgen_nn::{DecoderNet, EncoderNet};
use deepgen_tensor::HostRng;
use deepgen_tensor::config::{ConfigError, Validate};
use deepgen_train::{StepContext, StepOutput};

use crate::models::body::{BodyConfig, impl_with_body};
use crate::models::variational::LatentCodec;
use crate::models::variational::VariationalModel;
use crate::objective::importance::ImportanceSampled;
use crate::objective::likelihood::LikelihoodConfig;
use crate::objective::{ElboParts, KlControl, KlWeights, VaeObjective, iwae_step};

/// The posterior family on the sphere.
#[derive(Config, Debug, PartialEq)]
pub enum SphericalPosterior {
    /// von Mises–Fisher.
    VonMisesFisher,
    /// Power spherical.
    PowerSpherical,
}

impl FromStr for SphericalPosterior {
    type Err = String;

    /// `vmf` or `power-spherical`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "vmf" => Ok(Self::VonMisesFisher),
            "power-spherical" => Ok(Self::PowerSpherical),
            _ => Err(format!(
                "unknown spherical posterior `{s}`: expected vmf or power-spherical"
            )),
        }
    }
}

/// Configuration of a [`SphericalVae`]. Defaults: pythae's S-VAE on MNIST — 784-256-128,
/// latent sphere in R^11, ReLU, Bernoulli decoder, vMF posterior with learned κ.
#[derive(Config, Debug)]
pub struct SphericalVaeConfig {
    /// Data size, encoder/decoder body and observation model (see [`BodyConfig`]; set its
    /// fields with the [`WithBody`](crate::models::body::WithBody) builder methods).
    #[config(default = "BodyConfig::new().with_hidden(vec![256, 128])")]
    pub body: BodyConfig,
    /// Ambient dimension m of the latent sphere S^{m−1} ⊂ R^m (m ≥ 2).
    #[config(default = 11)]
    pub latent_dim: usize,
    /// Posterior family.
    #[config(default = "SphericalPosterior::VonMisesFisher")]
    pub posterior: SphericalPosterior,
    /// Fixed concentration κ (Xu & Durrett 2018); `None` learns κ(x) = softplus(·) + 1.
    #[config(default = "None")]
    pub fixed_kappa: Option<f64>,
}

/// A VAE with latent codes on S^{m−1} and the uniform prior.
#[derive(Module, Debug)]
pub struct SphericalVae {
    /// x → [direction (m), κ pre-activation (1, absent with a fixed κ)].
    pub encoder: EncoderNet,
    /// z → likelihood parameters.
    pub decoder: DecoderNet,
    /// Ambient latent dimension m.
    pub latent_dim: usize,
    /// Fixed κ, if any.
    pub fixed_kappa: Option<f64>,
    /// Observation model (configuration, not saved in records).
    #[module(skip)]
    pub likelihood: LikelihoodConfig,
    /// Posterior family (configuration, not saved in records).
    #[module(skip)]
    pub posterior: SphericalPosterior,
}

impl_with_body!(SphericalVaeConfig);

impl Validate for SphericalVaeConfig {
    /// The body ([`BodyConfig`]), `latent_dim ≥ 2` and a finite `fixed_kappa ≥ 0`.
    fn validate(&self) -> Result<(), ConfigError> {
        const C: &str = "SphericalVaeConfig";
        self.body.validate().map_err(|e| e.within(C, "body"))?;
        if self.latent_dim < 2 {
            return Err(ConfigError::new(
                C,
                "latent_dim",
                format!(
                    "the sphere's ambient dimension m must be ≥ 2, got {}",
                    self.latent_dim
                ),
            ));
        }
        if let Some(k) = self.fixed_kappa
            && !(k.is_finite() && k >= 0.0)
        {
            return Err(ConfigError::new(
                C,
                "fixed_kappa",
                format!("must be finite and ≥ 0, got {k}"),
            ));
        }
        Ok(())
    }
}

impl SphericalVaeConfig {
    /// Initialises the model on `device`.
    ///
    /// # Errors
    /// The first invalid field (see [`Validate`]).
    pub fn try_init(&self, device: &Device) -> Result<SphericalVae, ConfigError> {
        self.validate()?;
        let heads = self.latent_dim + usize::from(self.fixed_kappa.is_none());
        let (encoder, decoder) = self
            .body
            .try_init_nets(heads, self.latent_dim, device)
            .map_err(|e| e.within("SphericalVaeConfig", "body"))?;
        Ok(SphericalVae {
            encoder,
            decoder,
            latent_dim: self.latent_dim,
            fixed_kappa: self.fixed_kappa,
            likelihood: self.body.likelihood.clone(),
            posterior: self.posterior.clone(),
        })
    }

    /// [`try_init`](Self::try_init) that panics with the field-naming message.
    ///
    /// # Panics
    /// If the configuration is invalid.
    pub fn init(&self, device: &Device) -> SphericalVae {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// q(z | x) of a [`SphericalVae`].
#[derive(Debug, Clone)]
pub enum SphericalQ {
    /// von Mises–Fisher posterior.
    Vmf(VonMisesFisher),
    /// Power spherical posterior.
    Ps(PowerSpherical),
}

impl SphericalQ {
    /// Reparameterised sample `[B, m]` with host noise from `rng`.
    pub fn rsample(&self, rng: &mut HostRng) -> Tensor<2> {
        match self {
            Self::Vmf(q) => q.rsample(rng),
            Self::Ps(q) => q.rsample(rng),
        }
    }

    /// ln q(z), `[B]`.
    pub fn log_prob(&self, z: Tensor<2>) -> Tensor<1> {
        match self {
            Self::Vmf(q) => q.log_prob(z),
            Self::Ps(q) => q.log_prob(z),
        }
    }

    /// KL(q ‖ U(S^{m−1})), `[B]`.
    pub fn kl_uniform(&self, prior: &UniformSphere) -> Tensor<1> {
        match self {
            Self::Vmf(q) => q.kl_divergence(prior),
            Self::Ps(q) => q.kl_divergence(prior),
        }
    }
}

impl SphericalVae {
    /// (μ, κ) of q(z|x): unit directions `[B, m]` and concentrations `[B]`.
    pub fn encode_params(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        let h = self.encoder.forward(x);
        let [b, _] = h.dims();
        let m = self.latent_dim;
        let d = h.clone().slice([0..b, 0..m]);
        let norm = d.clone().square().sum_dim(1).sqrt().clamp_min(1e-12);
        let mu = d / norm;
        let kappa = match self.fixed_kappa {
            Some(k) => Tensor::full([b], k, &mu.device()),
            None => softplus(h.slice([0..b, m..m + 1]), 1.0).squeeze_dim::<1>(1) + 1.0,
        };
        (mu, kappa)
    }

    /// q(z | x).
    pub fn encode(&self, x: Tensor<2>) -> SphericalQ {
        let (mu, kappa) = self.encode_params(x);
        self.posterior_from(mu, kappa)
    }

    fn posterior_from(&self, mu: Tensor<2>, kappa: Tensor<1>) -> SphericalQ {
        match self.posterior {
            SphericalPosterior::VonMisesFisher => SphericalQ::Vmf(
                VonMisesFisher::new(mu, kappa).expect("normalised directions, κ ≥ 1 or fixed ≥ 0"),
            ),
            SphericalPosterior::PowerSpherical => SphericalQ::Ps(
                PowerSpherical::new(mu, kappa).expect("normalised directions, κ ≥ 1 or fixed ≥ 0"),
            ),
        }
    }

    fn prior(&self, batch: usize, device: &Device) -> UniformSphere {
        UniformSphere::new(batch, self.latent_dim, device).expect("batch ≥ 1, m ≥ 2")
    }

    /// ln p(x | z) per row, `[B]`.
    pub fn log_likelihood(&self, z: Tensor<2>, x: Tensor<2>) -> Tensor<1> {
        self.likelihood.log_prob(self.decoder.forward(z), x)
    }

    /// `(−ln p(x|z), KL(q ‖ U))` per example, one z per example.
    pub fn elbo_terms(&self, x: Tensor<2>, rng: &mut HostRng) -> (Tensor<1>, Tensor<1>) {
        let [b, _] = x.dims();
        let q = self.encode(x.clone());
        let z = q.rsample(rng);
        let kl = q.kl_uniform(&self.prior(b, &x.device()));
        (self.log_likelihood(z, x).neg(), kl)
    }
}

impl ImportanceSampled for SphericalVae {
    /// ln p(x|z) + ln U(z) − ln q(z|x) for k posterior samples per row: `[B, k]`.
    fn log_weights(&self, x: Tensor<2>, k: usize, rng: &mut HostRng) -> Tensor<2> {
        let [b, d] = x.dims();
        let m = self.latent_dim;
        let (mu, kappa) = self.encode_params(x.clone());
        let mu = mu
            .unsqueeze_dim::<3>(1)
            .repeat_dim(1, k)
            .reshape([b * k, m]);
        let kappa = kappa
            .unsqueeze_dim::<2>(1)
            .repeat_dim(1, k)
            .reshape([b * k]);
        let q = self.posterior_from(mu, kappa);
        let z = q.rsample(rng);
        let log_pz = self.prior(b * k, &x.device()).log_prob(z.clone());
        let log_qz = q.log_prob(z.clone());
        let xk = x.unsqueeze_dim::<3>(1).repeat_dim(1, k).reshape([b * k, d]);
        (self.log_likelihood(z, xk) + log_pz - log_qz).reshape([b, k])
    }
}

impl VariationalModel for SphericalVae {
    /// Free bits needs a per-dimension KL, which a spherical posterior does not have.
    fn check_objective(&self, objective: &VaeObjective) -> Result<(), ConfigError> {
        objective.validate()?;
        if let KlControl::FreeBits { .. } = objective.kl {
            return Err(ConfigError::new(
                "VaeObjective",
                "kl",
                "`free-bits` needs a per-dimension KL; the spherical VAEs have one KL for the \
                 whole code (use `capacity:GAMMA` or a fixed κ)",
            ));
        }
        Ok(())
    }

    /// recon + β·KL (or γ·|KL − C|), or the IWAE bound for k > 1; metrics `recon`, `kl`,
    /// `neg_elbo` (and `iwae`, `capacity`, `kl_gap`), nats per image.
    fn train_step(
        &self,
        objective: &VaeObjective,
        x: Tensor<2>,
        rng: &mut HostRng,
        ctx: &StepContext,
    ) -> StepOutput {
        if objective.iw_samples > 1 {
            return iwae_step(self.log_weights(x, objective.iw_samples, rng));
        }
        let (recon, kl) = self.elbo_terms(x, rng);
        objective.elbo_step(
            ElboParts {
                recon,
                kl,
                kl_per_dim: None,
            },
            KlWeights::from_context(ctx),
        )
    }

    fn elbo_parts(&self, x: Tensor<2>, rng: &mut HostRng) -> (Tensor<1>, Tensor<1>) {
        self.elbo_terms(x, rng)
    }

    /// Likelihood means at z ~ U(S^{m−1}).
    fn sample_means(&self, n: usize, device: &Device, rng: &mut HostRng) -> Tensor<2> {
        let z = self.prior(n, device).sample(rng);
        self.likelihood.mean(self.decoder.forward(z))
    }
}

impl LatentCodec for SphericalVae {
    fn latent_dim(&self) -> usize {
        self.latent_dim
    }

    /// The mean direction μ(x) (the posterior mode).
    fn encode_mean(&self, x: Tensor<2>) -> Tensor<2> {
        self.encode_params(x).0
    }

    fn decode_mean(&self, z: Tensor<2>) -> Tensor<2> {
        self.likelihood.mean(self.decoder.forward(z))
    }
}
