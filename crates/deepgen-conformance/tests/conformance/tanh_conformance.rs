//! tanh conformance: `deepgen_nn::tanh` (vectorised on flex, its own backward) gives the values
//! and the input gradient of Burn's `tanh` on flex and on ndarray, on a small rank-3 tensor with
//! extreme values (±∞, ±0, the 0.625 branch point, large |x|) and on one large enough for the
//! multi-threaded path. Tolerance: 1e-6 relative to the largest magnitude (f32; both sides are
//! within a few ulp of the exact tanh).

use burn::tensor::{Device, Tensor, TensorData};
use deepgen_nn::tanh::{tanh, uses_fused_tanh};
use deepgen_tensor::BackendKind;

use crate::common::host;

fn input(shape: [usize; 3]) -> TensorData {
    let n: usize = shape.iter().product();
    let mut v: Vec<f32> = (0..n)
        .map(|i| ((i * 7919 % 2001) as f32 - 1000.0) / 150.0)
        .collect();
    for (slot, x) in v.iter_mut().zip([
        -120.0,
        -9.0,
        -0.625,
        -0.0,
        0.0,
        1e-20,
        0.624_999_9,
        0.625,
        20.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
    ]) {
        *slot = x;
    }
    TensorData::new(v, shape.to_vec())
}

/// Values, then the gradient of `Σ tanh(x) ⊙ g`.
fn run(shape: [usize; 3], dev: &Device, fused: bool) -> [Vec<f32>; 2] {
    let dev = dev.clone().autodiff();
    let x = Tensor::<3>::from_data(input(shape), &dev).require_grad();
    let n: usize = shape.iter().product();
    let g: Vec<f32> = (0..n).map(|i| 0.5 + (i % 5) as f32 / 5.0).collect();
    let g = Tensor::<3>::from_data(TensorData::new(g, shape.to_vec()), &dev);
    let y = if fused {
        assert!(uses_fused_tanh(&x), "flex must take the vectorised kernel");
        tanh(x.clone())
    } else {
        burn::tensor::activation::tanh(x.clone())
    };
    let grads = (y.clone() * g).sum().backward();
    [host(y), host(x.grad(&grads).unwrap())]
}

fn assert_close(got: &[Vec<f32>; 2], want: &[Vec<f32>; 2], what: &str) {
    for (name, (g, w)) in ["y", "dx"].iter().zip(got.iter().zip(want)) {
        for (i, (a, b)) in g.iter().zip(w).enumerate() {
            assert!((a - b).abs() <= 1e-6, "{what}: {name}[{i}] {a} vs {b}");
        }
    }
}

#[test]
fn vectorised_tanh_matches_burn_flex_and_ndarray() {
    let ndarray = BackendKind::NdArray.device().unwrap();
    for shape in [[3, 5, 7], [2, 3, 40_000]] {
        let ours = run(shape, &Device::flex(), true);
        assert_close(
            &ours,
            &run(shape, &Device::flex(), false),
            &format!("{shape:?} vs Burn's flex"),
        );
        assert_close(
            &ours,
            &run(shape, &ndarray, false),
            &format!("{shape:?} vs ndarray"),
        );
    }
}
