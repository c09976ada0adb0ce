//! `deepgen_nn::scaled_dot_product_attention` against Burn's expression
//! `softmax(q.matmul(k.swap_dims(2, 3)) / √d, 3).matmul(v)`: the same values and the same
//! gradients of q, k and v **to the bit**, with and without autodiff, for inputs that are views
//! (as `SelfAttention2d` makes them) and contiguous ones, several heads, more keys than queries,
//! untracked inputs, under pools of 1, 2 and 3 threads (different chunkings of the batch), and
//! on a backend it does not handle (ndarray).

use burn::tensor::activation::softmax;
use burn::tensor::{Device, Distribution, Tensor};

use crate::common::bits;

fn burn_attention(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>) -> Tensor<4> {
    let d = q.dims()[3];
    softmax(q.matmul(k.swap_dims(2, 3)) / (d as f64).sqrt(), 3).matmul(v)
}

/// `[b, n, h·d]` tokens as `[b, h, n, d]` heads: the reshape + swap view `SelfAttention2d`
/// passes (scaled, so that the softmax is far from uniform).
fn heads(t: Tensor<3>, h: usize) -> Tensor<4> {
    let [b, n, c] = t.dims();
    (t * 2.0).reshape([b, n, h, c / h]).swap_dims(1, 2)
}

struct Case {
    batch: usize,
    heads: usize,
    queries: usize,
    keys: usize,
    d: usize,
    dv: usize,
    /// Which of q, k, v require a gradient.
    tracked: [bool; 3],
    /// Inputs as head views of token tensors (else contiguous).
    views: bool,
}

/// The output and the gradients of `sum(out · w)` with respect to the tracked inputs.
fn run(
    c: &Case,
    dev: &Device,
    attention: impl Fn(Tensor<4>, Tensor<4>, Tensor<4>) -> Tensor<4>,
) -> (Vec<u32>, Vec<Option<Vec<u32>>>) {
    dev.seed(11);
    let normal = Distribution::Normal(0.0, 1.0);
    let (b, h) = (c.batch, c.heads);
    let leaves = [
        Tensor::<3>::random([b, c.queries, h * c.d], normal, dev),
        Tensor::<3>::random([b, c.keys, h * c.d], normal, dev),
        Tensor::<3>::random([b, c.keys, h * c.dv], normal, dev),
    ];
    let leaves: Vec<Tensor<3>> = leaves
        .into_iter()
        .zip(c.tracked)
        .map(|(t, tr)| if tr { t.require_grad() } else { t })
        .collect();
    let inputs: Vec<Tensor<4>> = leaves
        .iter()
        .zip(c.tracked)
        .map(|(t, tr)| {
            let v = heads(t.clone(), h);
            if c.views {
                v
            } else {
                // The same values as a new contiguous leaf.
                let v = Tensor::from_data(v.to_data(), dev);
                if tr { v.require_grad() } else { v }
            }
        })
        .collect();
    let out = attention(inputs[0].clone(), inputs[1].clone(), inputs[2].clone());
    let w = Tensor::<4>::random(out.dims(), normal, dev);
    let grads = (out.clone() * w).sum().backward();
    let g = if c.views {
        leaves
            .iter()
            .zip(c.tracked)
            .map(|(t, tr)| tr.then(|| bits(t.grad(&grads).expect("tracked"))))
            .collect()
    } else {
        inputs.iter().map(|t| t.grad(&grads).map(bits)).collect()
    };
    (bits(out), g)
}

/// `f(threads)` inside a rayon pool of each thread count (a different chunking of the batch).
fn in_pools(counts: &[usize], f: impl Fn(usize) + Sync) {
    for &threads in counts {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| f(threads));
    }
}

fn cases() -> Vec<Case> {
    vec![
        // The U-Net's attention at 7x7: batch 64, one head, C = 32.
        Case {
            batch: 64,
            heads: 1,
            queries: 49,
            keys: 49,
            d: 32,
            dv: 32,
            tracked: [true; 3],
            views: true,
        },
        // Several heads, an odd batch (uneven chunks), more keys than queries.
        Case {
            batch: 5,
            heads: 4,
            queries: 3,
            keys: 9,
            d: 8,
            dv: 5,
            tracked: [true; 3],
            views: true,
        },
        Case {
            batch: 7,
            heads: 2,
            queries: 6,
            keys: 6,
            d: 4,
            dv: 4,
            tracked: [true, false, true],
            views: false,
        },
        Case {
            batch: 1,
            heads: 1,
            queries: 4,
            keys: 4,
            d: 2,
            dv: 3,
            tracked: [false, true, false],
            views: true,
        },
    ]
}

#[test]
fn values_and_gradients_equal_burns_expression_to_the_bit() {
    let ad = Device::flex().autodiff();
    in_pools(&[1, 2, 3], |threads| {
        for (i, c) in cases().iter().enumerate() {
            let ours = run(c, &ad, deepgen_nn::scaled_dot_product_attention);
            let burn = run(c, &ad, burn_attention);
            assert_eq!(ours.0, burn.0, "case {i}, {threads} threads: values");
            assert_eq!(ours.1, burn.1, "case {i}, {threads} threads: gradients");
            assert!(
                ours.1.iter().any(Option::is_some),
                "case {i}: nothing tracked"
            );
        }
    });
}

#[test]
fn without_autodiff_the_values_equal_burns_to_the_bit() {
    let flex = Device::flex();
    in_pools(&[1, 3], |threads| {
        for (i, c) in cases().iter().enumerate() {
            let inference = Case {
                tracked: [false; 3],
                ..*c
            };
            let ours = run_plain(&inference, &flex, deepgen_nn::scaled_dot_product_attention);
            let burn = run_plain(&inference, &flex, burn_attention);
            assert_eq!(ours, burn, "case {i}, {threads} threads");
        }
    });
}

/// The output alone, on a device without autodiff.
fn run_plain(
    c: &Case,
    dev: &Device,
    attention: impl Fn(Tensor<4>, Tensor<4>, Tensor<4>) -> Tensor<4>,
) -> Vec<u32> {
    dev.seed(11);
    let normal = Distribution::Normal(0.0, 1.0);
    let q = heads(
        Tensor::<3>::random([c.batch, c.queries, c.heads * c.d], normal, dev),
        c.heads,
    );
    let k = heads(
        Tensor::<3>::random([c.batch, c.keys, c.heads * c.d], normal, dev),
        c.heads,
    );
    let v = heads(
        Tensor::<3>::random([c.batch, c.keys, c.heads * c.dv], normal, dev),
        c.heads,
    );
    bits(attention(q, k, v))
}

#[test]
fn rows_are_probability_weighted_averages_of_the_values() {
    // One query that matches the second key far better than the others picks out its value.
    let dev = Device::flex().autodiff();
    let q = Tensor::<4>::from_floats([[[[0.0, 10.0]]]], &dev);
    let k = Tensor::<4>::from_floats([[[[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]]], &dev);
    let v = Tensor::<4>::from_floats([[[[1.0], [2.0], [3.0]]]], &dev);
    let out = deepgen_nn::scaled_dot_product_attention(q, k, v)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    // Weights ∝ exp([0, 10/√2, 0]): 2 + (tiny pull towards 1 and 3, which cancel).
    let w = (10.0f64 / 2f64.sqrt()).exp();
    let expected = (1.0 + 2.0 * w + 3.0) / (2.0 + w);
    assert!(
        (out[0] as f64 - expected).abs() < 1e-5,
        "{out:?} vs {expected}"
    );
}

#[test]
#[allow(deprecated)] // ndarray: a compiled backend the chunked kernel does not handle
fn other_backends_take_burns_expression() {
    let nd = Device::ndarray();
    let c = Case {
        batch: 3,
        heads: 2,
        queries: 4,
        keys: 5,
        d: 3,
        dv: 2,
        tracked: [false; 3],
        views: true,
    };
    let ours = run_plain(&c, &nd, deepgen_nn::scaled_dot_product_attention);
    let burn = run_plain(&c, &nd, burn_attention);
    assert_eq!(ours, burn);
}
