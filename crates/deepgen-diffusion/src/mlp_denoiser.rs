//! A diffusion model for low-dimensional vectors (the 2-D toy densities): an MLP that predicts
//! the noise (or `x_0`, or `v`) of `x_t` from `x_t` and a sinusoidal embedding of `t`, together
//! with its noise schedule and prediction type — [`DiffusionModel`](crate::DiffusionModel)'s
//! counterpart for `[B, D]` data.
//!
//! ```text
//! emb = TimeEmbedding(t)                 sinusoidal(t, time_features) → Linear → SiLU → Linear  [B, time_dim]
//! out = Mlp([x_t, emb])                  (D + time_dim) → hidden… → D, GELU between layers      [B, D]
//! ```
//!
//! Both blocks are deepgen-nn's ([`TimeEmbedding`], [`Mlp`]). The time enters once, at the
//! input: for two coordinates and a few hidden layers of 128 that is enough (the tiny
//! diffusion models of the 2-D literature do the same), and it keeps the network one plain
//! MLP. `t` is the 0-based timestep as a float, as the U-Net sees it.

use burn::config::Config;
use burn::module::Module;
use burn::nn::activation::ActivationConfig;
use burn::tensor::{Device, Int, Tensor};
use deepgen_nn::{MIN_TIMESTEP_EMBEDDING_DIM, Mlp, MlpConfig, TimeEmbedding, TimeEmbeddingConfig};
use deepgen_tensor::config::{all_positive, positive};
use deepgen_tensor::{ConfigError, Validate};

use crate::model::timesteps_tensor;
use crate::schedule::{NoiseSchedule, NoiseScheduleConfig};
use crate::target::Prediction;

/// Configuration of an [`MlpDenoiser`]; see the [module docs](self).
#[derive(Config, Debug)]
pub struct MlpDenoiserConfig {
    /// Coordinates per point (`D`; 2 for the toy densities).
    pub data_dim: usize,
    /// Features of the sinusoidal time embedding (at least 4).
    #[config(default = 32)]
    pub time_features: usize,
    /// Output features of the time-embedding MLP, concatenated to `x_t`.
    #[config(default = 64)]
    pub time_dim: usize,
    /// Hidden widths of the denoising MLP (at least one layer).
    #[config(default = "vec![128, 128, 128]")]
    pub hidden: Vec<usize>,
    /// The forward process the model is trained for.
    #[config(default = "NoiseScheduleConfig::new()")]
    pub schedule: NoiseScheduleConfig,
    /// What the network outputs.
    #[config(default = "Prediction::Epsilon")]
    pub prediction: Prediction,
}

impl Validate for MlpDenoiserConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        const C: &str = "MlpDenoiserConfig";
        positive(C, "data_dim", self.data_dim)?;
        if self.time_features < MIN_TIMESTEP_EMBEDDING_DIM {
            return Err(ConfigError::new(
                C,
                "time_features",
                format!(
                    "must be at least {MIN_TIMESTEP_EMBEDDING_DIM} (the sinusoidal embedding's \
                     frequencies divide by ⌊n/2⌋ − 1), got {}",
                    self.time_features
                ),
            ));
        }
        positive(C, "time_dim", self.time_dim)?;
        all_positive(C, "hidden", &self.hidden, true)?;
        self.schedule
            .validate()
            .map_err(|e| e.within(C, "schedule"))
    }
}

impl MlpDenoiserConfig {
    /// Validates the config and builds the model on `device`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid field.
    pub fn try_init(&self, device: &Device) -> Result<MlpDenoiser, ConfigError> {
        self.validate()?;
        Ok(MlpDenoiser {
            time: TimeEmbeddingConfig::new(self.time_features, self.time_dim).try_init(device)?,
            mlp: MlpConfig::new(
                self.data_dim + self.time_dim,
                self.hidden.clone(),
                self.data_dim,
            )
            .with_activation(ActivationConfig::Gelu)
            .try_init(device)?,
            schedule: self.schedule.try_init()?,
            prediction: self.prediction,
        })
    }

    /// Builds the model.
    ///
    /// # Panics
    /// If the config is invalid (see [`MlpDenoiserConfig::try_init`]).
    pub fn init(&self, device: &Device) -> MlpDenoiser {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// An MLP denoiser for `[B, D]` data with its schedule; see the [module docs](self).
#[derive(Module, Debug)]
pub struct MlpDenoiser {
    /// Sinusoidal features of `t` → `Linear → SiLU → Linear`.
    pub time: TimeEmbedding,
    /// `[x_t, emb] → prediction`.
    pub mlp: Mlp,
    /// The schedule the network was trained for (host tables, not parameters).
    #[module(skip)]
    pub schedule: NoiseSchedule,
    /// What the network outputs.
    #[module(skip)]
    pub prediction: Prediction,
}

impl MlpDenoiser {
    /// The raw network output (ε, x₀ or v, see [`MlpDenoiser::prediction`]) at per-sample
    /// timesteps.
    ///
    /// # Shapes
    /// - x_t: `[B, D]`
    /// - t: `[B]`, values in `[0, T)`
    /// - output: `[B, D]`
    ///
    /// # Panics
    /// If `t` does not hold one timestep per point.
    pub fn forward(&self, x_t: Tensor<2>, t: Tensor<1, Int>) -> Tensor<2> {
        let [b, _] = x_t.dims();
        assert_eq!(
            t.dims(),
            [b],
            "MlpDenoiser: t must hold one timestep per point ([{b}])"
        );
        let emb = self.time.forward(t.float());
        self.mlp.forward(Tensor::cat(vec![x_t, emb], 1))
    }

    /// The raw network output with every point at timestep `t`.
    ///
    /// # Shapes
    /// - x_t: `[B, D]`
    /// - output: `[B, D]`
    pub fn forward_at(&self, x_t: Tensor<2>, t: usize) -> Tensor<2> {
        let b = x_t.dims()[0];
        let device = x_t.device();
        self.forward(x_t, timesteps_tensor(&vec![t; b], &device))
    }

    /// `T`, the number of diffusion steps.
    pub fn num_timesteps(&self) -> usize {
        self.schedule.num_timesteps()
    }

    /// Coordinates per point (`D`).
    pub fn data_dim(&self) -> usize {
        self.mlp.output_dim()
    }
}
