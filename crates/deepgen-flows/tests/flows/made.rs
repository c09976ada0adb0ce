//! MADE: the autoregressive property by full autodiff Jacobians (natural, reversed and custom
//! orders; ReLU/ELU/tanh; with and without context), masks untouched by an optimizer, and the
//! record round trip (masks and order come from the record).

use crate::common;

use burn::module::Module;
use burn::nn::EluConfig;
use burn::nn::activation::ActivationConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::store::ModuleRecord;
use burn::tensor::{Device, Tensor};
use common::{devices, host, host_bool, positions, tensor2};
use deepgen_flows::{Made, MadeConfig, MadeOrder};
use deepgen_tensor::rng::HostRng;

const D: usize = 5;
const P: usize = 2;
const C: usize = 3;
const B: usize = 16;

fn config(order: MadeOrder, activation: ActivationConfig, context_dim: usize) -> MadeConfig {
    MadeConfig::new(D, vec![12, 12], P)
        .with_order(order)
        .with_activation(activation)
        .with_context_dim(context_dim)
}

/// `grad[o][b·D + j] = ∂out[b, o]/∂x[b, j]` and the same for the context, by one backward pass
/// per output column (rows of the batch are independent).
fn jacobians(made: &Made, x: &[f64], h: Option<&[f64]>, device: &Device) -> JacPair {
    let mut jx = Vec::new();
    let mut jh = Vec::new();
    for o in 0..P * D {
        let xt = tensor2(x, D, device).require_grad();
        let ht = h.map(|h| tensor2(h, C, device).require_grad());
        let out = made.forward(xt.clone(), ht.as_ref());
        assert_eq!(out.dims(), [B, P * D]);
        let grads = out.narrow(1, o, 1).sum().backward();
        jx.push(host(xt.grad(&grads).expect("x requires grad")));
        if let Some(ht) = ht {
            jh.push(host(ht.grad(&grads).expect("h requires grad")));
        }
    }
    (jx, jh)
}

type JacPair = (Vec<Vec<f64>>, Vec<Vec<f64>>);

/// Checks ∂out_(p,i)/∂x_j = 0 exactly for pos(j) ≥ pos(i), ≠ 0 (for some row) for every
/// pos(j) < pos(i), and — with a context — ∂out/∂h ≠ 0 for every output.
fn check_autoregressive(
    made: &Made,
    order: &[usize],
    with_context: bool,
    device: &Device,
    what: &str,
) {
    assert_eq!(made.order(), order, "{what}: recorded order");
    let mut rng = HostRng::seed_from_u64(11);
    let x: Vec<f64> = (0..B * D).map(|_| rng.normal()).collect();
    let h: Vec<f64> = (0..B * C).map(|_| rng.normal()).collect();
    let (jx, jh) = jacobians(made, &x, with_context.then_some(&h[..]), device);
    let pos = positions(order);
    for (o, g) in jx.iter().enumerate() {
        let i = o % D;
        for j in 0..D {
            let col: Vec<f64> = (0..B).map(|b| g[b * D + j]).collect();
            if pos[j] >= pos[i] {
                assert!(
                    col.iter().all(|&v| v == 0.0),
                    "{what}: output ({}, {i}) depends on x_{j} (pos {} ≥ {}): {col:?}",
                    o / D,
                    pos[j],
                    pos[i]
                );
            } else {
                assert!(
                    col.iter().any(|&v| v.abs() > 1e-6),
                    "{what}: output ({}, {i}) ignores its predecessor x_{j}",
                    o / D
                );
            }
        }
    }
    for (o, g) in jh.iter().enumerate() {
        assert!(
            g.iter().any(|&v| v.abs() > 1e-6),
            "{what}: output {o} (variable {}) ignores the context",
            o % D
        );
    }
}

#[test]
fn autoregressive_property_full_jacobian() {
    let _serial = crate::common::serial();
    let orders = [
        MadeOrder::Natural,
        MadeOrder::Reversed,
        MadeOrder::Custom(vec![2, 0, 4, 1, 3]),
    ];
    let activations = [
        ("relu", ActivationConfig::Relu),
        ("elu", ActivationConfig::Elu(EluConfig::new())),
        ("tanh", ActivationConfig::Tanh),
    ];
    for (name, device) in devices() {
        let ad = device.autodiff();
        for order in &orders {
            for (act_name, act) in &activations {
                for context_dim in [0, C] {
                    // ndarray: one configuration per order is enough (the masks are built on
                    // the host; the backend only runs them).
                    if name == "ndarray" && (*act_name != "tanh" || context_dim == 0) {
                        continue;
                    }
                    ad.seed(3);
                    let made = config(order.clone(), act.clone(), context_dim).init(&ad);
                    let what = format!("{name}/{order:?}/{act_name}/context {context_dim}");
                    check_autoregressive(&made, &order.resolve(D), context_dim > 0, &ad, &what);
                }
            }
        }
    }
}

#[test]
fn no_hidden_layer_and_tiny_dimensions() {
    let _serial = crate::common::serial();
    let ad = Device::flex().autodiff();
    ad.seed(4);
    let made = MadeConfig::new(D, vec![], P)
        .with_order(MadeOrder::Custom(vec![4, 3, 0, 2, 1]))
        .init(&ad);
    check_autoregressive(&made, &[4, 3, 0, 2, 1], false, &ad, "no hidden");
    let made = MadeConfig::new(D, vec![], P).with_context_dim(C).init(&ad);
    check_autoregressive(&made, &[0, 1, 2, 3, 4], true, &ad, "no hidden, context");

    // D = 1: the only variable has no predecessor; without a context its outputs are constants,
    // with one they depend on it.
    let dev = Device::flex();
    dev.seed(4);
    let one = MadeConfig::new(1, vec![4], 2).init(&dev);
    let a = host(one.forward(tensor2(&[0.3, -2.0], 1, &dev), None));
    assert_eq!(&a[..2], &a[2..], "D = 1 without context must be constant");
    let one = MadeConfig::new(1, vec![4], 2)
        .with_context_dim(2)
        .init(&dev);
    let h = tensor2(&[0.1, 0.2, -1.0, 1.5], 2, &dev);
    let a = host(one.forward(tensor2(&[0.3, 0.3], 1, &dev), Some(&h)));
    assert!(a[0] != a[2] && a[1] != a[3], "D = 1 with context: {a:?}");
}

#[test]
fn context_changes_every_output() {
    let _serial = crate::common::serial();
    for (name, dev) in devices() {
        dev.seed(6);
        let made = config(MadeOrder::Reversed, ActivationConfig::Tanh, C).init(&dev);
        let mut rng = HostRng::seed_from_u64(2);
        let x: Vec<f64> = (0..B * D).map(|_| rng.normal()).collect();
        let h1: Vec<f64> = (0..B * C).map(|_| rng.normal()).collect();
        let h2: Vec<f64> = h1.iter().map(|v| v + 0.5).collect();
        let a = host(made.forward(tensor2(&x, D, &dev), Some(&tensor2(&h1, C, &dev))));
        let b = host(made.forward(tensor2(&x, D, &dev), Some(&tensor2(&h2, C, &dev))));
        let changed = a
            .iter()
            .zip(&b)
            .filter(|(u, v)| (*u - *v).abs() > 1e-6)
            .count();
        assert_eq!(
            changed,
            a.len(),
            "{name}: {changed} of {} outputs moved",
            a.len()
        );
    }
}

#[test]
#[should_panic(expected = "called without a context")]
fn missing_context_panics() {
    let _serial = crate::common::serial();
    let dev = Device::flex();
    let made = config(MadeOrder::Natural, ActivationConfig::Relu, C).init(&dev);
    let _ = made.forward(Tensor::zeros([2, D], &dev), None);
}

#[test]
#[should_panic(expected = "not a permutation")]
fn bad_order_panics() {
    let _serial = crate::common::serial();
    let _ = config(
        MadeOrder::Custom(vec![0, 1, 1, 3, 4]),
        ActivationConfig::Relu,
        0,
    )
    .init(&Device::flex());
}

fn masks(made: &Made) -> Vec<Vec<bool>> {
    made.layers
        .iter()
        .map(|l| host_bool(l.mask.val()))
        .collect()
}

#[test]
fn optimizer_never_touches_the_masks() {
    let _serial = crate::common::serial();
    let ad = Device::flex().autodiff();
    ad.seed(8);
    // tanh: no unit can die, so every allowed dependence is still there after training.
    let mut made = config(
        MadeOrder::Custom(vec![1, 3, 0, 4, 2]),
        ActivationConfig::Tanh,
        C,
    )
    .init(&ad);
    let before = masks(&made);
    // Float parameters only: weights + biases of [5→12, 12→12, 12→10] and the context [3, 12].
    let expected = (5 * 12 + 12) + (12 * 12 + 12) + (12 * 10 + 10) + 3 * 12;
    assert_eq!(made.num_params(), expected);
    let mut optim = AdamConfig::new().init();
    let mut rng = HostRng::seed_from_u64(9);
    let x: Vec<f64> = (0..B * D).map(|_| rng.normal()).collect();
    let h: Vec<f64> = (0..B * C).map(|_| rng.normal()).collect();
    for _ in 0..5 {
        let out = made.forward(tensor2(&x, D, &ad), Some(&tensor2(&h, C, &ad)));
        let loss = out.square().sum();
        let grads = GradientsParams::from_grads(loss.backward(), &made);
        made = optim.step(0.1, made, grads);
    }
    assert_eq!(masks(&made), before, "masks changed under Adam");
    check_autoregressive(&made, &[1, 3, 0, 4, 2], true, &ad, "after 5 Adam steps");
}

fn round_trip(made: &Made) -> ModuleRecord {
    let bytes = made.clone().into_record().into_bytes().expect("serialise");
    ModuleRecord::from_bytes(bytes).expect("deserialise")
}

#[test]
fn record_round_trip_restores_weights_masks_and_order() {
    let _serial = crate::common::serial();
    let mut rng = HostRng::seed_from_u64(5);
    let x: Vec<f64> = (0..B * D).map(|_| rng.normal()).collect();
    let h: Vec<f64> = (0..B * C).map(|_| rng.normal()).collect();
    let src_dev = Device::flex();
    src_dev.seed(1);
    let order = vec![3, 1, 4, 0, 2];
    let made = config(MadeOrder::Custom(order.clone()), ActivationConfig::Tanh, C).init(&src_dev);
    let want = host(made.forward(tensor2(&x, D, &src_dev), Some(&tensor2(&h, C, &src_dev))));
    let record = round_trip(&made);

    for (name, dev) in devices() {
        // A skeleton with another order and other random weights: everything must come from
        // the record.
        dev.seed(99);
        let skeleton = config(MadeOrder::Natural, ActivationConfig::Tanh, C).init(&dev);
        assert_ne!(masks(&skeleton), masks(&made));
        let loaded = skeleton
            .try_load_record(record.clone())
            .expect("record fits");
        assert_eq!(masks(&loaded), masks(&made), "{name}: masks");
        assert_eq!(loaded.order(), order, "{name}: order");
        let got = host(loaded.forward(tensor2(&x, D, &dev), Some(&tensor2(&h, C, &dev))));
        let err = common::max_abs_diff(&got, &want);
        if name == "flex" {
            assert_eq!(got, want, "flex → flex must be bit-identical");
        } else {
            assert!(err < 1e-5, "{name}: max |Δ| = {err:e}");
        }
        eprintln!("record round trip flex → {name}: max |Δ output| = {err:e}");
        let ad = dev.autodiff();
        let loaded_ad = config(MadeOrder::Natural, ActivationConfig::Tanh, C)
            .init(&ad)
            .try_load_record(record.clone())
            .expect("record fits");
        check_autoregressive(&loaded_ad, &order, true, &ad, &format!("{name}: loaded"));
    }
}

#[test]
fn record_of_another_shape_is_refused() {
    let _serial = crate::common::serial();
    let dev = Device::flex();
    let made = config(MadeOrder::Natural, ActivationConfig::Relu, 0).init(&dev);
    let other = MadeConfig::new(D, vec![8, 12], P).init(&dev);
    assert!(other.try_load_record(round_trip(&made)).is_err());
}
