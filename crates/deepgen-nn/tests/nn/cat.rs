//! `deepgen_nn::cat` against Burn's `Tensor::cat`: the same values and the same gradients to
//! the bit (it is a copy, and its backward hands each input the same slice of the output
//! gradient), along every dimension, above and below the size where the copy goes parallel,
//! with one input untracked, and on a backend it does not handle (ndarray).

use burn::tensor::{Device, Distribution, Tensor};

use crate::common::bits;

/// Values and the gradients of `sum(cat(a, b) · w)` with respect to `a` and (if tracked) `b`,
/// through `cat`.
fn run(
    a_shape: [usize; 4],
    b_shape: [usize; 4],
    dim: usize,
    track_b: bool,
    dev: &Device,
    cat: impl Fn(Vec<Tensor<4>>, usize) -> Tensor<4>,
) -> (Vec<u32>, Vec<u32>, Option<Vec<u32>>) {
    dev.seed(7);
    let a0 = Tensor::<4>::random(a_shape, Distribution::Normal(0.0, 1.0), dev);
    let b0 = Tensor::<4>::random(b_shape, Distribution::Normal(0.0, 1.0), dev);
    let a = a0.require_grad();
    let b = if track_b { b0.require_grad() } else { b0 };
    let out = cat(vec![a.clone(), b.clone()], dim);
    let w = Tensor::<4>::random(out.dims(), Distribution::Normal(0.0, 1.0), dev);
    // A second use of `a`, so its gradient is a sum of two contributions, as in the U-Net.
    let loss = (out.clone() * w).sum() + (a.clone() * a.clone()).sum();
    let grads = loss.backward();
    let ga = bits(a.grad(&grads).expect("a is tracked"));
    let gb = track_b.then(|| bits(b.grad(&grads).expect("b is tracked")));
    (bits(out), ga, gb)
}

#[test]
fn values_and_gradients_equal_burns_cat_to_the_bit() {
    let ad = Device::flex().autodiff();
    let cases: [([usize; 4], [usize; 4], usize); 5] = [
        ([3, 2, 4, 5], [3, 3, 4, 5], 1),
        ([2, 3, 4, 5], [1, 3, 4, 5], 0),
        ([2, 3, 4, 5], [2, 3, 2, 5], 2),
        ([2, 3, 4, 1], [2, 3, 4, 6], 3),
        // The U-Net's 7x7 skip concatenation at batch 64: the parallel copy.
        ([64, 32, 7, 7], [64, 16, 7, 7], 1),
    ];
    for (a, b, dim) in cases {
        for track_b in [true, false] {
            let ours = run(a, b, dim, track_b, &ad, deepgen_nn::cat);
            let burn = run(a, b, dim, track_b, &ad, Tensor::cat);
            assert_eq!(
                ours, burn,
                "{a:?} ++ {b:?} along {dim}, b tracked: {track_b}"
            );
        }
    }
}

#[test]
#[allow(deprecated)] // ndarray: a compiled backend the fused copy does not handle
fn other_backends_and_other_counts_go_to_burn() {
    let nd = Device::ndarray();
    let a = Tensor::<2>::from_floats([[1.0, 2.0], [3.0, 4.0]], &nd);
    let b = Tensor::<2>::from_floats([[5.0], [6.0]], &nd);
    let got = deepgen_nn::cat(vec![a.clone(), b], 1);
    assert_eq!(
        got.into_data().try_to_vec::<f32>().unwrap(),
        [1.0, 2.0, 5.0, 3.0, 4.0, 6.0]
    );
    let three = deepgen_nn::cat(vec![a.clone(), a.clone(), a], 0);
    assert_eq!(three.dims(), [6, 2]);
}
