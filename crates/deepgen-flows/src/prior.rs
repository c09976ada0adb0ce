//! The autoregressive-flow prior ("VAE with AF prior"): a learnable density on the latent `z`.
//!
//! `u = F(z)`, with `F` a stack of [`MafStep`]s (reversal permutations between them), and
//! `u ~ N(0, I)`:
//!
//! ```text
//! ln p(z) = ln N(F(z); 0, I) + ln|det ∂F/∂z|      (one MADE pass per step)
//! z = F⁻¹(u),  u ~ N(0, I)                         (D sequential passes per step)
//! ```
//!
//! Density evaluation — what the ELBO needs, `ln p(z)` at posterior samples — is the cheap
//! direction; sampling (generating images) is the sequential one.

use burn::config::Config;
use burn::module::Module;
use burn::nn::EluConfig;
use burn::nn::activation::ActivationConfig;
use burn::tensor::{Device, Tensor};
use deepgen_distributions::noise;
use deepgen_tensor::rng::HostRng;

use crate::flow::Flow;
use crate::maf::MafConfig;
use crate::permutation::Permutation;
use crate::transform::{Transform, sum_rows};

/// ½·ln(2π).
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// Configuration of an [`AfPrior`].
#[derive(Config, Debug)]
pub struct AfPriorConfig {
    /// Latent dimension `D`.
    pub d: usize,
    /// Number of MAF steps (≥ 1).
    pub n_steps: usize,
    /// Hidden widths of each step's MADE.
    pub hidden: Vec<usize>,
    /// MADE hidden activation.
    #[config(default = "ActivationConfig::Elu(EluConfig::new())")]
    pub activation: ActivationConfig,
    /// Soft bound on each step's log-scale (see [`MafConfig::alpha_bound`]).
    #[config(default = 3.0)]
    pub alpha_bound: f64,
    /// Scale of the MADEs' initial output weights (small: the prior starts near N(0, I)).
    #[config(default = 0.01)]
    pub output_init_scale: f64,
}

impl AfPriorConfig {
    /// Builds the prior on `device`.
    pub fn init(&self, device: &Device) -> AfPrior {
        assert!(self.n_steps >= 1, "AfPriorConfig: n_steps must be ≥ 1");
        let step = MafConfig::new(self.d, self.hidden.clone())
            .with_activation(self.activation.clone())
            .with_alpha_bound(self.alpha_bound)
            .with_output_init_scale(self.output_init_scale);
        let mut steps = Vec::with_capacity(2 * self.n_steps - 1);
        for i in 0..self.n_steps {
            if i > 0 {
                steps.push(Permutation::reverse(self.d, device).into());
            }
            steps.push(step.init(device).into());
        }
        AfPrior {
            flow: Flow::new(self.d, steps),
        }
    }
}

/// A density on `ℝᴰ`: a standard normal pulled back through a [`Flow`] whose `forward` is
/// the density direction (`z → u`); see the [module docs](self).
#[derive(Module, Debug)]
pub struct AfPrior {
    /// `F`: `z → u`.
    pub flow: Flow,
}

impl AfPrior {
    /// A prior from any flow whose `forward` maps `z` to standard-normal `u`.
    pub fn new(flow: Flow) -> Self {
        Self { flow }
    }

    /// `D`.
    pub fn dim(&self) -> usize {
        self.flow.d
    }

    /// `ln p(z)` per row, `[B]` (differentiable in `z` and the parameters).
    pub fn log_prob(&self, z: Tensor<2>) -> Tensor<1> {
        let (u, ladj) = self.flow.forward_and_ladj(z, None);
        standard_normal_log_prob(u) + ladj
    }

    /// `n` samples `[n, D]` (detached), from host-drawn noise.
    pub fn sample(&self, n: usize, rng: &mut HostRng) -> Tensor<2> {
        self.sample_with_log_prob(n, rng).0.detach()
    }

    /// `n` samples with their log-density computed along the sampling path,
    /// `ln p(z) = ln N(u) − ln|det ∂z/∂u|` (not detached).
    pub fn sample_with_log_prob(&self, n: usize, rng: &mut HostRng) -> (Tensor<2>, Tensor<1>) {
        let device = self
            .devices()
            .into_iter()
            .next()
            .expect("an AfPrior has parameters");
        let u = noise::standard_normal(rng, [n, self.dim()], &device);
        self.sample_from_noise(u)
    }

    /// `z = F⁻¹(u)` and `ln p(z)` for given noise `u` `[n, D]`.
    pub fn sample_from_noise(&self, u: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        let log_pu = standard_normal_log_prob(u.clone());
        let (z, ladj) = self.flow.inverse_and_ladj(u, None);
        (z, log_pu - ladj)
    }
}

/// `ln N(u; 0, I)` per row.
fn standard_normal_log_prob(u: Tensor<2>) -> Tensor<1> {
    let d = u.dims()[1] as f64;
    sum_rows(u.square()).mul_scalar(-0.5) - d * HALF_LN_2PI
}
