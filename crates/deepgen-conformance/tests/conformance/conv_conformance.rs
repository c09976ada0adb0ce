//! Convolution conformance: `deepgen_nn::conv2d` and `conv_transpose2d` (deepgen's own im2col +
//! GEMM kernels on flex, with their own backward step) give the values and the input, weight and
//! bias gradients of Burn's `conv2d` and `conv_transpose2d` — Burn's flex kernels and ndarray's — on every geometry the models use and the
//! edge cases around them: kernels 1–5, strides 1–2, symmetric and asymmetric padding (the
//! PixelCNN's causal convolutions), dilation, no bias, batch 1 (the sequential path with
//! multi-threaded GEMMs) and batches larger than the thread pool (the batch-parallel path).
//! Tolerance: 1e-4 relative to the largest magnitude (f32, summation order only).

use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Device, Tensor, TensorData};
use deepgen_nn::conv::{
    conv_transpose2d, conv2d, runs_as_transposed, uses_deepgen_kernel,
    uses_deepgen_transpose_kernel,
};
use deepgen_tensor::BackendKind;

use crate::common::host;

fn ndarray() -> Device {
    BackendKind::NdArray.device().unwrap()
}

struct Case {
    batch: usize,
    c_in: usize,
    c_out: usize,
    size: [usize; 2],
    kernel: [usize; 2],
    stride: usize,
    padding: [(usize, usize); 2],
    dilation: usize,
    bias: bool,
}

fn cases() -> Vec<Case> {
    let case = |batch, c_in, c_out, size, kernel, stride, padding, dilation, bias| Case {
        batch,
        c_in,
        c_out,
        size,
        kernel,
        stride,
        padding,
        dilation,
        bias,
    };
    let p = |a, b| [(a, a), (b, b)];
    vec![
        case(3, 4, 5, [7, 6], [3, 3], 1, p(1, 1), 1, true), // ResBlock / Glow 3×3
        case(1, 4, 5, [7, 6], [3, 3], 1, p(1, 1), 1, true), // batch 1: sequential path
        case(4, 3, 6, [8, 8], [4, 4], 2, p(1, 1), 1, true), // conv VAE encoder
        case(3, 4, 4, [7, 7], [3, 3], 2, p(1, 1), 1, false), // stride-2 downsample
        case(5, 6, 3, [5, 4], [1, 1], 1, p(0, 0), 1, true), // 1×1 (pointwise path)
        case(2, 3, 2, [6, 6], [1, 1], 2, p(0, 0), 1, true), // 1×1 with stride
        case(3, 2, 3, [9, 9], [3, 3], 1, p(2, 2), 2, true), // dilation
        case(3, 2, 2, [6, 5], [5, 5], 1, p(2, 2), 1, false), // 5×5
        case(2, 3, 4, [5, 6], [2, 3], 1, [(1, 0), (1, 1)], 1, true), // PixelCNN vertical
        case(2, 3, 4, [5, 6], [1, 3], 1, [(0, 0), (2, 0)], 1, true), // PixelCNN horizontal
        case(3, 2, 2, [3, 3], [3, 3], 1, p(0, 0), 1, true), // valid: 1×1 output
        // Fewer outputs than inputs, stride 1: computed as a transposed convolution.
        case(3, 12, 4, [7, 6], [3, 3], 1, p(1, 1), 1, true), // Glow conditioner's output
        case(1, 8, 2, [5, 5], [3, 3], 1, p(1, 1), 1, false), // batch 1
        case(2, 6, 3, [6, 5], [5, 5], 1, p(2, 2), 1, true),  // 5×5
        case(2, 5, 2, [6, 6], [3, 3], 1, p(0, 0), 1, true),  // valid (transposed padding 2)
        case(2, 6, 3, [6, 7], [3, 3], 1, p(2, 2), 1, true),  // padding k − 1 (transposed 0)
        case(2, 5, 3, [6, 6], [3, 2], 1, [(1, 1), (0, 0)], 1, true), // non-square kernel
        // … but not with asymmetric padding, a stride or a dilation (the im2col route).
        case(2, 6, 2, [5, 6], [2, 3], 1, [(1, 0), (1, 1)], 1, true),
        case(2, 6, 2, [7, 7], [3, 3], 2, p(1, 1), 1, true),
        case(2, 6, 2, [9, 9], [3, 3], 1, p(2, 2), 2, true),
    ]
}

fn pattern(shape: &[usize], seed: usize) -> TensorData {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|i| (((i + 1) * 7919 * seed) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    TensorData::new(v, shape.to_vec())
}

/// Burn's or deepgen's convolution of the case on `dev` (autodiff): see
/// [`outputs_and_gradients`].
fn run(case: &Case, dev: &Device, deepgen: bool) -> Vec<Vec<f32>> {
    let dev = dev.clone().autodiff();
    let x_shape = [case.batch, case.c_in, case.size[0], case.size[1]];
    let w_shape = [case.c_out, case.c_in, case.kernel[0], case.kernel[1]];
    let x = Tensor::<4>::from_data(pattern(&x_shape, 3), &dev).require_grad();
    let w = Tensor::<4>::from_data(pattern(&w_shape, 5), &dev).require_grad();
    let b = Tensor::<1>::from_data(pattern(&[case.c_out], 7), &dev).require_grad();
    let options =
        ConvOptions::new_with_padding([case.stride; 2], case.padding, [case.dilation; 2], 1);
    let bias = case.bias.then(|| b.clone());
    if deepgen {
        assert!(
            uses_deepgen_kernel(&x, &w, &options),
            "flex must take the deepgen kernel"
        );
        // The transposed route exactly where its conditions hold (see `runs_as_transposed`).
        let symmetric = case.padding.iter().all(|&(a, b)| a == b);
        let expected = case.stride == 1
            && case.dilation == 1
            && symmetric
            && case.kernel[0] * case.kernel[1] > 1
            && case.c_out < case.c_in;
        assert_eq!(
            runs_as_transposed(&x, &w, &options).is_some(),
            expected,
            "transposed route for c_in {} → c_out {}, kernel {:?}",
            case.c_in,
            case.c_out,
            case.kernel
        );
    }
    let y = if deepgen {
        conv2d(x.clone(), w.clone(), bias, options)
    } else {
        burn::tensor::module::conv2d(x.clone(), w.clone(), bias, options)
    };
    outputs_and_gradients(y, &x, &w, case.bias.then_some(&b))
}

/// `y`, then the gradients of `Σ y ⊙ g` (g a fixed pattern) for x, the weight and the bias.
fn outputs_and_gradients(
    y: Tensor<4>,
    x: &Tensor<4>,
    w: &Tensor<4>,
    b: Option<&Tensor<1>>,
) -> Vec<Vec<f32>> {
    let g = Tensor::<4>::from_data(pattern(&y.dims(), 11), &y.device());
    let grads = (y.clone() * g).sum().backward();
    let mut out = vec![
        host(y),
        host(x.grad(&grads).unwrap()),
        host(w.grad(&grads).unwrap()),
    ];
    out.extend(b.map(|b| host(b.grad(&grads).unwrap())));
    out
}

fn assert_close(got: &[Vec<f32>], want: &[Vec<f32>], what: &str) {
    let names = ["output", "dx", "dweight", "dbias"];
    assert_eq!(got.len(), want.len(), "{what}");
    for ((g, w), name) in got.iter().zip(want).zip(names) {
        assert_eq!(g.len(), w.len(), "{what}: {name} length");
        let scale = w.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        for (i, (a, b)) in g.iter().zip(w).enumerate() {
            assert!(
                (a - b).abs() <= 1e-4 * scale,
                "{what}: {name}[{i}] {a} vs {b}"
            );
        }
    }
}

#[test]
fn deepgen_conv_matches_burn_flex_and_ndarray() {
    for (i, case) in cases().iter().enumerate() {
        let ours = run(case, &Device::flex(), true);
        let burn_flex = run(case, &Device::flex(), false);
        let ndarray = run(case, &ndarray(), false);
        assert_close(&ours, &burn_flex, &format!("case {i} vs Burn's flex conv"));
        assert_close(&ours, &ndarray, &format!("case {i} vs ndarray"));
    }
}

#[test]
fn other_backends_and_grouped_convolutions_use_burns_conv() {
    let x = Tensor::<4>::zeros([1, 4, 5, 5], &ndarray());
    let w = Tensor::<4>::zeros([4, 4, 3, 3], &ndarray());
    let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
    assert!(!uses_deepgen_kernel(&x, &w, &options));
    let x = Tensor::<4>::from_data(pattern(&[2, 4, 5, 5], 3), &Device::flex());
    let w = Tensor::<4>::from_data(pattern(&[4, 2, 3, 3], 5), &Device::flex());
    let grouped = ConvOptions::new([1, 1], [1, 1], [1, 1], 2);
    assert!(!uses_deepgen_kernel(&x, &w, &grouped));
    // Still Burn's result, through the same function.
    let ours = host(conv2d(x.clone(), w.clone(), None, grouped.clone()));
    let burn = host(burn::tensor::module::conv2d(x, w, None, grouped));
    assert_eq!(ours, burn);
}

/// A transposed convolution: batch, channels in → out, input size, kernel, stride, padding,
/// output padding, dilation, bias.
type TransposeCase = (
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    bool,
);

fn run_transposed(case: TransposeCase, dev: &Device, deepgen: bool) -> Vec<Vec<f32>> {
    let (batch, c_in, c_out, size, k, stride, pad, pad_out, dil, with_bias) = case;
    let dev = dev.clone().autodiff();
    let x_shape = [batch, c_in, size, size];
    let w_shape = [c_in, c_out, k, k];
    let x = Tensor::<4>::from_data(pattern(&x_shape, 3), &dev).require_grad();
    let w = Tensor::<4>::from_data(pattern(&w_shape, 5), &dev).require_grad();
    let b = Tensor::<1>::from_data(pattern(&[c_out], 7), &dev).require_grad();
    let options = ConvTransposeOptions::new([stride; 2], [pad; 2], [pad_out; 2], [dil; 2], 1);
    let bias = with_bias.then(|| b.clone());
    let y = if deepgen {
        assert!(
            uses_deepgen_transpose_kernel(&x, &w, &options),
            "flex must take the deepgen kernel"
        );
        conv_transpose2d(x.clone(), w.clone(), bias, options)
    } else {
        burn::tensor::module::conv_transpose2d(x.clone(), w.clone(), bias, options)
    };
    outputs_and_gradients(y, &x, &w, with_bias.then_some(&b))
}

#[test]
fn deepgen_transposed_conv_matches_burn_flex_and_ndarray() {
    let cases: [TransposeCase; 6] = [
        (4, 6, 3, 7, 4, 2, 1, 0, 1, true),  // conv VAE decoder: 7 → 14
        (1, 6, 3, 7, 4, 2, 1, 0, 1, true),  // batch 1: sequential path
        (3, 4, 2, 4, 3, 2, 1, 1, 1, false), // output padding (odd sizes)
        (3, 3, 5, 5, 3, 1, 1, 0, 1, true),  // stride 1
        (2, 2, 3, 4, 3, 1, 0, 0, 2, true),  // dilation
        (5, 3, 4, 3, 1, 1, 0, 0, 1, true),  // 1×1
    ];
    for (i, case) in cases.into_iter().enumerate() {
        let ours = run_transposed(case, &Device::flex(), true);
        let burn_flex = run_transposed(case, &Device::flex(), false);
        let ndarray = run_transposed(case, &ndarray(), false);
        assert_close(
            &ours,
            &burn_flex,
            &format!("transposed case {i} vs Burn's flex"),
        );
        assert_close(&ours, &ndarray, &format!("transposed case {i} vs ndarray"));
    }
}
