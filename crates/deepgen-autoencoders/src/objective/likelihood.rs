//! Observation models p(x | z): what a decoder's output parameterises.
//!
//! Every variant takes data `x` in `[0, 1]` (binarised bits or grey levels) as
//! the tasks produce it and maps it to its own domain; `log_prob` is in nats
//! per image (summed over pixels). Discrete likelihoods (Bernoulli on bits,
//! the discretised logistic on 256 levels) give probabilities ≤ 1, so their
//! nats are comparable to the literature's; continuous densities on [0, 1]
//! (continuous Bernoulli, Gaussians) give densities that can exceed 1 and are
//! not comparable with discrete likelihoods.

use std::str::FromStr;

use burn::config::Config;
use burn::tensor::Tensor;
use burn::tensor::activation::{sigmoid, softplus};
use deepgen_distributions::{
    Bernoulli, ContinuousBernoulli, DiagGaussian, DiscretizedLogisticMixture, Distribution as _,
};
use deepgen_tensor::config::{ConfigError, Validate};

/// Floor of a learned Gaussian's σ (ln σ ≥ ln 0.01): without it the density of
/// saturated MNIST pixels (exactly 0 or 1) grows without bound as σ → 0.
pub const GAUSSIAN_MIN_LOG_STD: f64 = -4.605_170_185_988_091;

/// The decoder's observation model.
#[derive(Config, Debug, PartialEq)]
pub enum LikelihoodConfig {
    /// Bernoulli with logits (one output per pixel); for grey levels this is the
    /// usual (unnormalised) binary cross-entropy.
    Bernoulli,
    /// Gaussian with the decoder predicting the mean and a fixed σ = `std` for every pixel.
    GaussianFixed {
        /// The fixed standard deviation σ > 0.
        std: f64,
    },
    /// Gaussian with the decoder predicting mean and ln σ per pixel (two outputs per
    /// pixel), ln σ = ln 0.01 + softplus(raw − ln 0.01) ≥ ln 0.01.
    GaussianLearned,
    /// Continuous Bernoulli (Loaiza-Ganem & Cunningham 2019) with logits: the normalised
    /// density on [0, 1] for grey levels.
    ContinuousBernoulli,
    /// Discretised logistic mixture over 256 grey levels (PixelCNN++ likelihood, one
    /// mixture per pixel, `3·components` outputs per pixel); x ∈ [0, 1] is mapped to the
    /// level grid 2v/255 − 1. A probability (nats comparable to Bernoulli's on bits).
    DiscretizedLogistic {
        /// Mixture components K.
        components: usize,
    },
}

impl LikelihoodConfig {
    /// Decoder outputs per pixel.
    pub fn params_per_dim(&self) -> usize {
        match self {
            Self::Bernoulli | Self::GaussianFixed { .. } => 1,
            Self::GaussianLearned => 2,
            Self::ContinuousBernoulli => 1,
            Self::DiscretizedLogistic { components } => 3 * components,
        }
    }

    /// ln p(x | decoder output) per image, `[B]`; `out` is `[B, params_per_dim·D]`,
    /// `x` is `[B, D]` in [0, 1].
    pub fn log_prob(&self, out: Tensor<2>, x: Tensor<2>) -> Tensor<1> {
        match self {
            Self::Bernoulli => Bernoulli::new(out)
                .expect("decoder output is non-empty")
                .log_prob(x),
            Self::GaussianFixed { std } => {
                let log_std = out.zeros_like() + std.ln();
                DiagGaussian::new(out, log_std)
                    .expect("equal shapes")
                    .log_prob(x)
            }
            Self::GaussianLearned => {
                let (mean, log_std) = split_gaussian(out);
                DiagGaussian::new(mean, log_std)
                    .expect("equal shapes")
                    .log_prob(x)
            }
            Self::ContinuousBernoulli => ContinuousBernoulli::new(out)
                .expect("decoder output is non-empty")
                .log_prob(x),
            Self::DiscretizedLogistic { components } => {
                let grid = DiscretizedLogisticMixture::grid_from_unit(x, 256);
                mixture(out, *components).log_prob(grid)
            }
        }
    }

    /// The mean image in [0, 1] (Gaussian means clamped), `[B, D]`.
    pub fn mean(&self, out: Tensor<2>) -> Tensor<2> {
        match self {
            Self::Bernoulli => sigmoid(out),
            Self::GaussianFixed { .. } => out.clamp(0.0, 1.0),
            Self::GaussianLearned => split_gaussian(out).0.clamp(0.0, 1.0),
            Self::ContinuousBernoulli => ContinuousBernoulli::new(out)
                .expect("decoder output is non-empty")
                .mean(),
            Self::DiscretizedLogistic { components } => {
                DiscretizedLogisticMixture::grid_to_unit(mixture(out, *components).mean())
            }
        }
    }
}

/// `[B, 3K·D]` decoder output → the mixture (channel-major: logits, means, log-scales).
fn mixture(out: Tensor<2>, components: usize) -> DiscretizedLogisticMixture {
    let [b, w] = out.dims();
    let d = w / (3 * components);
    DiscretizedLogisticMixture::from_channels(out.reshape([b, 3 * components, d]), components)
        .expect("decoder output has 3·K·D columns")
}

fn split_gaussian(out: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
    let [mean, raw]: [Tensor<2>; 2] = out
        .chunk(2, 1)
        .try_into()
        .expect("GaussianLearned decoder has 2·D outputs");
    let log_std = softplus(raw - GAUSSIAN_MIN_LOG_STD, 1.0) + GAUSSIAN_MIN_LOG_STD;
    (mean, log_std)
}

impl LikelihoodConfig {
    /// The command-line spelling (inverse of `FromStr`), e.g. `gaussian:0.1`.
    pub fn label(&self) -> String {
        match self {
            Self::Bernoulli => "bernoulli".into(),
            Self::GaussianFixed { std } => format!("gaussian:{std}"),
            Self::GaussianLearned => "gaussian-learned".into(),
            Self::ContinuousBernoulli => "continuous-bernoulli".into(),
            Self::DiscretizedLogistic { components } => format!("logistic:{components}"),
        }
    }
}

impl FromStr for LikelihoodConfig {
    type Err = String;

    /// `bernoulli`, `gaussian:SIGMA`, `gaussian-learned`, `continuous-bernoulli`,
    /// `logistic:K`.
    fn from_str(s: &str) -> Result<Self, String> {
        let parsed = match s.split_once(':') {
            None if s == "bernoulli" => Self::Bernoulli,
            None if s == "gaussian-learned" => Self::GaussianLearned,
            None if s == "continuous-bernoulli" => Self::ContinuousBernoulli,
            Some(("logistic", v)) => Self::DiscretizedLogistic {
                components: v
                    .parse()
                    .map_err(|_| format!("likelihood `{s}`: `{v}` is not a whole number"))?,
            },
            Some(("gaussian", v)) => Self::GaussianFixed {
                std: v
                    .parse()
                    .map_err(|_| format!("likelihood `{s}`: `{v}` is not a number"))?,
            },
            _ => {
                return Err(format!(
                    "unknown likelihood `{s}`: expected bernoulli, gaussian:SIGMA, gaussian-learned, continuous-bernoulli or logistic:K"
                ));
            }
        };
        parsed.validate().map_err(|e| e.reason)?;
        Ok(parsed)
    }
}

impl Validate for LikelihoodConfig {
    /// Checks the parameters (σ > 0, at least one mixture component).
    fn validate(&self) -> Result<(), ConfigError> {
        const C: &str = "LikelihoodConfig";
        match self {
            Self::GaussianFixed { std } if !(std.is_finite() && *std > 0.0) => {
                Err(ConfigError::new(
                    C,
                    "std",
                    format!("likelihood `gaussian:{std}`: σ must be finite and > 0"),
                ))
            }
            Self::DiscretizedLogistic { components: 0 } => Err(ConfigError::new(
                C,
                "components",
                "likelihood `logistic:0`: the mixture needs at least 1 component",
            )),
            _ => Ok(()),
        }
    }
}
