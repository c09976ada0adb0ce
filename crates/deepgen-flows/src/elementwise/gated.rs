//! The sigmoid-gated update of IAF (Kingma et al. 2016, eq. 14), as an elementwise bijection.
//!
//! ```text
//! g = sigmoid(s + b)
//! y = g · x + (1 − g) · m      (forward, data → latent)
//! x = (y − (1 − g) · m) / g    (inverse)
//! ln|dy/dx| = ln g = log_sigmoid(s + b)
//! ```
//!
//! Parameters per element: `[s, m]` (the raw gate and the value the gate mixes in). The gate
//! bias `b` (default 2, IAF's "forget-gate bias": `g ≈ 0.88` at `s = 0`) keeps a freshly
//! initialised layer close to the identity; unlike [`Affine`](super::Affine), whose shift is
//! free, the mixed-in value is weighted by `1 − g`, which the IAF paper found more stable in
//! deep stacks. `g < 1` always, so the forward map never expands: ln g is computed as the stable
//! `log_sigmoid`, and the inverse divides by `g`, bounded below by `sigmoid(s + b)` in f32.

use burn::config::Config;
use burn::tensor::Tensor;
use burn::tensor::activation::sigmoid;
use deepgen_tensor::numerics::tensor::log_sigmoid;
use deepgen_tensor::{ConfigError, Validate};

use super::{ElementwiseBijection, check_params, column};

/// The sigmoid-gated elementwise bijection; see the [module docs](self).
#[derive(Config, Debug, PartialEq)]
pub struct SigmoidGated {
    /// The gate bias `b` added to the raw gate parameter (default 2).
    #[config(default = 2.0)]
    pub gate_bias: f64,
}

impl Validate for SigmoidGated {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.gate_bias.is_finite() {
            Ok(())
        } else {
            Err(ConfigError::new(
                "SigmoidGated",
                "gate_bias",
                format!("must be finite, got {}", self.gate_bias),
            ))
        }
    }
}

impl ElementwiseBijection for SigmoidGated {
    fn num_params(&self) -> usize {
        2
    }

    fn forward(&self, x: Tensor<1>, params: Tensor<2>) -> (Tensor<1>, Tensor<1>) {
        check_params("SigmoidGated", &x, &params, 2);
        let s = column(&params, 0).add_scalar(self.gate_bias);
        let m = column(&params, 1);
        let g = sigmoid(s.clone());
        let y = g.clone() * (x - m.clone()) + m;
        (y, log_sigmoid(s))
    }

    fn inverse(&self, y: Tensor<1>, params: Tensor<2>) -> (Tensor<1>, Tensor<1>) {
        check_params("SigmoidGated", &y, &params, 2);
        let s = column(&params, 0).add_scalar(self.gate_bias);
        let m = column(&params, 1);
        let log_g = log_sigmoid(s);
        // x = (y − (1 − g)·m)/g = (y − m)/g + m.
        let x = (y - m.clone()) * log_g.clone().neg().exp() + m;
        (x, log_g.neg())
    }
}
