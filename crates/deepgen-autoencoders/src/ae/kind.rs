//! The deterministic autoencoder kinds and their command-line names.

use std::fmt;
use std::str::FromStr;

use super::corruption::Corruption;
use super::error::AeError;
use super::model::CodeActivation;

/// Default σ of `denoising-gaussian` (inputs in [0, 1]).
pub const DEFAULT_GAUSSIAN_SIGMA: f64 = 0.5;
/// Default drop probability of `denoising-masking` (the 25 % of Vincent et al. 2010 on MNIST).
pub const DEFAULT_MASKING_P: f64 = 0.25;
/// Default target mean activation ρ of `sparse`.
pub const DEFAULT_SPARSITY_RHO: f64 = 0.05;
/// Default number of kept code units of `k-sparse`.
pub const DEFAULT_K: usize = 32;

/// A deterministic autoencoder objective. Every kind trains the same [`Autoencoder`]
/// (reconstruction cross-entropy of the clean input) and differs in the input, the code and the
/// penalty:
///
/// | kind | input | code | penalty (weight name) |
/// | --- | --- | --- | --- |
/// | `plain` | x | encoder(x) | — |
/// | `denoising-gaussian:σ` | x + σε | encoder(x̃) | — |
/// | `denoising-masking:p` | x with each element zeroed w.p. p | encoder(x̃) | — |
/// | `sparse:ρ` | x | sigmoid | Σ_j KL(ρ ‖ ρ̂_j), ρ̂ the batch-mean activation (`"sparsity"`) |
/// | `k-sparse:k` | x | the k largest units kept, the rest zeroed (k from `"k"`) | — |
/// | `contractive` | x | sigmoid | ‖∂h/∂x‖²_F of the first (sigmoid) layer (`"contraction"`) |
///
/// Parameters omitted on the command line take the `DEFAULT_*` constants of this module.
///
/// [`Autoencoder`]: super::Autoencoder
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AeKind {
    /// Reconstruct the input.
    Plain,
    /// Reconstruct the clean input from a corrupted one.
    Denoising(Corruption),
    /// KL sparsity penalty on the mean sigmoid activation.
    Sparse {
        /// Target mean activation ρ ∈ (0, 1).
        rho: f64,
    },
    /// Keep the `k` largest code units per example (Makhzani & Frey 2013).
    KSparse {
        /// Number of kept units at the end of training and at evaluation.
        k: usize,
    },
    /// Frobenius norm of the encoder Jacobian (Rifai et al. 2011).
    Contractive,
}

impl AeKind {
    /// The accepted spellings, for help texts and errors.
    pub const NAMES: &'static str = "plain, denoising-gaussian[:SIGMA], denoising-masking[:P], \
sparse[:RHO], k-sparse[:K], contractive";

    /// Every kind with its default parameters, in the zoo's order.
    pub fn all() -> Vec<AeKind> {
        vec![
            AeKind::Plain,
            AeKind::Denoising(Corruption::Gaussian {
                sigma: DEFAULT_GAUSSIAN_SIGMA,
            }),
            AeKind::Denoising(Corruption::Masking {
                p: DEFAULT_MASKING_P,
            }),
            AeKind::Sparse {
                rho: DEFAULT_SPARSITY_RHO,
            },
            AeKind::KSparse { k: DEFAULT_K },
            AeKind::Contractive,
        ]
    }

    /// The bare name (no parameter), e.g. `denoising-masking`; used for directory names.
    pub fn name(&self) -> &'static str {
        match self {
            AeKind::Plain => "plain",
            AeKind::Denoising(Corruption::Gaussian { .. }) => "denoising-gaussian",
            AeKind::Denoising(Corruption::Masking { .. }) => "denoising-masking",
            AeKind::Sparse { .. } => "sparse",
            AeKind::KSparse { .. } => "k-sparse",
            AeKind::Contractive => "contractive",
        }
    }

    /// The code activation the kind needs: sigmoid for `sparse` (ρ̂ must lie in (0, 1)) and
    /// `contractive` (the analytic Jacobian is that of a sigmoid layer), identity for `k-sparse`
    /// (linear units, as in the paper), sigmoid for `plain` and `denoising` (the classical
    /// autoencoders, so that the zoo differs only in the regulariser).
    pub fn code_activation(&self) -> CodeActivation {
        match self {
            AeKind::KSparse { .. } => CodeActivation::Identity,
            _ => CodeActivation::Sigmoid,
        }
    }

    /// The input corruption, for the denoising kinds.
    pub fn corruption(&self) -> Option<Corruption> {
        match self {
            AeKind::Denoising(c) => Some(*c),
            _ => None,
        }
    }

    /// Checks the parameters.
    ///
    /// # Errors
    /// [`AeError::Param`] naming the parameter.
    pub fn validate(&self) -> Result<(), AeError> {
        let bad = |field, value, reason| {
            Err(AeError::Param {
                kind: self.name(),
                field,
                value,
                reason,
            })
        };
        match *self {
            AeKind::Denoising(Corruption::Gaussian { sigma })
                if !(sigma.is_finite() && sigma >= 0.0) =>
            {
                bad("sigma", sigma, "must be finite and ≥ 0")
            }
            AeKind::Denoising(Corruption::Masking { p }) if !(0.0..1.0).contains(&p) => {
                bad("p", p, "must lie in [0, 1)")
            }
            AeKind::Sparse { rho } if !(rho > 0.0 && rho < 1.0) => {
                bad("rho", rho, "must lie in (0, 1)")
            }
            AeKind::KSparse { k: 0 } => bad("k", 0.0, "must be at least 1"),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for AeKind {
    /// The command-line form with its parameter, e.g. `denoising-gaussian:0.5`; parses back to
    /// the same kind.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AeKind::Plain | AeKind::Contractive => write!(f, "{}", self.name()),
            AeKind::Denoising(Corruption::Gaussian { sigma }) => {
                write!(f, "{}:{sigma}", self.name())
            }
            AeKind::Denoising(Corruption::Masking { p }) => write!(f, "{}:{p}", self.name()),
            AeKind::Sparse { rho } => write!(f, "{}:{rho}", self.name()),
            AeKind::KSparse { k } => write!(f, "{}:{k}", self.name()),
        }
    }
}

impl FromStr for AeKind {
    type Err = AeError;

    /// Parses `NAME` or `NAME:PARAM` (see [`AeKind::NAMES`]), ignoring ASCII case, then
    /// validates.
    fn from_str(s: &str) -> Result<Self, AeError> {
        let err = |reason: String| AeError::Parse {
            given: s.to_string(),
            reason,
        };
        let lower = s.trim().to_ascii_lowercase();
        let (name, param) = match lower.split_once(':') {
            Some((n, p)) => (n, Some(p.trim())),
            None => (lower.as_str(), None),
        };
        let num = |default: f64| -> Result<f64, AeError> {
            match param {
                None => Ok(default),
                Some(p) => p
                    .parse::<f64>()
                    .map_err(|_| err(format!("parameter `{p}` is not a number"))),
            }
        };
        let none = || -> Result<(), AeError> {
            match param {
                None => Ok(()),
                Some(p) => Err(err(format!("`{name}` takes no parameter, got `{p}`"))),
            }
        };
        let kind = match name.trim() {
            "plain" => {
                none()?;
                AeKind::Plain
            }
            "contractive" => {
                none()?;
                AeKind::Contractive
            }
            "denoising-gaussian" => AeKind::Denoising(Corruption::Gaussian {
                sigma: num(DEFAULT_GAUSSIAN_SIGMA)?,
            }),
            "denoising-masking" => AeKind::Denoising(Corruption::Masking {
                p: num(DEFAULT_MASKING_P)?,
            }),
            "sparse" => AeKind::Sparse {
                rho: num(DEFAULT_SPARSITY_RHO)?,
            },
            "k-sparse" => {
                let k = match param {
                    None => DEFAULT_K,
                    Some(p) => p
                        .parse::<usize>()
                        .map_err(|_| err(format!("k = `{p}` is not a whole number")))?,
                };
                AeKind::KSparse { k }
            }
            other => return Err(err(format!("unknown kind `{other}`"))),
        };
        kind.validate()?;
        Ok(kind)
    }
}
