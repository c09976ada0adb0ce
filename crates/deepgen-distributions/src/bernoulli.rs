//! Bernoulli distribution parameterised by logits.

use burn::tensor::Tensor;
use burn::tensor::activation::sigmoid;
use deepgen_tensor::numerics::tensor::softplus;

/// Independent Bernoulli variables over the last dimension of `logits` (`[B, D]`).
///
/// Parameterised by **logits** ℓ (p = σ(ℓ)), which keeps the log-likelihood
/// finite for saturated predictions.
#[derive(Debug, Clone)]
pub struct Bernoulli {
    /// Logits ℓ, `[B, D]`.
    pub logits: Tensor<2>,
}

impl Bernoulli {
    /// Builds the distribution from logits.
    pub fn new(logits: Tensor<2>) -> Self {
        Self { logits }
    }

    /// Σ_d x·ln σ(ℓ) + (1−x)·ln σ(−ℓ), `[B, D]` → `[B]`.
    ///
    /// Computed as x·ℓ − softplus(ℓ) with deepgen-tensor's stable softplus; `x` may be any value in [0, 1] (grey levels), in
    /// which case this is the (unnormalised) cross-entropy used by most VAE code.
    pub fn log_prob(&self, x: Tensor<2>) -> Tensor<1> {
        let l = self.logits.clone();
        (x * l.clone() - softplus(l)).sum_dim(1).squeeze_dim(1)
    }

    /// Success probabilities σ(ℓ), `[B, D]` (the mean).
    pub fn probs(&self) -> Tensor<2> {
        sigmoid(self.logits.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    #[test]
    fn log_prob_matches_torch_bce_and_is_finite_for_large_logits() {
        // Σ x·ℓ − log(1 + e^ℓ) for ℓ = [2, −1, 0, 40, −40], x = [1, 0, 0.3, 0, 0] with
        // NumPy 2.x: (x*l - np.logaddexp(0, l)).sum() = -41.13333687912114 (= −BCE-with-logits).
        let expected = -41.13333687912114;
        let dev = Device::flex();
        let logits = Tensor::<2>::from_data(
            TensorData::new(vec![2.0f32, -1.0, 0.0, 40.0, -40.0], [1, 5]),
            &dev,
        );
        let x = Tensor::<2>::from_data(
            TensorData::new(vec![1.0f32, 0.0, 0.3, 0.0, 0.0], [1, 5]),
            &dev,
        );
        let lp = Bernoulli::new(logits).log_prob(x).into_scalar::<f32>() as f64;
        assert!((lp - expected).abs() < 1e-4, "{lp} vs {expected}");
    }
}
