//! Which `n` of the `T` training timesteps a sampler visits.

use burn::config::Config;
use deepgen_tensor::ConfigError;

/// How `n` sampling timesteps are picked from `T` training ones (always listed descending).
///
/// `round` below is numpy's (half to even). With `T = 1000`, `n = 10`:
/// `Linspace` → 999, 888, …, 111, 0; `Leading` → 900, 800, …, 0; `Trailing` → 999, 899, …, 99.
#[derive(Config, Debug, PartialEq, Eq, Copy)]
pub enum Spacing {
    /// diffusers' `"linspace"`: `round(linspace(0, T − 1, n))`.
    Linspace,
    /// diffusers' `"leading"` (DDIM's "uniform" skip): `i·⌊T/n⌋ + steps_offset`, `i < n`.
    Leading,
    /// diffusers' `"trailing"` (Lin et al. 2024): `round(T − i·T/n) − 1`, `i < n`.
    Trailing,
    /// The quadratic skip of DDIM's code: `⌊(linspace(0, √(0.8·T), n))²⌋`, denser at low noise.
    Quadratic,
}

impl Spacing {
    /// Every spacing.
    pub const ALL: [Spacing; 4] = [
        Spacing::Linspace,
        Spacing::Leading,
        Spacing::Trailing,
        Spacing::Quadratic,
    ];

    /// Its lowercase name, which [`str::parse`] reads back: `linspace`, `leading`, `trailing`,
    /// `quadratic`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Linspace => "linspace",
            Self::Leading => "leading",
            Self::Trailing => "trailing",
            Self::Quadratic => "quadratic",
        }
    }

    /// The `num_steps` timesteps out of `num_train_timesteps`, descending, without validation
    /// (see [`Spacing::checked_timesteps`]; empty if either count is 0). `steps_offset` shifts
    /// `Leading` only, as in diffusers.
    pub fn timesteps(
        self,
        num_train_timesteps: usize,
        num_steps: usize,
        steps_offset: usize,
    ) -> Vec<usize> {
        let t = num_train_timesteps;
        let n = num_steps;
        if t == 0 || n == 0 {
            return Vec::new();
        }
        let mut v: Vec<usize> = match self {
            Self::Linspace => crate::schedule::linspace(0.0, (t - 1) as f64, n)
                .into_iter()
                .map(|x| x.round_ties_even() as usize)
                .collect(),
            Self::Leading => {
                let ratio = t / n;
                (0..n).map(|i| i * ratio + steps_offset).collect()
            }
            Self::Trailing => {
                let ratio = t as f64 / n as f64;
                (0..n)
                    .map(|i| (t as f64 - i as f64 * ratio).round_ties_even() as usize - 1)
                    .collect()
            }
            Self::Quadratic => crate::schedule::linspace(0.0, (t as f64 * 0.8).sqrt(), n)
                .into_iter()
                .map(|x| (x * x) as usize)
                .collect(),
        };
        v.sort_unstable_by(|a, b| b.cmp(a));
        v
    }

    /// [`Spacing::timesteps`] after checking that `1 ≤ num_steps ≤ T`, that every timestep is
    /// `< T` and that they are distinct. `config` names the config in the errors.
    ///
    /// # Errors
    /// A [`ConfigError`] on `num_inference_steps` or `steps_offset`.
    pub fn checked_timesteps(
        self,
        config: &'static str,
        num_train_timesteps: usize,
        num_steps: usize,
        steps_offset: usize,
    ) -> Result<Vec<usize>, ConfigError> {
        if num_steps == 0 || num_steps > num_train_timesteps {
            return Err(ConfigError::new(
                config,
                "num_inference_steps",
                format!("must be in 1..={num_train_timesteps} (the schedule's T), got {num_steps}"),
            ));
        }
        let v = self.timesteps(num_train_timesteps, num_steps, steps_offset);
        if v[0] >= num_train_timesteps {
            return Err(ConfigError::new(
                config,
                "steps_offset",
                format!(
                    "{steps_offset} puts the first timestep at {} ≥ T = {num_train_timesteps}",
                    v[0]
                ),
            ));
        }
        if v.windows(2).any(|w| w[0] == w[1]) {
            return Err(ConfigError::new(
                config,
                "num_inference_steps",
                format!(
                    "{self:?} spacing of {num_steps} steps out of {num_train_timesteps} repeats \
                     timesteps; use fewer steps or another spacing"
                ),
            ));
        }
        Ok(v)
    }
}

/// Checks explicit sampling timesteps: non-empty, strictly descending, all `< T`.
///
/// # Errors
/// A [`ConfigError`] on `config.timesteps`.
pub(crate) fn check_timesteps(
    config: &'static str,
    num_train_timesteps: usize,
    timesteps: &[usize],
) -> Result<(), ConfigError> {
    if timesteps.is_empty()
        || timesteps[0] >= num_train_timesteps
        || timesteps.windows(2).any(|w| w[0] <= w[1])
    {
        return Err(ConfigError::new(
            config,
            "timesteps",
            format!(
                "must be non-empty, strictly descending and < T = {num_train_timesteps}, got \
                 {timesteps:?}"
            ),
        ));
    }
    Ok(())
}

/// Reads [`Spacing::name`] (any case; `linear`, the Analytic-DPM authors' word, for `linspace`).
impl std::str::FromStr for Spacing {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        if s == "linear" {
            return Ok(Self::Linspace);
        }
        Self::ALL
            .into_iter()
            .find(|v| v.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|v| v.name()).collect();
                format!("unknown spacing {s:?}: expected {}", names.join(", "))
            })
    }
}
