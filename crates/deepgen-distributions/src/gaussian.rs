//! Diagonal Gaussian N(μ, diag σ²), parameterised by μ and log σ, and the
//! parameter-free standard normal prior.

use burn::tensor::{Device, Tensor};
use deepgen_tensor::numerics::HALF_LN_2PI;
use deepgen_tensor::rng::HostRng;

use crate::{DistShape, Distribution, Entropy, KlDivergence, Result, Rsample, check, noise};

/// A batch of diagonal Gaussians: rows of `mean`/`log_std` (`[B, D]`) are batch
/// elements, columns the event dimensions.
///
/// **Parameterisation: log σ** (not log-variance): σ = exp(log_std), so any real
/// `log_std` is valid. Use [`DiagGaussian::from_log_var`] for encoders that
/// predict ln σ² and [`DiagGaussian::from_scale`] for σ itself.
#[derive(Debug, Clone)]
pub struct DiagGaussian {
    /// Mean μ, `[B, D]`.
    pub mean: Tensor<2>,
    /// Log standard deviation ln σ, `[B, D]`.
    pub log_std: Tensor<2>,
    shape: DistShape,
}

impl DiagGaussian {
    /// Builds the distribution from μ and ln σ (same shape `[B, D]`, no zero-sized dim).
    ///
    /// Only shapes are checked (free); any real `log_std` is a valid parameter.
    pub fn new(mean: Tensor<2>, log_std: Tensor<2>) -> Result<Self> {
        check::non_empty("DiagGaussian", "mean", &mean)?;
        check::same_shape("DiagGaussian", "mean", &mean, "log_std", &log_std)?;
        let [b, d] = mean.dims();
        Ok(Self {
            mean,
            log_std,
            shape: DistShape::vector(b, d),
        })
    }

    /// Builds the distribution from μ and ln σ² (`log_std = ½·log_var`).
    pub fn from_log_var(mean: Tensor<2>, log_var: Tensor<2>) -> Result<Self> {
        check::same_shape("DiagGaussian", "mean", &mean, "log_var", &log_var)?;
        Self::new(mean, log_var * 0.5)
    }

    /// Builds the distribution from μ and σ; every σ must be finite and > 0
    /// (checked on the host: one device sync).
    pub fn from_scale(mean: Tensor<2>, scale: Tensor<2>) -> Result<Self> {
        check::same_shape("DiagGaussian", "mean", &mean, "scale", &scale)?;
        check::all_values(
            "DiagGaussian",
            "scale",
            &scale,
            "must be finite and > 0",
            |s| s.is_finite() && s > 0.0,
        )?;
        Self::new(mean, scale.log())
    }

    /// The standard normal N(0, I) with the given shape, as a `DiagGaussian`
    /// (see [`StandardNormal`] for the parameter-free prior).
    pub fn standard(shape: [usize; 2], device: &Device) -> Self {
        Self::new(Tensor::zeros(shape, device), Tensor::zeros(shape, device)).expect("equal shapes")
    }

    /// Sets a multi-dimensional event shape (e.g. `[1, 28, 28]`) with `D` elements.
    pub fn with_event_shape(mut self, event: Vec<usize>) -> Result<Self> {
        self.shape = self.shape.with_event("DiagGaussian", event)?;
        Ok(self)
    }

    /// σ = exp(log_std), `[B, D]`.
    pub fn std(&self) -> Tensor<2> {
        self.log_std.clone().exp()
    }

    /// σ², `[B, D]`.
    pub fn variance(&self) -> Tensor<2> {
        (self.log_std.clone() * 2.0).exp()
    }

    /// Log-density per dimension (not summed), `[B, D]`.
    pub fn log_prob_per_dim(&self, x: Tensor<2>) -> Tensor<2> {
        let z = (x - self.mean.clone()) * self.log_std.clone().neg().exp();
        z.square() * (-0.5) - self.log_std.clone() - HALF_LN_2PI
    }

    /// KL(self ‖ N(0, I)) per dimension, `[B, D]`: ½(μ² + σ² − 1) − ln σ
    /// (what free bits clamps).
    pub fn kl_standard_normal_per_dim(&self) -> Tensor<2> {
        (self.mean.clone().square() + (self.log_std.clone() * 2.0).exp() - 1.0) * 0.5
            - self.log_std.clone()
    }

    /// KL(self ‖ N(0, I)) summed over the event, `[B]`; the same as
    /// `self.kl_divergence(&StandardNormal::new(..))`.
    pub fn kl_standard_normal(&self) -> Tensor<1> {
        self.kl_standard_normal_per_dim().sum_dim(1).squeeze_dim(1)
    }
}

impl Distribution for DiagGaussian {
    type Value = Tensor<2>;

    fn shape(&self) -> DistShape {
        self.shape.clone()
    }

    fn device(&self) -> Device {
        self.mean.device()
    }

    /// Σ_d −½((x−μ)/σ)² − ln σ − ½ ln 2π.
    fn log_prob(&self, x: Tensor<2>) -> Tensor<1> {
        self.log_prob_per_dim(x).sum_dim(1).squeeze_dim(1)
    }

    fn sample(&self, rng: &mut HostRng) -> Tensor<2> {
        self.rsample(rng).detach()
    }
}

impl Rsample for DiagGaussian {
    /// ε ~ N(0, I), `[B, D]`.
    type Noise = Tensor<2>;

    fn sample_noise(&self, rng: &mut HostRng) -> Tensor<2> {
        noise::standard_normal(rng, self.mean.dims(), &self.mean.device())
    }

    /// z = μ + σ·ε.
    fn rsample_from_noise(&self, eps: Tensor<2>) -> Tensor<2> {
        self.mean.clone() + self.log_std.clone().exp() * eps
    }
}

impl Entropy for DiagGaussian {
    /// ½·D·ln(2πe) + Σ ln σ.
    fn entropy(&self) -> Tensor<1> {
        (self.log_std.clone() + (HALF_LN_2PI + 0.5))
            .sum_dim(1)
            .squeeze_dim(1)
    }
}

impl KlDivergence<DiagGaussian> for DiagGaussian {
    /// Σ_d ln(σ₂/σ₁) + (σ₁² + (μ₁−μ₂)²)/(2σ₂²) − ½.
    fn kl_divergence(&self, other: &DiagGaussian) -> Tensor<1> {
        let var_ratio = ((self.log_std.clone() - other.log_std.clone()) * 2.0).exp();
        let t =
            ((self.mean.clone() - other.mean.clone()) * other.log_std.clone().neg().exp()).square();
        ((var_ratio + t - 1.0) * 0.5 - (self.log_std.clone() - other.log_std.clone()))
            .sum_dim(1)
            .squeeze_dim(1)
    }
}

impl KlDivergence<StandardNormal> for DiagGaussian {
    /// Σ_d ½(μ² + σ² − 1) − ln σ. Panics if the event sizes differ.
    fn kl_divergence(&self, q: &StandardNormal) -> Tensor<1> {
        assert_eq!(
            self.mean.dims()[1],
            q.dim,
            "DiagGaussian ‖ StandardNormal: event sizes differ"
        );
        self.kl_standard_normal()
    }
}

/// N(0, I) over `[B, D]` with no parameter tensors — the usual VAE prior.
#[derive(Debug, Clone)]
pub struct StandardNormal {
    batch: usize,
    dim: usize,
    device: Device,
}

impl StandardNormal {
    /// `batch` independent standard normals of dimension `dim` (both ≥ 1).
    pub fn new(batch: usize, dim: usize, device: &Device) -> Result<Self> {
        check::scalar(
            "StandardNormal",
            "batch",
            batch as f64,
            "must be ≥ 1",
            |b| b >= 1.0,
        )?;
        check::scalar("StandardNormal", "dim", dim as f64, "must be ≥ 1", |d| {
            d >= 1.0
        })?;
        Ok(Self {
            batch,
            dim,
            device: device.clone(),
        })
    }
}

impl Distribution for StandardNormal {
    type Value = Tensor<2>;

    fn shape(&self) -> DistShape {
        DistShape::vector(self.batch, self.dim)
    }

    fn device(&self) -> Device {
        self.device.clone()
    }

    /// −½‖x‖² − ½·D·ln 2π (see [`standard_normal_log_prob`]).
    fn log_prob(&self, x: Tensor<2>) -> Tensor<1> {
        standard_normal_log_prob(x)
    }

    fn sample(&self, rng: &mut HostRng) -> Tensor<2> {
        self.sample_noise(rng)
    }
}

impl Rsample for StandardNormal {
    type Noise = Tensor<2>;

    fn sample_noise(&self, rng: &mut HostRng) -> Tensor<2> {
        noise::standard_normal(rng, [self.batch, self.dim], &self.device)
    }

    fn rsample_from_noise(&self, eps: Tensor<2>) -> Tensor<2> {
        eps
    }
}

impl Entropy for StandardNormal {
    /// ½·D·ln(2πe).
    fn entropy(&self) -> Tensor<1> {
        Tensor::full(
            [self.batch],
            self.dim as f64 * (HALF_LN_2PI + 0.5),
            &self.device,
        )
    }
}

/// `ln N(x; 0, I)` of each row: `−½‖x‖² − ½·D·ln 2π` — the log-density of a standard normal
/// base or prior, without building a [`StandardNormal`] (flows and priors call it on tensors
/// of any batch size).
///
/// # Shapes
/// - x: `[batch, D]`
/// - output: `[batch]`
pub fn standard_normal_log_prob(x: Tensor<2>) -> Tensor<1> {
    (x.square() * (-0.5) - HALF_LN_2PI)
        .sum_dim(1)
        .squeeze_dim(1)
}
