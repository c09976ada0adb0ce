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
use burn::nn::activation::ActivationConfig;
use burn::tensor::activation::softplus;
use burn::tensor::{Device, Tensor};
use deepgen_distributions::{
    Distribution, KlDivergence, PowerSpherical, Rsample, UniformSphere, VonMisesFisher,
};
use deepgen_nn::{DecoderNet, EncoderNet};
use deepgen_tensor::HostRng;
use deepgen_tensor::config::{ConfigError, Validate};
use deepgen_train::{StepContext, StepOutput};

use crate::models::body::{BodyConfig, ConvBodyConfig};
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
    /// Flattened input size.
    #[config(default = 784)]
    pub input_dim: usize,
    /// Encoder hidden widths of the MLP body (decoder mirrors them; unused with `conv`).
    #[config(default = "vec![256, 128]")]
    pub hidden: Vec<usize>,
    /// Convolutional body instead of the MLP (`None`: MLP); see [`crate::models::body`].
    #[config(default = "None")]
    pub conv: Option<ConvBodyConfig>,
    /// Ambient dimension m of the latent sphere S^{m−1} ⊂ R^m (m ≥ 2).
    #[config(default = 11)]
    pub latent_dim: usize,
    /// Hidden activation.
    #[config(default = "ActivationConfig::Relu")]
    pub activation: ActivationConfig,
    /// Observation model.
    #[config(default = "LikelihoodConfig::Bernoulli")]
    pub likelihood: LikelihoodConfig,
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

impl SphericalVaeConfig {
    /// Initialises the model.
    ///
    /// # Panics
    /// If `latent_dim < 2`, `input_dim` is 0, `fixed_kappa` is negative or non-finite, or the
    /// likelihood is invalid (the message names the field).
    pub fn init(&self, device: &Device) -> SphericalVae {
        assert!(
            self.input_dim > 0,
            "SphericalVaeConfig: `input_dim` must be positive"
        );
        assert!(
            self.latent_dim >= 2,
            "SphericalVaeConfig: `latent_dim` (the sphere's ambient dimension m) must be ≥ 2"
        );
        if let Some(k) = self.fixed_kappa {
            assert!(
                k.is_finite() && k >= 0.0,
                "SphericalVaeConfig: `fixed_kappa` must be finite and ≥ 0, got {k}"
            );
        }
        if let Err(e) = self.likelihood.validate() {
            panic!("{}", e.within("SphericalVaeConfig", "likelihood"));
        }
        let heads = self.latent_dim + usize::from(self.fixed_kappa.is_none());
        let (encoder, decoder) = BodyConfig::new(
            self.input_dim,
            &self.hidden,
            &self.activation,
            self.conv.as_ref(),
        )
        .init_nets(
            heads,
            self.latent_dim,
            self.likelihood.params_per_dim(),
            "SphericalVaeConfig",
            device,
        );
        SphericalVae {
            encoder,
            decoder,
            latent_dim: self.latent_dim,
            fixed_kappa: self.fixed_kappa,
            likelihood: self.likelihood.clone(),
            posterior: self.posterior.clone(),
        }
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
