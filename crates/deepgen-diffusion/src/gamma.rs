//! Analytic-DPM's `Γ_t = E‖ε_θ(x_t, t)‖²/d`, estimated by Monte Carlo over training images
//! ([`estimate_gamma`]) and cached per trained model as JSON ([`GammaCache`], `gamma.json`).
//!
//! # Estimate
//!
//! For every requested timestep `t`, the same `M` images `x_0` get fresh noise `ε ~ N(0, I)`
//! (drawn on the host from the given stream, timestep after timestep in the order given, each
//! image-major), `x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε`, and
//! `Γ_t = (1/M) Σ_i ‖ε̂(x_t^i, t)‖² / d` with `ε̂` the model's noise prediction (converted from
//! x₀ or v outputs). Bao et al. (2022) use `M = 100` for CIFAR-10 and find the variances
//! insensitive to `M` beyond a few dozen images; each image contributes `d` squared entries,
//! so the estimate's relative error is small.
//!
//! # Cache
//!
//! `Γ` depends on the weights, so the cache records what it belongs to ([`GammaKey`]: the
//! checkpoint's optimizer step, whether the EMA weights were used, the schedule, the
//! prediction type, `M` and the seed). [`GammaCache::load_or_estimate`] reuses the file when the
//! key matches and every requested timestep is in it; when the key matches but timesteps are
//! missing it estimates only those and adds them to the file (so Analytic-DPM's bound on the
//! full `T`-step chain costs the missing timesteps once); otherwise (a resumed run that
//! trained further, other flags) the file is stale and the requested timesteps are estimated
//! and written anew (atomically). Each estimate draws its noise from the start of the given
//! stream, so timesteps added later see other noise than a single estimate of all of them
//! would — a different Monte-Carlo draw of the same quantity.

use std::path::Path;

use burn::tensor::{Int, Tensor};
use deepgen_tensor::HostRng;
use deepgen_train::TrainError;
use deepgen_train::checkpoint::write_atomic;
use serde::{Deserialize, Serialize};

use crate::model::timesteps_tensor;
use crate::schedule::NoiseSchedule;
use crate::target::Prediction;
use crate::vlb::host_normal;

/// Version of the `gamma.json` layout.
pub const GAMMA_CACHE_FORMAT: u32 = 1;

/// The file name of the cache in a run's output directory.
pub const GAMMA_CACHE_FILE: &str = "gamma.json";

/// `Γ_t` for each of `timesteps` (any order), estimated on the images `x0` with the model's raw
/// output `model(x_t, t)` interpreted by `prediction`; see the [module docs](self). `chunk`
/// images go through the model at a time.
///
/// # Shapes
/// - x0: `[M, …]`
/// - model: `([m, …], [m]) → [m, …]`
///
/// # Panics
/// If `chunk` is 0 or a timestep is `≥ T`.
pub fn estimate_gamma<const D: usize>(
    schedule: &NoiseSchedule,
    prediction: Prediction,
    timesteps: &[usize],
    x0: Tensor<D>,
    mut model: impl FnMut(Tensor<D>, Tensor<1, Int>) -> Tensor<D>,
    chunk: usize,
    rng: &mut HostRng,
) -> Vec<f64> {
    assert!(chunk > 0, "estimate_gamma: chunk must be at least 1");
    let dims = x0.dims();
    let m = dims[0];
    let d = x0.shape().num_elements() / m.max(1);
    let device = x0.device();
    timesteps
        .iter()
        .map(|&t| {
            assert!(
                t < schedule.num_timesteps(),
                "estimate_gamma: timestep {t} ≥ T = {}",
                schedule.num_timesteps()
            );
            let noise = host_normal(rng, dims, &device);
            let mut total = 0.0f64;
            for start in (0..m).step_by(chunk) {
                let len = chunk.min(m - start);
                let x = x0.clone().narrow(0, start, len);
                let z = noise.clone().narrow(0, start, len);
                let tt = timesteps_tensor(&vec![t; len], &device);
                let x_t = schedule.add_noise(x, z, tt.clone());
                let out = model(x_t.clone(), tt.clone());
                let eps = prediction.to_epsilon(schedule, out, x_t, tt);
                let s: f32 = eps.square().sum().into_scalar::<f32>();
                total += f64::from(s);
            }
            total / (m * d) as f64
        })
        .collect()
}

/// What a cached `Γ` belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GammaKey {
    /// The optimizer step of the checkpoint whose weights were used.
    pub model_step: u64,
    /// Whether the EMA weights were used.
    pub ema: bool,
    /// The noise schedule (its config as JSON).
    pub schedule: String,
    /// The prediction type (`Debug` form, e.g. `"Epsilon"`).
    pub prediction: String,
    /// `M`, the training images of the estimate.
    pub images: usize,
    /// The run's seed (the noise stream).
    pub seed: u64,
}

/// The contents of `gamma.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GammaCache {
    /// [`GAMMA_CACHE_FORMAT`].
    pub format: u32,
    /// What the values belong to.
    pub key: GammaKey,
    /// The timesteps, in the order estimated.
    pub timesteps: Vec<usize>,
    /// `Γ` at each of `timesteps`.
    pub gamma: Vec<f64>,
}

impl GammaCache {
    /// `Γ` at each of `timesteps`, or `None` if one is missing.
    pub fn lookup(&self, timesteps: &[usize]) -> Option<Vec<f64>> {
        timesteps
            .iter()
            .map(|t| {
                self.timesteps
                    .iter()
                    .position(|s| s == t)
                    .map(|i| self.gamma[i])
            })
            .collect()
    }

    /// Reads `path`; `Ok(None)` when it does not exist.
    ///
    /// # Errors
    /// [`TrainError::Io`] when it cannot be read, [`TrainError::Config`] naming the file when
    /// it is not a valid cache of this format.
    pub fn read(path: &Path) -> Result<Option<Self>, TrainError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(TrainError::io(path, e)),
        };
        let cache: GammaCache = serde_json::from_str(&text).map_err(|e| {
            TrainError::config(path.display().to_string(), format!("is not valid ({e})"))
        })?;
        if cache.format != GAMMA_CACHE_FORMAT || cache.timesteps.len() != cache.gamma.len() {
            return Err(TrainError::config(
                path.display().to_string(),
                format!(
                    "is not a gamma cache of format {GAMMA_CACHE_FORMAT} with one Γ per timestep"
                ),
            ));
        }
        Ok(Some(cache))
    }

    /// Writes the cache to `path` atomically.
    ///
    /// # Errors
    /// [`TrainError::Io`]/[`TrainError::Checkpoint`] when it cannot be written.
    pub fn write(&self, path: &Path) -> Result<(), TrainError> {
        let json = serde_json::to_string_pretty(self)
            .map_err(|e| TrainError::config("gamma", format!("cannot serialise: {e}")))?;
        write_atomic(path, json.as_bytes())
    }

    /// Why this cache cannot serve `key` at `timesteps`, or `None` when it can.
    pub fn stale_reason(&self, key: &GammaKey, timesteps: &[usize]) -> Option<String> {
        if &self.key != key {
            return Some(format!(
                "it belongs to {:?}, this model is {:?}",
                self.key, key
            ));
        }
        match self.lookup(timesteps) {
            Some(_) => None,
            None => Some("it lacks some of the timesteps".into()),
        }
    }

    /// `Γ` at `timesteps` from the cache at `path` when it matches `key`; timesteps it lacks
    /// come from `estimate(missing)` and are added to it; a cache of another key (or a damaged
    /// file) is replaced by `estimate(timesteps)` (the reason printed). The flag says whether
    /// everything came from the cache.
    ///
    /// # Errors
    /// I/O errors writing `path`, and whatever `estimate` returns (or a
    /// [`TrainError::Config`] on `gamma` if it returns the wrong number of values).
    pub fn load_or_estimate(
        path: &Path,
        key: &GammaKey,
        timesteps: &[usize],
        estimate: impl FnOnce(&[usize]) -> Result<Vec<f64>, TrainError>,
    ) -> Result<(Vec<f64>, bool), TrainError> {
        let mut base: Option<GammaCache> = None;
        match Self::read(path) {
            Ok(Some(cache)) => match cache.stale_reason(key, timesteps) {
                None => {
                    return Ok((cache.lookup(timesteps).expect("checked"), true));
                }
                Some(_) if &cache.key == key => base = Some(cache),
                Some(reason) => println!("{}: stale ({reason}); re-estimating Γ", path.display()),
            },
            Ok(None) => {}
            Err(e) => println!("{e}; re-estimating Γ"),
        }
        if let Some(mut cache) = base {
            let missing: Vec<usize> = timesteps
                .iter()
                .copied()
                .filter(|t| !cache.timesteps.contains(t))
                .fold(Vec::new(), |mut v, t| {
                    if !v.contains(&t) {
                        v.push(t);
                    }
                    v
                });
            let gamma = estimate(&missing)?;
            check_count(gamma.len(), missing.len())?;
            cache.timesteps.extend(&missing);
            cache.gamma.extend(gamma);
            cache.write(path)?;
            return Ok((cache.lookup(timesteps).expect("merged"), false));
        }
        let gamma = estimate(timesteps)?;
        check_count(gamma.len(), timesteps.len())?;
        GammaCache {
            format: GAMMA_CACHE_FORMAT,
            key: key.clone(),
            timesteps: timesteps.to_vec(),
            gamma: gamma.clone(),
        }
        .write(path)?;
        Ok((gamma, false))
    }
}

fn check_count(got: usize, want: usize) -> Result<(), TrainError> {
    if got == want {
        Ok(())
    } else {
        Err(TrainError::config(
            "gamma",
            format!("the estimate returned {got} values for {want} timesteps"),
        ))
    }
}
