//! GroupNorm conformance: `deepgen_nn::fused_group_norm` (one fused kernel on flex, its own
//! backward) gives the values and the gradients of the input, γ and β of Burn's
//! `GroupNorm::forward` on flex and on ndarray, for rank-3 and rank-4 inputs, one group per
//! channel, several channels per group and one group for all, on inputs whose groups have very
//! different means and scales; also with an input that needs no gradient (only γ and β get
//! one) and on a device without autodiff. Tolerance: 2e-5 relative to the largest magnitude of each
//! result (f32; the kernel accumulates its statistics in f64, Burn in f32).

use burn::module::Param;
use burn::nn::{GroupNorm, GroupNormConfig};
use burn::tensor::{Device, Tensor, TensorData};
use deepgen_nn::group_norm_kernel::{
    fused_group_norm, fused_group_norm_silu, uses_fused_group_norm,
};
use deepgen_tensor::BackendKind;

use crate::common::host;

fn values(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let u = ((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.5 - 1.0;
            // Channel blocks of 9 elements get offsets up to 30 and scales up to 5.
            u * (1.0 + (i / 9 % 5) as f32) + (i / 9 % 4) as f32 * 10.0
        })
        .collect()
}

/// A GroupNorm with non-trivial γ and β on `dev`.
fn module(groups: usize, channels: usize, dev: &Device) -> GroupNorm {
    let mut norm = GroupNormConfig::new(groups, channels).init(dev);
    let gamma: Vec<f32> = (0..channels).map(|c| 0.5 + c as f32 * 0.25).collect();
    let beta: Vec<f32> = (0..channels).map(|c| c as f32 * 0.1 - 0.3).collect();
    norm.gamma = Some(Param::from_tensor(Tensor::from_data(
        TensorData::new(gamma, [channels]),
        dev,
    )));
    norm.beta = Some(Param::from_tensor(Tensor::from_data(
        TensorData::new(beta, [channels]),
        dev,
    )));
    norm
}

/// Values, then the gradients of `Σ y ⊙ g` in x, γ and β, with `y = norm_op(norm, x)`.
fn run_with<const D: usize>(
    shape: [usize; D],
    groups: usize,
    dev: &Device,
    norm_op: impl Fn(&GroupNorm, Tensor<D>) -> Tensor<D>,
) -> [Vec<f32>; 4] {
    let dev = dev.clone().autodiff();
    let n: usize = shape.iter().product();
    let norm = module(groups, shape[1], &dev);
    let x =
        Tensor::<D>::from_data(TensorData::new(values(n, 1), shape.to_vec()), &dev).require_grad();
    let g = Tensor::<D>::from_data(TensorData::new(values(n, 2), shape.to_vec()), &dev);
    let y = norm_op(&norm, x.clone());
    let grads = (y.clone() * g).sum().backward();
    let gamma = norm.gamma.as_ref().unwrap().val();
    let beta = norm.beta.as_ref().unwrap().val();
    [
        host(y),
        host(x.grad(&grads).unwrap()),
        host(gamma.grad(&grads).unwrap()),
        host(beta.grad(&grads).unwrap()),
    ]
}

/// [`run_with`] the fused GroupNorm (`fused`) or Burn's.
fn run<const D: usize>(
    shape: [usize; D],
    groups: usize,
    dev: &Device,
    fused: bool,
) -> [Vec<f32>; 4] {
    run_with(shape, groups, dev, |norm, x| {
        if fused {
            assert!(
                uses_fused_group_norm(norm, &x),
                "flex must take the fused kernel"
            );
            fused_group_norm(norm, x)
        } else {
            norm.forward(x)
        }
    })
}

fn assert_close(got: &[Vec<f32>; 4], want: &[Vec<f32>; 4], what: &str) {
    for (name, (g, w)) in ["y", "dx", "dgamma", "dbeta"]
        .iter()
        .zip(got.iter().zip(want))
    {
        assert_eq!(g.len(), w.len(), "{what}: {name} length");
        let scale = w.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        for (i, (a, b)) in g.iter().zip(w).enumerate() {
            assert!(
                (a - b).abs() <= 2e-5 * scale,
                "{what}: {name}[{i}] {a} vs {b}"
            );
        }
    }
}

fn check<const D: usize>(shape: [usize; D], groups: usize) {
    let ndarray = BackendKind::NdArray.device().unwrap();
    let ours = run(shape, groups, &Device::flex(), true);
    let what = format!("{shape:?}, {groups} groups");
    assert_close(
        &ours,
        &run(shape, groups, &Device::flex(), false),
        &format!("{what} vs Burn's flex"),
    );
    assert_close(
        &ours,
        &run(shape, groups, &ndarray, false),
        &format!("{what} vs ndarray"),
    );
}

#[test]
fn fused_group_norm_matches_burn_flex_and_ndarray() {
    check([2, 4, 3, 3], 2);
    check([3, 6, 2, 5], 6);
    check([2, 8, 9], 1);
    check([4, 32, 7, 7], 16);
}

/// γ and β gradients with an input that does not require one, and values on a plain device.
#[test]
fn untracked_inputs_and_plain_devices_match_burn() {
    let shape = [2, 8, 3, 3];
    let n: usize = shape.iter().product();
    let grads_of = |fused: bool| {
        let dev = Device::flex().autodiff();
        let norm = module(4, 8, &dev);
        let x = Tensor::<4>::from_data(TensorData::new(values(n, 1), shape.to_vec()), &dev);
        let g = Tensor::<4>::from_data(TensorData::new(values(n, 2), shape.to_vec()), &dev);
        let y = if fused {
            fused_group_norm(&norm, x.clone())
        } else {
            norm.forward(x.clone())
        };
        let grads = (y * g).sum().backward();
        assert!(x.grad(&grads).is_none(), "x did not ask for a gradient");
        [
            host(norm.gamma.as_ref().unwrap().val().grad(&grads).unwrap()),
            host(norm.beta.as_ref().unwrap().val().grad(&grads).unwrap()),
        ]
    };
    let (ours, burns) = (grads_of(true), grads_of(false));
    for (a, b) in ours.iter().zip(&burns) {
        let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= 2e-5 * scale, "{x} vs {y}");
        }
    }
    let dev = Device::flex();
    let norm = module(4, 8, &dev);
    let x = Tensor::<4>::from_data(TensorData::new(values(n, 5), shape.to_vec()), &dev);
    assert!(uses_fused_group_norm(&norm, &x));
    let (a, b) = (
        host(fused_group_norm(&norm, x.clone())),
        host(norm.forward(x)),
    );
    let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() <= 2e-5 * scale, "plain device: {x} vs {y}");
    }
}

#[test]
fn other_backends_and_non_affine_norms_take_burns_path() {
    let ndarray = BackendKind::NdArray.device().unwrap();
    let x = Tensor::<4>::zeros([1, 4, 2, 2], &ndarray);
    assert!(!uses_fused_group_norm(&module(2, 4, &ndarray), &x));
    let flex = Device::flex();
    let x = Tensor::<4>::zeros([1, 4, 2, 2], &flex);
    let plain = GroupNormConfig::new(2, 4).with_affine(false).init(&flex);
    assert!(!uses_fused_group_norm(&plain, &x));
    // Burn's result for the non-affine norm: zero-mean groups.
    let x = Tensor::<4>::from_data(TensorData::new(values(16, 3), [1, 4, 2, 2]), &flex);
    let y = host(fused_group_norm(&plain, x));
    let mean: f32 = y[..8].iter().sum::<f32>() / 8.0;
    assert!(mean.abs() < 1e-5, "{mean}");
}

/// Values and the gradients in x, γ and β of `SiLU(GroupNorm(x))`, three ways: `0` the fused
/// operation, `1` deepgen's two operations (`silu(fused_group_norm(..))`), `2` Burn's.
fn run_silu<const D: usize>(
    shape: [usize; D],
    groups: usize,
    dev: &Device,
    way: u8,
) -> [Vec<f32>; 4] {
    run_with(shape, groups, dev, |norm, x| match way {
        0 => fused_group_norm_silu(norm, x),
        1 => deepgen_nn::silu(fused_group_norm(norm, x)),
        _ => burn::tensor::activation::silu(norm.forward(x)),
    })
}

/// The fused GroupNorm + SiLU equals deepgen's two operations to the bit on flex (values and all
/// three gradients), and Burn's two operations on flex and ndarray within the tolerance above.
#[test]
fn fused_group_norm_silu_equals_the_two_operations() {
    let ndarray = BackendKind::NdArray.device().unwrap();
    for (shape, groups) in [
        ([2, 4, 3, 3], 2),
        ([3, 6, 2, 5], 6),
        ([4, 32, 7, 7], 16),
        ([2, 8, 1, 9], 1),
    ] {
        let fused = run_silu(shape, groups, &Device::flex(), 0);
        let two = run_silu(shape, groups, &Device::flex(), 1);
        for (name, (a, b)) in ["y", "dx", "dgamma", "dbeta"]
            .iter()
            .zip(fused.iter().zip(&two))
        {
            let bits = |v: &[f32]| v.iter().map(|e| e.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(a),
                bits(b),
                "{shape:?}, {groups} groups: {name} differs from silu(fused_group_norm)"
            );
        }
        let what = format!("{shape:?}, {groups} groups, SiLU");
        assert_close(
            &fused,
            &run_silu(shape, groups, &Device::flex(), 2),
            &format!("{what} vs Burn's flex"),
        );
        assert_close(
            &fused,
            &run_silu(shape, groups, &ndarray, 2),
            &format!("{what} vs ndarray"),
        );
    }
}
