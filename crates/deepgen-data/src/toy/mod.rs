//! 2-D toy densities for normalising flows and diffusion models.
//!
//! Seven classic targets, following the FFJORD (Grathwohl et al. 2019)
//! constructions and scales so results compare with the literature; each
//! submodule documents its exact convention. Three have exact densities:
//! [`eight_gaussians`], [`checkerboard`] and [`rings`] (a construction chosen
//! for that); for the others [`ToyDensity::log_density`] returns `None`.

pub mod checkerboard;
pub mod eight_gaussians;
pub mod moons;
pub mod pinwheel;
pub mod rings;
pub mod spirals;
pub mod swiss_roll;

use std::fmt;
use std::str::FromStr;

use deepgen_tensor::HostRng;

use crate::error::DataError;

/// A 2-D toy distribution (see the submodule of each variant for its definition).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ToyDensity {
    /// Two interleaving half-moons ([`moons`]); name `moons`.
    TwoMoons,
    /// Mixture of 8 Gaussians on a circle of radius 2√2 ([`eight_gaussians`]); name `8gaussians`.
    EightGaussians,
    /// Uniform on the black squares of a 4×4 board over `[-4,4)²` ([`checkerboard`]); name `checkerboard`.
    Checkerboard,
    /// Two interleaved spirals ([`spirals`]); name `2spirals`.
    TwoSpirals,
    /// Four concentric rings with radial Gaussian noise ([`rings`]); name `rings`.
    Rings,
    /// Five curved blades ([`pinwheel`]); name `pinwheel`.
    Pinwheel,
    /// 2-D projection of the Swiss roll ([`swiss_roll`]); name `swissroll`.
    SwissRoll,
}

impl ToyDensity {
    /// Every toy density, in documentation order.
    pub const ALL: [ToyDensity; 7] = [
        ToyDensity::TwoMoons,
        ToyDensity::EightGaussians,
        ToyDensity::Checkerboard,
        ToyDensity::TwoSpirals,
        ToyDensity::Rings,
        ToyDensity::Pinwheel,
        ToyDensity::SwissRoll,
    ];

    /// The canonical name (FFJORD's), accepted by [`FromStr`].
    pub fn name(self) -> &'static str {
        match self {
            ToyDensity::TwoMoons => "moons",
            ToyDensity::EightGaussians => "8gaussians",
            ToyDensity::Checkerboard => "checkerboard",
            ToyDensity::TwoSpirals => "2spirals",
            ToyDensity::Rings => "rings",
            ToyDensity::Pinwheel => "pinwheel",
            ToyDensity::SwissRoll => "swissroll",
        }
    }

    /// `n` independent draws, using only `rng` (equal seeds, equal samples).
    pub fn sample(&self, n: usize, rng: &mut HostRng) -> Vec<[f64; 2]> {
        match self {
            ToyDensity::TwoMoons => moons::sample(n, rng),
            ToyDensity::EightGaussians => eight_gaussians::sample(n, rng),
            ToyDensity::Checkerboard => checkerboard::sample(n, rng),
            ToyDensity::TwoSpirals => spirals::sample(n, rng),
            ToyDensity::Rings => rings::sample(n, rng),
            ToyDensity::Pinwheel => pinwheel::sample(n, rng),
            ToyDensity::SwissRoll => swiss_roll::sample(n, rng),
        }
    }

    /// The exact natural-log density at `x` where it has a closed form
    /// (`8gaussians`, `checkerboard`, `rings`; `−∞` off the support), else `None`.
    pub fn log_density(&self, x: [f64; 2]) -> Option<f64> {
        match self {
            ToyDensity::EightGaussians => Some(eight_gaussians::log_density(x)),
            ToyDensity::Checkerboard => Some(checkerboard::log_density(x)),
            ToyDensity::Rings => Some(rings::log_density(x)),
            ToyDensity::TwoMoons
            | ToyDensity::TwoSpirals
            | ToyDensity::Pinwheel
            | ToyDensity::SwissRoll => None,
        }
    }

    /// Whether [`ToyDensity::log_density`] returns `Some`.
    pub fn has_log_density(&self) -> bool {
        self.log_density([0.5, 0.5]).is_some()
    }
}

impl fmt::Display for ToyDensity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ToyDensity {
    type Err = DataError;

    /// Parses a canonical name or an alias (`two-moons`, `eight-gaussians`,
    /// `two-spirals`, `swiss-roll`, …), ignoring ASCII case, `-` and `_`.
    fn from_str(s: &str) -> Result<Self, DataError> {
        let key: String = s
            .trim()
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let found = match key.as_str() {
            "moons" | "twomoons" | "2moons" => Some(ToyDensity::TwoMoons),
            "8gaussians" | "eightgaussians" => Some(ToyDensity::EightGaussians),
            "checkerboard" => Some(ToyDensity::Checkerboard),
            "2spirals" | "twospirals" | "spirals" => Some(ToyDensity::TwoSpirals),
            "rings" => Some(ToyDensity::Rings),
            "pinwheel" => Some(ToyDensity::Pinwheel),
            "swissroll" => Some(ToyDensity::SwissRoll),
            _ => None,
        };
        found.ok_or_else(|| DataError::UnknownName {
            what: "toy density",
            given: s.to_string(),
            valid: ToyDensity::ALL.map(ToyDensity::name).join(", "),
        })
    }
}
