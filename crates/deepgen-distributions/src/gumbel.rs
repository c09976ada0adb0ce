//! Gumbel (type-I extreme value, maximum) distribution, parameterised by the
//! location μ and ln β.

use burn::tensor::{Device, Tensor};
use deepgen_tensor::rng::HostRng;

use crate::{DistShape, Distribution, Entropy, Result, Rsample, check, noise};

/// The Euler–Mascheroni constant γ.
pub const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// π²/6, the variance of the standard Gumbel distribution.
const PI2_OVER_6: f64 = 1.644_934_066_848_226_4;

/// A batch of independent Gumbel(μ, β) variables: rows of `loc`/`log_scale`
/// (`[B, D]`) are batch elements, columns the event dimensions.
///
/// Density (SciPy's `gumbel_r`, the distribution of a maximum), with
/// `z = (x − μ)/β`: `p(x) = exp(−z − e^{−z}) / β`; CDF `F(x) = exp(−e^{−z})`.
///
/// **Parameterisation: location μ and log-scale ln β** (β = exp(log_scale)), so
/// any real `log_scale` is valid; [`Gumbel::from_scale`] takes β itself (checked
/// to be positive). Reparameterised sampling: `x = μ + β·g` with `g ~ Gumbel(0, 1)`,
/// `g = −ln(−ln u)`, `u ~ U(0, 1)` drawn on the host.
#[derive(Debug, Clone)]
pub struct Gumbel {
    /// Location μ, `[B, D]`.
    pub loc: Tensor<2>,
    /// Log-scale ln β, `[B, D]`.
    pub log_scale: Tensor<2>,
    shape: DistShape,
}

impl Gumbel {
    /// Builds the distribution from μ and ln β (same shape `[B, D]`, no zero-sized dim).
    ///
    /// Only shapes are checked (free); any real `log_scale` is valid.
    pub fn new(loc: Tensor<2>, log_scale: Tensor<2>) -> Result<Self> {
        check::non_empty("Gumbel", "loc", &loc)?;
        check::same_shape("Gumbel", "loc", &loc, "log_scale", &log_scale)?;
        let [b, d] = loc.dims();
        Ok(Self {
            loc,
            log_scale,
            shape: DistShape::vector(b, d),
        })
    }

    /// Builds the distribution from μ and β; every β must be finite and > 0
    /// (checked on the host: one device sync). Errors name `scale`.
    pub fn from_scale(loc: Tensor<2>, scale: Tensor<2>) -> Result<Self> {
        check::same_shape("Gumbel", "loc", &loc, "scale", &scale)?;
        check::all_values("Gumbel", "scale", &scale, "must be finite and > 0", |s| {
            s.is_finite() && s > 0.0
        })?;
        Self::new(loc, scale.log())
    }

    /// The standard Gumbel(0, 1) with the given shape.
    pub fn standard(shape: [usize; 2], device: &Device) -> Self {
        Self::new(Tensor::zeros(shape, device), Tensor::zeros(shape, device)).expect("equal shapes")
    }

    /// Sets a multi-dimensional event shape with `D` elements.
    pub fn with_event_shape(mut self, event: Vec<usize>) -> Result<Self> {
        self.shape = self.shape.with_event("Gumbel", event)?;
        Ok(self)
    }

    /// β = exp(log_scale), `[B, D]`.
    pub fn scale(&self) -> Tensor<2> {
        self.log_scale.clone().exp()
    }

    /// Mean `μ + γβ` (γ = Euler–Mascheroni), `[B, D]`.
    pub fn mean(&self) -> Tensor<2> {
        self.loc.clone() + self.scale() * EULER_GAMMA
    }

    /// Variance `π²β²/6`, `[B, D]`.
    pub fn variance(&self) -> Tensor<2> {
        (self.log_scale.clone() * 2.0).exp() * PI2_OVER_6
    }

    /// `z = (x − μ)/β`, `[B, D]`.
    fn standardise(&self, x: Tensor<2>) -> Tensor<2> {
        (x - self.loc.clone()) * self.log_scale.clone().neg().exp()
    }

    /// CDF `exp(−e^{−z})`, `[B, D]`.
    pub fn cdf(&self, x: Tensor<2>) -> Tensor<2> {
        self.standardise(x).neg().exp().neg().exp()
    }

    /// Log-density per dimension (not summed): `−z − e^{−z} − ln β`, `[B, D]`.
    ///
    /// Far in the left tail `e^{−z}` overflows f32 (z < −88) and the result is
    /// `−∞`, the correctly rounded f32 value of a density that small.
    pub fn log_prob_per_dim(&self, x: Tensor<2>) -> Tensor<2> {
        let z = self.standardise(x);
        z.clone().neg() - z.neg().exp() - self.log_scale.clone()
    }
}

impl Distribution for Gumbel {
    type Value = Tensor<2>;

    fn shape(&self) -> DistShape {
        self.shape.clone()
    }

    fn device(&self) -> Device {
        self.loc.device()
    }

    /// `Σ_d −z − e^{−z} − ln β`, `z = (x − μ)/β`.
    fn log_prob(&self, x: Tensor<2>) -> Tensor<1> {
        self.log_prob_per_dim(x).sum_dim(1).squeeze_dim(1)
    }

    fn sample(&self, rng: &mut HostRng) -> Tensor<2> {
        self.rsample(rng).detach()
    }
}

impl Rsample for Gumbel {
    /// Standard Gumbel noise g, `[B, D]`.
    type Noise = Tensor<2>;

    fn sample_noise(&self, rng: &mut HostRng) -> Tensor<2> {
        noise::standard_gumbel(rng, self.loc.dims(), &self.loc.device())
    }

    /// `x = μ + β·g`.
    fn rsample_from_noise(&self, g: Tensor<2>) -> Tensor<2> {
        self.loc.clone() + self.scale() * g
    }
}

impl Entropy for Gumbel {
    /// `Σ_d ln β + γ + 1`.
    fn entropy(&self) -> Tensor<1> {
        (self.log_scale.clone() + (EULER_GAMMA + 1.0))
            .sum_dim(1)
            .squeeze_dim(1)
    }
}
