//! Helpers shared by the conformance modules: pattern-filled parameters and host copies.

use burn::module::{ModuleMapper, Param};
use burn::tensor::{Tensor, TensorData};

/// Replaces every float parameter by a fixed pattern in `[−scale/2, scale/2]` (a different
/// pattern per parameter, counted by `.0`), keeping each parameter's gradient setting.
pub struct Deterministic(pub u32, pub f32);

impl ModuleMapper for Deterministic {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        self.0 += 1;
        let (k, scale) = (self.0, self.1);
        param.map(|t| {
            let shape = t.shape();
            let n = shape.num_elements();
            let v: Vec<f32> = (0..n)
                .map(|i| ((((i as u32 + 1) * 7919 * k) % 1000) as f32 / 1000.0 - 0.5) * scale)
                .collect();
            Tensor::<D>::from_data(TensorData::new(v, shape), &t.device())
                .set_require_grad(t.is_require_grad())
        })
    }
}

/// Row-major host copy of a float tensor.
pub fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}
