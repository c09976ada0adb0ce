//! NICE's additive coupling map (Dinh et al. 2014): `y = x + t`, volume preserving.

use burn::tensor::Tensor;

use super::{ElementwiseBijection, check_params, column};

/// `y = x + t` with one parameter `t` per element; ln|dy/dx| = 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Additive;

impl ElementwiseBijection for Additive {
    fn num_params(&self) -> usize {
        1
    }

    fn forward(&self, x: Tensor<1>, params: Tensor<2>) -> (Tensor<1>, Tensor<1>) {
        check_params("Additive", &x, &params, 1);
        let zeros = x.zeros_like();
        (x + column(&params, 0), zeros)
    }

    fn inverse(&self, y: Tensor<1>, params: Tensor<2>) -> (Tensor<1>, Tensor<1>) {
        check_params("Additive", &y, &params, 1);
        let zeros = y.zeros_like();
        (y - column(&params, 0), zeros)
    }
}
