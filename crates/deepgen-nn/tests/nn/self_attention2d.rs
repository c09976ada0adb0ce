//! SelfAttention2d against attention written out by loops on the host in f64 from the
//! module's own weights (GroupNorm, softmax(QKᵀ/√d)V per head, output projection, residual),
//! for one and two heads; equivariance to a permutation of the H·W positions; the identity at
//! a zero-initialised start; and validation errors.

use crate::common;

use burn::tensor::{Device, Distribution, Tensor, TensorData};
use common::{Map, group_norm, host, linear, max_abs_diff};
use deepgen_nn::{SelfAttention2d, SelfAttention2dConfig};
use deepgen_tensor::Validate;

fn host_attention(att: &SelfAttention2d, x: &Map) -> Map {
    let (c, n) = (x.c, x.h * x.w);
    let xn = group_norm(x, &att.norm);
    // tokens[p][ch] = x̂[ch][p]
    let tokens: Vec<Vec<f64>> = (0..n)
        .map(|p| (0..c).map(|ch| xn.v[ch * n + p]).collect())
        .collect();
    let q: Vec<Vec<f64>> = tokens.iter().map(|t| linear(t, &att.query)).collect();
    let k: Vec<Vec<f64>> = tokens.iter().map(|t| linear(t, &att.key)).collect();
    let v: Vec<Vec<f64>> = tokens.iter().map(|t| linear(t, &att.value)).collect();
    let d = c / att.heads;
    let mut a = vec![vec![0.0; c]; n];
    for head in 0..att.heads {
        let cols = head * d..(head + 1) * d;
        for p in 0..n {
            let scores: Vec<f64> = (0..n)
                .map(|m| cols.clone().map(|j| q[p][j] * k[m][j]).sum::<f64>() / (d as f64).sqrt())
                .collect();
            let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
            let z: f64 = e.iter().sum();
            for j in cols.clone() {
                a[p][j] = (0..n).map(|m| e[m] / z * v[m][j]).sum();
            }
        }
    }
    let out: Vec<Vec<f64>> = a.iter().map(|r| linear(r, &att.output)).collect();
    let mut y = x.v.clone();
    for ch in 0..c {
        for p in 0..n {
            y[ch * n + p] += out[p][ch];
        }
    }
    Map::new(c, x.h, x.w, y)
}

#[test]
fn equals_hand_written_attention_for_one_and_two_heads() {
    let dev = Device::flex();
    dev.seed(41);
    for heads in [1, 2] {
        let att = SelfAttention2dConfig::new(4)
            .with_heads(heads)
            .with_groups(2)
            .with_zero_init(false)
            .init(&dev);
        let x = Tensor::<4>::random([2, 4, 3, 2], Distribution::Normal(0.0, 1.0), &dev);
        let y = att.forward(x.clone());
        assert_eq!(y.dims(), [2, 4, 3, 2]);
        let (xs, ys) = (host(x), host(y));
        for i in 0..2 {
            let want = host_attention(&att, &Map::from_batch(&xs, i, 4, 3, 2));
            let err = max_abs_diff(&ys[i * 24..(i + 1) * 24], &want.v);
            assert!(err < 1e-5, "heads {heads}, example {i}: max |Δ| = {err}");
        }
        // The attention term is not negligible (the comparison above could fail).
        assert!(max_abs_diff(&xs, &ys) > 1e-2);
    }
}

#[test]
fn permuting_positions_permutes_the_output() {
    let dev = Device::flex();
    dev.seed(42);
    let att = SelfAttention2dConfig::new(8)
        .with_heads(2)
        .with_zero_init(false)
        .init(&dev);
    let (b, c, h, w) = (2, 8, 4, 4);
    let n = h * w;
    // π(p) = (5p + 3) mod 16 is a bijection (gcd(5, 16) = 1).
    let perm: Vec<usize> = (0..n).map(|p| (5 * p + 3) % n).collect();
    let x = Tensor::<4>::random([b, c, h, w], Distribution::Normal(0.0, 1.0), &dev);
    let xs = host(x.clone());
    let permute = |v: &[f64]| -> Vec<f64> {
        let mut out = vec![0.0; v.len()];
        for bc in 0..b * c {
            for p in 0..n {
                out[bc * n + p] = v[bc * n + perm[p]];
            }
        }
        out
    };
    let xp = Tensor::<4>::from_data(
        TensorData::new(
            permute(&xs).iter().map(|v| *v as f32).collect(),
            [b, c, h, w],
        ),
        &dev,
    );
    let y = host(att.forward(x));
    let yp = host(att.forward(xp));
    let err = max_abs_diff(&yp, &permute(&y));
    assert!(err < 1e-5, "max |Δ| = {err}");
    // A non-trivial check: the output is not already permutation-invariant.
    assert!(max_abs_diff(&y, &permute(&y)) > 1e-2);
}

#[test]
fn zero_initialised_block_is_the_identity() {
    let dev = Device::flex();
    dev.seed(43);
    let att = SelfAttention2dConfig::new(8).init(&dev);
    let x = Tensor::<4>::random([1, 8, 3, 3], Distribution::Normal(0.0, 1.0), &dev);
    assert_eq!(host(att.forward(x.clone())), host(x));
}

#[test]
fn bad_configs_name_the_field() {
    let e = SelfAttention2dConfig::new(6)
        .with_heads(4)
        .validate()
        .unwrap_err();
    assert_eq!(
        (e.config, e.field.as_str()),
        ("SelfAttention2dConfig", "heads")
    );
    let e = SelfAttention2dConfig::new(0).validate().unwrap_err();
    assert_eq!(e.field, "channels");
    let e = SelfAttention2dConfig::new(12)
        .with_groups(8)
        .validate()
        .unwrap_err();
    assert_eq!(e.field, "groups");
    assert!(
        SelfAttention2dConfig::new(8)
            .with_heads(0)
            .try_init(&Device::flex())
            .is_err()
    );
}
