//! Batch normalisation of the posterior means with a fixed scale (BN-VAE).
//!
//! Zhu et al. 2020 ("A Batch Normalized Inference Network Keeps the KL
//! Vanishing Away"; seed article "VAE + BN = 更好的VAE"): normalising each
//! posterior-mean coordinate over the batch, μ̂ = γ·(μ − mean_B μ)/std_B μ + β,
//! with γ **fixed** (not learned) gives Σ_b μ̂_b² / B ≥ γ² per dimension, so the
//! expected KL to N(0, I) is bounded below by ½·γ² per dimension and cannot
//! vanish. β is learned. Running statistics (momentum 0.1) are used on
//! non-autodiff devices (evaluation), batch statistics when training.

use burn::module::{Module, Param, RunningState};
use burn::tensor::{Device, Tensor};

/// Fixed-scale batch norm over the latent dimensions of `[B, L]` means.
#[derive(Module, Debug)]
pub struct PosteriorBatchNorm {
    /// Learned shift β, `[L]`.
    pub beta: Param<Tensor<1>>,
    /// The fixed scale γ.
    pub gamma: f64,
    /// Running mean, `[L]`.
    pub running_mean: RunningState<Tensor<1>>,
    /// Running (biased) variance, `[L]`.
    pub running_var: RunningState<Tensor<1>>,
    /// Running-statistics momentum.
    pub momentum: f64,
    /// Variance epsilon.
    pub epsilon: f64,
}

impl PosteriorBatchNorm {
    /// A layer for `latent_dim` coordinates with fixed scale `gamma` (> 0).
    ///
    /// # Panics
    /// If `gamma` is not finite and positive or `latent_dim` is 0.
    pub fn new(latent_dim: usize, gamma: f64, device: &Device) -> Self {
        assert!(
            latent_dim > 0,
            "PosteriorBatchNorm: `latent_dim` must be positive"
        );
        assert!(
            gamma.is_finite() && gamma > 0.0,
            "PosteriorBatchNorm: `gamma` must be finite and > 0, got {gamma}"
        );
        Self {
            beta: Param::from_tensor(Tensor::zeros([latent_dim], device)),
            gamma,
            running_mean: RunningState::new(Tensor::zeros([latent_dim], device)),
            running_var: RunningState::new(Tensor::ones([latent_dim], device)),
            momentum: 0.1,
            epsilon: 1e-5,
        }
    }

    /// `[B, L]` → `[B, L]`; batch statistics on autodiff devices, running ones otherwise.
    pub fn forward(&self, mu: Tensor<2>) -> Tensor<2> {
        let device = mu.device();
        let [_, l] = mu.dims();
        let gamma = Tensor::<1>::full([l], self.gamma, &device);
        if device.is_autodiff() {
            let r =
                burn::tensor::module::batch_norm_train(mu, gamma, self.beta.val(), self.epsilon);
            let m = self.running_mean.value_sync().to_device(&device);
            let v = self.running_var.value_sync().to_device(&device);
            self.running_mean
                .update((m * (1.0 - self.momentum) + r.mean.detach() * self.momentum).detach());
            self.running_var
                .update((v * (1.0 - self.momentum) + r.variance.detach() * self.momentum).detach());
            r.output
        } else {
            burn::tensor::module::batch_norm(
                mu,
                gamma,
                self.beta.val(),
                self.running_mean.value().to_device(&device),
                self.running_var.value().to_device(&device),
                self.epsilon,
            )
        }
    }
}
