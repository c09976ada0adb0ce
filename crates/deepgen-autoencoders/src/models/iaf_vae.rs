//! The VAE with an inverse-autoregressive-flow posterior and, optionally, an
//! autoregressive-flow prior (Kingma et al. 2016, "Improved variational inference with inverse
//! autoregressive flow"; the "VAE with AF prior" of the same line of work).
//!
//! ```text
//! encoder:   x ↦ [μ, ln σ, h]                (one MLP or conv net, outputs L, L, C)
//! z_0      = μ + σ ⊙ ε,            ε ~ N(0, I)
//! ln q_0   = ln N(z_0; μ, σ²) = Σ_i (−½ε_i² − ln σ_i − ½ ln 2π)
//! (z_T, ln q(z_T|x)) = Flow::push_forward(z_0, ln q_0, h)   (IAF steps, reversal between them)
//!            ln q(z_T|x) = ln q_0 − Σ_t ln|det ∂z_t/∂z_{t−1}|
//! prior:     ln p(z_T) = ln N(z_T; 0, I)                 (PriorKind::StandardNormal)
//!                      = ln N(F(z_T); 0, I) + ln|det ∂F/∂z|   (PriorKind::Af, MAF steps F)
//! decoder:   z_T ↦ likelihood parameters, ln p(x|z_T)
//! ```
//!
//! The KL term has no closed form once the posterior is a flow (or the prior is one): the loss
//! uses the single-sample estimate `ln q(z_T|x) − ln p(z_T)` at the same `z_T` as the
//! reconstruction, whose expectation over ε is `KL(q(z|x) ‖ p(z))` in nats. It can be negative
//! for a single sample; its average cannot. The importance log-weight of a sample is
//! `ln w = ln p(x|z_T) + ln p(z_T) − ln q(z_T|x)`, so `−ln w = recon + kl` of that sample.
//!
//! `iaf_steps = 0` gives a Gaussian posterior, so `iaf_steps = 0` with an AF prior is the
//! "VAE with AF prior" on its own, and `iaf_steps = 0` with the normal prior is the plain VAE
//! with a Monte-Carlo KL.
//!
//! Randomness: weights from Burn's device RNG at `init`; every ε comes from a [`HostRng`] or is
//! passed in (`*_with_noise`), so losses are reproducible on every backend.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use deepgen_distributions::noise::standard_normal;
use deepgen_flows::{AfPrior, AfPriorConfig, Flow, IafFlowConfig, Transform as _};
use deepgen_nn::{DecoderNet, EncoderNet};
use deepgen_tensor::HostRng;
use deepgen_tensor::config::{ConfigError, Validate, positive};
use deepgen_tensor::numerics::HALF_LN_2PI;
use deepgen_train::StepOutput;

use crate::models::body::{BodyConfig, impl_with_body};
use crate::objective::importance::ImportanceSampled;
use crate::objective::likelihood::LikelihoodConfig;
use crate::objective::{ElboParts, KlWeights, VaeObjective, iwae_step};

/// The prior p(z) of an [`IafVae`].
#[derive(Config, Debug, PartialEq)]
pub enum PriorKind {
    /// p(z) = N(0, I).
    StandardNormal,
    /// An autoregressive-flow prior: `steps` MAF steps (reversal between them) with MADEs of
    /// the given hidden widths, over N(0, I) (see [`AfPrior`]).
    Af {
        /// Number of MAF steps (≥ 1).
        steps: usize,
        /// Hidden widths of each MADE (≥ `latent_dim − 1` for full connectivity).
        hidden: Vec<usize>,
    },
}

impl PriorKind {
    /// The command-line spelling: `normal` or `af`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::StandardNormal => "normal",
            Self::Af { .. } => "af",
        }
    }
}

/// Configuration of an [`IafVae`]. Defaults: the 784-512-256-32 ReLU MLPs of
/// [`VaeConfig`](crate::VaeConfig), a 32-wide context `h`, two IAF steps with MADEs of widths
/// 64-64 (ELU), a standard-normal prior and a Bernoulli decoder.
#[derive(Config, Debug)]
pub struct IafVaeConfig {
    /// Data size, encoder/decoder body and observation model (see [`BodyConfig`]; set its
    /// fields with the [`WithBody`](crate::models::body::WithBody) builder methods).
    #[config(default = "BodyConfig::new()")]
    pub body: BodyConfig,
    /// Latent dimensionality L.
    #[config(default = 32)]
    pub latent_dim: usize,
    /// Width C of the encoder's context `h` fed to every IAF step (0: unconditioned steps;
    /// Kingma et al. condition on it).
    #[config(default = 32)]
    pub context_dim: usize,
    /// Number of IAF steps (0: Gaussian posterior).
    #[config(default = 2)]
    pub iaf_steps: usize,
    /// Hidden widths of each IAF step's MADE (≥ L with a context, for full connectivity).
    #[config(default = "vec![64, 64]")]
    pub made_hidden: Vec<usize>,
    /// Initial forget-gate bias of the IAF steps (σ = sigmoid(s) starts near sigmoid of it).
    #[config(default = 2.0)]
    pub forget_bias: f64,
    /// The prior p(z).
    #[config(default = "PriorKind::StandardNormal")]
    pub prior: PriorKind,
}

/// A VAE with an IAF posterior and a normal or autoregressive-flow prior; see the
/// [module docs](self).
#[derive(Module, Debug)]
pub struct IafVae {
    /// x → [μ, ln σ, h] (`2L + C` outputs).
    pub encoder: EncoderNet,
    /// The IAF posterior flow `z_0 → z_T` (`None` when `iaf_steps = 0`).
    pub flow: Option<Flow>,
    /// The AF prior (`None`: N(0, I)).
    pub prior: Option<AfPrior>,
    /// z_T → likelihood parameters.
    pub decoder: DecoderNet,
    /// L.
    pub latent_dim: usize,
    /// C.
    pub context_dim: usize,
    /// Observation model (configuration, not saved in records).
    #[module(skip)]
    pub likelihood: LikelihoodConfig,
}

impl Validate for IafVaeConfig {
    /// Checks the configuration; the error names the field.
    fn validate(&self) -> Result<(), ConfigError> {
        const C: &str = "IafVaeConfig";
        self.body.validate().map_err(|e| e.within(C, "body"))?;
        positive(C, "latent_dim", self.latent_dim)?;
        if self.iaf_steps > 0 && self.made_hidden.contains(&0) {
            return Err(ConfigError::new(
                C,
                "made_hidden",
                format!("widths must be ≥ 1, got {:?}", self.made_hidden),
            ));
        }
        if !self.forget_bias.is_finite() {
            return Err(ConfigError::new(
                C,
                "forget_bias",
                format!("must be finite, got {}", self.forget_bias),
            ));
        }
        if let PriorKind::Af { steps, hidden } = &self.prior {
            positive(C, "prior.steps", *steps)?;
            if hidden.contains(&0) {
                return Err(ConfigError::new(
                    C,
                    "prior.hidden",
                    format!("widths must be ≥ 1, got {hidden:?}"),
                ));
            }
        }
        Ok(())
    }
}

impl_with_body!(IafVaeConfig);

impl IafVaeConfig {
    /// Initialises the model on `device`.
    ///
    /// # Errors
    /// The first invalid field (see [`Validate`]).
    pub fn try_init(&self, device: &Device) -> Result<IafVae, ConfigError> {
        self.validate()?;
        let l = self.latent_dim;
        let (encoder, decoder) = self
            .body
            .try_init_nets(2 * l + self.context_dim, l, device)
            .map_err(|e| e.within("IafVaeConfig", "body"))?;
        let flow = if self.iaf_steps > 0 {
            Some(
                IafFlowConfig::new(l, self.iaf_steps, self.made_hidden.clone())
                    .with_context_dim(self.context_dim)
                    .with_forget_bias(self.forget_bias)
                    .try_init(device)
                    .map_err(|e| e.within("IafVaeConfig", "iaf"))?,
            )
        } else {
            None
        };
        let prior = match &self.prior {
            PriorKind::StandardNormal => None,
            PriorKind::Af { steps, hidden } => Some(
                AfPriorConfig::new(l, *steps, hidden.clone())
                    .try_init(device)
                    .map_err(|e| e.within("IafVaeConfig", "prior"))?,
            ),
        };
        Ok(IafVae {
            encoder,
            flow,
            prior,
            decoder,
            latent_dim: l,
            context_dim: self.context_dim,
            likelihood: self.body.likelihood.clone(),
        })
    }

    /// [`try_init`](Self::try_init) that panics with the field-naming message.
    ///
    /// # Panics
    /// If the configuration is invalid.
    pub fn init(&self, device: &Device) -> IafVae {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// The encoder's output for a batch: q_0 = N(μ, σ²) and the context `h`.
#[derive(Debug, Clone)]
pub struct IafPosterior {
    /// μ, `[B, L]`.
    pub mean: Tensor<2>,
    /// ln σ, `[B, L]`.
    pub log_std: Tensor<2>,
    /// h, `[B, C]` (`None` when C = 0).
    pub context: Option<Tensor<2>>,
}

impl IafPosterior {
    /// Each row repeated `k` times in place (row `b·k + j` is copy j of row b).
    pub fn repeat_rows(self, k: usize) -> Self {
        if k == 1 {
            return self;
        }
        Self {
            mean: repeat_rows(self.mean, k),
            log_std: repeat_rows(self.log_std, k),
            context: self.context.map(|h| repeat_rows(h, k)),
        }
    }
}

/// Per-example terms of the negative ELBO for one posterior sample, in nats, all `[B]`.
#[derive(Debug, Clone)]
pub struct IafElboTerms {
    /// −ln p(x | z_T), summed over pixels.
    pub recon_nll: Tensor<1>,
    /// ln q(z_T | x) = ln q_0(z_0) − ladj.
    pub log_q: Tensor<1>,
    /// ln p(z_T).
    pub log_p: Tensor<1>,
    /// Σ_t ln|det ∂z_t/∂z_{t−1}| of the posterior flow (0 without IAF steps).
    pub flow_ladj: Tensor<1>,
}

impl IafElboTerms {
    /// The single-sample KL estimate ln q(z_T|x) − ln p(z_T), `[B]`.
    pub fn kl(&self) -> Tensor<1> {
        self.log_q.clone() - self.log_p.clone()
    }

    /// The negative ELBO with KL weight β: recon + β·(ln q − ln p), averaged over the batch,
    /// `[1]`.
    pub fn loss(&self, beta: f64) -> Tensor<1> {
        (self.recon_nll.clone() + self.kl() * beta).mean()
    }
}

impl IafVae {
    /// The encoder's q_0 and context for `x` (`[B, input_dim]`).
    pub fn encode(&self, x: Tensor<2>) -> IafPosterior {
        let out = self.encoder.forward(x);
        let l = self.latent_dim;
        IafPosterior {
            mean: out.clone().narrow(1, 0, l),
            log_std: out.clone().narrow(1, l, l),
            context: (self.context_dim > 0).then(|| out.narrow(1, 2 * l, self.context_dim)),
        }
    }

    /// `(z_T, ln q(z_T|x))` for noise `eps` (`[B, L]`) under the posterior `q` (rows of `q`
    /// and `eps` correspond).
    pub fn posterior_sample(&self, q: &IafPosterior, eps: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        let (z, log_q0, ladj) = self.push_through_flow(q, eps);
        (z, log_q0 - ladj)
    }

    /// `(z_T, ln q_0(z_0), Σ ladj)`: z_0 = μ + σ ⊙ ε through the IAF steps.
    fn push_through_flow(
        &self,
        q: &IafPosterior,
        eps: Tensor<2>,
    ) -> (Tensor<2>, Tensor<1>, Tensor<1>) {
        let d = self.latent_dim as f64;
        let z0 = q.mean.clone() + q.log_std.clone().exp() * eps.clone();
        // ln N(z_0; μ, σ²) written with ε = (z_0 − μ)/σ, which is what it equals exactly.
        let log_q0 =
            sum_rows(eps.square()).mul_scalar(-0.5) - sum_rows(q.log_std.clone()) - d * HALF_LN_2PI;
        match &self.flow {
            Some(flow) => {
                let (z, ladj) = flow.forward_and_ladj(z0, q.context.as_ref());
                (z, log_q0, ladj)
            }
            None => {
                let zero = log_q0.zeros_like();
                (z0, log_q0, zero)
            }
        }
    }

    /// ln p(z) per row, `[B]`.
    pub fn log_prior(&self, z: Tensor<2>) -> Tensor<1> {
        match &self.prior {
            Some(prior) => prior.log_prob(z),
            None => {
                let d = self.latent_dim as f64;
                sum_rows(z.square()).mul_scalar(-0.5) - d * HALF_LN_2PI
            }
        }
    }

    /// Decoder output (likelihood parameters) for `z` (`[B, L]`).
    pub fn decode(&self, z: Tensor<2>) -> Tensor<2> {
        self.decoder.forward(z)
    }

    /// ln p(x | z) per row, `[B]`.
    pub fn log_likelihood(&self, z: Tensor<2>, x: Tensor<2>) -> Tensor<1> {
        self.likelihood.log_prob(self.decode(z), x)
    }

    /// The negative-ELBO terms with reparameterisation noise `eps` (`[B, L]`).
    pub fn elbo_terms_with_noise(&self, x: Tensor<2>, eps: Tensor<2>) -> IafElboTerms {
        let q = self.encode(x.clone());
        self.terms(q, x, eps)
    }

    /// The negative-ELBO terms with noise drawn from `rng`.
    pub fn elbo_terms(&self, x: Tensor<2>, rng: &mut HostRng) -> IafElboTerms {
        let [b, _] = x.dims();
        let eps = standard_normal(rng, [b, self.latent_dim], &x.device());
        self.elbo_terms_with_noise(x, eps)
    }

    fn terms(&self, q: IafPosterior, x: Tensor<2>, eps: Tensor<2>) -> IafElboTerms {
        let (z, log_q0, flow_ladj) = self.push_through_flow(&q, eps);
        let log_q = log_q0 - flow_ladj.clone();
        let log_p = self.log_prior(z.clone());
        let recon_nll = self.log_likelihood(z, x).neg();
        IafElboTerms {
            recon_nll,
            log_q,
            log_p,
            flow_ladj,
        }
    }

    /// ln w = ln p(x|z_T) + ln p(z_T) − ln q(z_T|x) for `k` samples per row, with the noise
    /// `eps` (`[B·k, L]`, row `b·k + j` is sample j of example b): `[B, k]`. The encoder runs
    /// once per example.
    pub fn log_weights_with_noise(&self, x: Tensor<2>, eps: Tensor<2>, k: usize) -> Tensor<2> {
        let [b, _] = x.dims();
        let q = self.encode(x.clone()).repeat_rows(k);
        let t = self.terms(q, repeat_rows(x, k), eps);
        (t.log_p - t.log_q - t.recon_nll).reshape([b, k])
    }

    /// Loss and metrics of one training step on `x` (`[B, D]`) with noise `eps` (`[B·k, L]`).
    ///
    /// - `iw_samples = 1`: recon + β·(ln q − ln p). Metrics (nats per image, batch means):
    ///   `recon`, `kl` (the single-sample estimate), `neg_elbo` (= recon + kl), `flow_ladj`
    ///   (Σ ln|det| of the IAF steps), `log_q`, `log_p`.
    /// - `iw_samples = k > 1`: the negative IWAE bound −ln (1/k) Σ_j w_j (β is not used);
    ///   metrics `iwae` and `neg_elbo` (−mean ln w over the k samples).
    ///
    /// # Panics
    /// If `iw_samples` is 0.
    pub fn objective_step(
        &self,
        x: Tensor<2>,
        eps: Tensor<2>,
        iw_samples: usize,
        beta: f64,
    ) -> StepOutput {
        assert!(iw_samples >= 1, "IafVae: `iw_samples` must be at least 1");
        if iw_samples > 1 {
            return iwae_step(self.log_weights_with_noise(x, eps, iw_samples));
        }
        let t = self.elbo_terms_with_noise(x, eps);
        let kl = t.kl();
        let (flow_ladj, log_q, log_p) = (t.flow_ladj.mean(), t.log_q.mean(), t.log_p.mean());
        VaeObjective::default()
            .elbo_step(
                ElboParts {
                    recon: t.recon_nll,
                    kl,
                    kl_per_dim: None,
                },
                KlWeights {
                    beta,
                    capacity: 0.0,
                },
            )
            .with_metric("flow_ladj", flow_ladj.detach())
            .with_metric("log_q", log_q.detach())
            .with_metric("log_p", log_p.detach())
    }

    /// `n` latent codes from the prior, `[n, L]` (detached). With an AF prior this inverts the
    /// MAF steps: `L` sequential passes per step.
    pub fn sample_prior(&self, n: usize, device: &Device, rng: &mut HostRng) -> Tensor<2> {
        match &self.prior {
            Some(prior) => {
                let u = standard_normal(rng, [n, self.latent_dim], device);
                prior.sample_from_noise(u).0.detach()
            }
            None => standard_normal(rng, [n, self.latent_dim], device),
        }
    }

    /// Draws `n` images: the likelihood means at z ~ p(z), `[n, input_dim]` in [0, 1].
    pub fn sample_means(&self, n: usize, device: &Device, rng: &mut HostRng) -> Tensor<2> {
        let z = self.sample_prior(n, device, rng);
        self.decode_means(z)
    }

    /// The likelihood means (images in [0, 1]) at latent codes `z`, `[B, input_dim]`.
    pub fn decode_means(&self, z: Tensor<2>) -> Tensor<2> {
        self.likelihood.mean(self.decode(z))
    }

    /// The deterministic code of `x`: `z_T` at ε = 0 (the flow applied to μ), `[B, L]`.
    ///
    /// The IAF steps mix coordinates (and add the context's contribution), so "active units"
    /// measured on this code count coordinates of z_T that vary with x, not latent dimensions
    /// that carry KL: not comparable with the plain VAE's count on μ.
    pub fn encode_code(&self, x: Tensor<2>) -> Tensor<2> {
        let q = self.encode(x);
        match &self.flow {
            Some(flow) => flow.forward(q.mean, q.context.as_ref()),
            None => q.mean,
        }
    }
}

impl ImportanceSampled for IafVae {
    /// [`IafVae::log_weights_with_noise`] with noise drawn from `rng`.
    fn log_weights(&self, x: Tensor<2>, k: usize, rng: &mut HostRng) -> Tensor<2> {
        let [b, _] = x.dims();
        let eps = standard_normal(rng, [b * k, self.latent_dim], &x.device());
        self.log_weights_with_noise(x, eps, k)
    }
}

impl crate::models::variational::LatentCodec for IafVae {
    fn latent_dim(&self) -> usize {
        self.latent_dim
    }

    /// `z_T` at ε = 0 (see [`IafVae::encode_code`]).
    fn encode_mean(&self, x: Tensor<2>) -> Tensor<2> {
        self.encode_code(x)
    }

    fn decode_mean(&self, z: Tensor<2>) -> Tensor<2> {
        self.decode_means(z)
    }
}

/// Each row of `t` (`[B, W]`) repeated `k` times in place: `[B·k, W]`.
fn repeat_rows(t: Tensor<2>, k: usize) -> Tensor<2> {
    if k == 1 {
        return t;
    }
    let [b, w] = t.dims();
    t.unsqueeze_dim::<3>(1).repeat_dim(1, k).reshape([b * k, w])
}

/// Sums `[B, D]` over `D`: `[B]`.
fn sum_rows(t: Tensor<2>) -> Tensor<1> {
    t.sum_dim(1).squeeze_dim(1)
}

impl crate::models::variational::VariationalModel for IafVae {
    /// β (`"beta"` schedule) and IWAE k; free bits and capacity control are Gaussian-VAE
    /// objectives and are refused with a message naming the flag.
    fn check_objective(&self, objective: &VaeObjective) -> Result<(), ConfigError> {
        objective.validate()?;
        if objective.kl != crate::objective::KlControl::Plain {
            return Err(ConfigError::new(
                "VaeObjective",
                "kl",
                format!(
                    "the IAF-VAE supports `--kl plain` (with `--beta`) and `--iw-samples`, not {}",
                    objective.kl
                ),
            ));
        }
        Ok(())
    }

    fn train_step(
        &self,
        objective: &crate::objective::VaeObjective,
        x: Tensor<2>,
        rng: &mut HostRng,
        ctx: &deepgen_train::StepContext,
    ) -> StepOutput {
        let [b, _] = x.dims();
        let k = objective.iw_samples;
        let eps = standard_normal(rng, [b * k, self.latent_dim], &x.device());
        self.objective_step(x, eps, k, ctx.weight_or("beta", 1.0))
    }

    fn elbo_parts(&self, x: Tensor<2>, rng: &mut HostRng) -> (Tensor<1>, Tensor<1>) {
        let t = self.elbo_terms(x, rng);
        let kl = t.kl();
        (t.recon_nll, kl)
    }

    fn sample_means(&self, n: usize, device: &Device, rng: &mut HostRng) -> Tensor<2> {
        IafVae::sample_means(self, n, device, rng)
    }
}
