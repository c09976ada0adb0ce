//! Linear conformance: `deepgen_nn::linear` (one GEMM into the bias rows on flex, its own
//! backward) gives the values and the gradients of the input, the weight and the bias of Burn's
//! `linear` on flex and on ndarray, and `deepgen_nn::linear_relu` those of Burn's
//! `relu(linear(…))`: rank-2 and rank-3 inputs, with and without a bias, a
//! non-contiguous input (a column slice, as the split couplings pass), and a product above the
//! multi-threading threshold, products with a dimension of 1 or 2 (the small-matrix loops).
//! Tolerance: 2e-6 relative to the largest magnitude (f32 GEMMs
//! with different blocking sum in different orders).

use burn::tensor::{Device, Tensor, TensorData};
use deepgen_nn::linear::{linear, linear_relu, uses_deepgen_linear};
use deepgen_tensor::BackendKind;

use crate::common::host;

fn pattern(n: usize, k: u32, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|i| ((((i as u32 + 1) * 7919 * k) % 1000) as f32 / 1000.0 - 0.5) * scale)
        .collect()
}

/// One case: input `[rows, wide]` of which columns `lo..lo + d_in` are used (a strided view
/// when `lo > 0` or `wide > d_in`), reshaped to `[2, rows / 2, d_in]` when `rank3`.
#[derive(Clone, Copy, Debug)]
struct Case {
    rows: usize,
    wide: usize,
    lo: usize,
    d_in: usize,
    d_out: usize,
    bias: bool,
    rank3: bool,
    relu: bool,
}

/// Burn's `linear`, then its `relu` when asked.
fn burn_linear<const D: usize>(
    x: Tensor<D>,
    w: Tensor<2>,
    b: Option<Tensor<1>>,
    relu: bool,
) -> Tensor<D> {
    let y = burn::tensor::module::linear(x, w, b);
    if relu {
        burn::tensor::activation::relu(y)
    } else {
        y
    }
}

/// Values, then the gradients of x, W and b of `Σ linear(x) ⊙ g`.
fn run(c: Case, dev: &Device, ours: bool) -> Vec<Vec<f32>> {
    let dev = dev.clone().autodiff();
    let full = Tensor::<2>::from_data(
        TensorData::new(pattern(c.rows * c.wide, 1, 4.0), [c.rows, c.wide]),
        &dev,
    )
    .require_grad();
    let w = Tensor::<2>::from_data(
        TensorData::new(pattern(c.d_in * c.d_out, 2, 0.5), [c.d_in, c.d_out]),
        &dev,
    )
    .require_grad();
    let b = c.bias.then(|| {
        Tensor::<1>::from_data(TensorData::new(pattern(c.d_out, 3, 2.0), [c.d_out]), &dev)
            .require_grad()
    });
    let x = full.clone().slice([0..c.rows, c.lo..c.lo + c.d_in]);
    let g = Tensor::<2>::from_data(
        TensorData::new(pattern(c.rows * c.d_out, 4, 2.0), [c.rows, c.d_out]),
        &dev,
    );
    let y: Tensor<2> = if c.rank3 {
        let x3 = x.reshape([2, c.rows / 2, c.d_in]);
        if ours {
            assert!(
                uses_deepgen_linear(&x3, &w),
                "flex must take deepgen's kernel"
            );
        }
        let y = match (ours, c.relu) {
            (true, true) => linear_relu(x3, w.clone(), b.clone()),
            (true, false) => linear(x3, w.clone(), b.clone()),
            (false, relu) => burn_linear(x3, w.clone(), b.clone(), relu),
        };
        y.reshape([c.rows, c.d_out])
    } else {
        if ours {
            assert!(
                uses_deepgen_linear(&x, &w),
                "flex must take deepgen's kernel"
            );
        }
        match (ours, c.relu) {
            (true, true) => linear_relu(x, w.clone(), b.clone()),
            (true, false) => linear(x, w.clone(), b.clone()),
            (false, relu) => burn_linear(x, w.clone(), b.clone(), relu),
        }
    };
    let grads = (y.clone() * g).sum().backward();
    let mut out = vec![
        host(y),
        host(full.grad(&grads).unwrap()),
        host(w.grad(&grads).unwrap()),
    ];
    if let Some(b) = b {
        out.push(host(b.grad(&grads).unwrap()));
    }
    out
}

fn assert_close(got: &[Vec<f32>], want: &[Vec<f32>], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: number of outputs");
    for (name, (g, w)) in ["y", "dx", "dw", "db"].iter().zip(got.iter().zip(want)) {
        assert_eq!(g.len(), w.len(), "{what}: {name} length");
        let scale = w.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        for (i, (a, b)) in g.iter().zip(w).enumerate() {
            assert!(
                (a - b).abs() <= 2e-6 * scale,
                "{what}: {name}[{i}] {a} vs {b}"
            );
        }
    }
}

#[test]
fn deepgen_linear_matches_burn_flex_and_ndarray() {
    let ndarray = BackendKind::NdArray.device().unwrap();
    let base = Case {
        rows: 6,
        wide: 5,
        lo: 0,
        d_in: 5,
        d_out: 3,
        bias: true,
        rank3: false,
        relu: false,
    };
    let cases = [
        base,
        Case {
            bias: false,
            ..base
        },
        Case {
            rank3: true,
            ..base
        },
        // The split coupling's conditioning column: a [512, 1] view of a [512, 2] input.
        Case {
            rows: 512,
            wide: 2,
            lo: 1,
            d_in: 1,
            d_out: 128,
            ..base
        },
        Case {
            rows: 256,
            wide: 300,
            lo: 40,
            d_in: 256,
            d_out: 200,
            ..base
        },
        Case {
            rows: 64,
            wide: 128,
            lo: 0,
            d_in: 128,
            d_out: 2,
            bias: false,
            rank3: true,
            relu: false,
        },
        Case { relu: true, ..base },
        Case {
            relu: true,
            bias: false,
            rank3: true,
            ..base
        },
        Case {
            rows: 512,
            wide: 2,
            lo: 0,
            d_in: 1,
            d_out: 128,
            relu: true,
            ..base
        },
        Case {
            rows: 300,
            wide: 128,
            lo: 0,
            d_in: 128,
            d_out: 128,
            relu: true,
            ..base
        },
        Case {
            rows: 300,
            wide: 130,
            lo: 2,
            d_in: 128,
            d_out: 2,
            relu: true,
            ..base
        },
    ];
    for c in cases {
        let ours = run(c, &Device::flex(), true);
        assert_close(
            &ours,
            &run(c, &Device::flex(), false),
            &format!("{c:?} vs Burn's flex"),
        );
        assert_close(
            &ours,
            &run(c, &ndarray, false),
            &format!("{c:?} vs ndarray"),
        );
    }
}
