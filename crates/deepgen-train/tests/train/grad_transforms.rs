//! `deepgen_train::grad`: global norm, clipping, custom closures, NaN detection
//! and per-module learning rates, on `Device::flex().autodiff()`.
//!
//! The model is Burn's `Linear` (row layout: `y = x·W + b`, `W` is `[d_in, d_out]`)
//! and the loss is `sum(y)`, whose gradients are known in closed form:
//! `∂L/∂W[i][j] = Σ_n x[n][i]` and `∂L/∂b[j] = N` (independent of `W` and `b`).

use std::sync::{Arc, Mutex};

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::{Device, Tensor};
use deepgen_train::grad::{GradError, GradTensor, GradTransforms, LrGroups, optimizer_step};

/// x = [[1,2,3],[4,5,6]]: column sums [5,7,9], N = 2.
const X: [[f32; 3]; 2] = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
/// ∂L/∂W for d_out = 2: every column of row i is Σ_n x[n][i].
const DW: [f64; 6] = [5.0, 5.0, 7.0, 7.0, 9.0, 9.0];
/// ∂L/∂b = N = 2 for both outputs.
const DB: [f64; 2] = [2.0, 2.0];

fn device() -> Device {
    let ad = Device::flex().autodiff();
    ad.seed(7);
    ad
}

fn linear_and_grads() -> (Linear, GradientsParams) {
    let ad = device();
    let layer = LinearConfig::new(3, 2).init(&ad);
    let x = Tensor::<2>::from_data(X, &ad);
    let loss = layer.forward(x).sum();
    let grads = GradientsParams::from_grads(loss.backward(), &layer);
    (layer, grads)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data().try_into_vec_as::<f64>().unwrap()
}

fn norm(parts: &[&[f64]]) -> f64 {
    parts
        .iter()
        .flat_map(|p| p.iter())
        .map(|v| v * v)
        .sum::<f64>()
        .sqrt()
}

fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * w.abs().max(1.0),
            "{what}[{i}]: got {g}, want {w}"
        );
    }
}

fn weight_and_bias(layer: &Linear, grads: &GradientsParams) -> (Vec<f64>, Vec<f64>) {
    let w = values(grads.get::<2>(layer.weight.id).expect("weight gradient"));
    let b = values(
        grads
            .get::<1>(layer.bias.as_ref().unwrap().id)
            .expect("bias gradient"),
    );
    (w, b)
}

#[test]
fn global_norm_matches_closed_form_and_no_clip_leaves_gradients() {
    let (layer, grads) = linear_and_grads();
    let (grads, stats) = GradTransforms::new().apply(&layer, grads);
    // sqrt(2·(25+49+81) + 2·4) = sqrt(318) = 17.832554500127006 (Python 3.11 math.sqrt)
    assert!((norm(&[&DW, &DB]) - 17.832554500127006).abs() < 1e-12);
    assert!(
        (stats.global_norm - 17.832554500127006).abs() < 1e-5,
        "global norm {}",
        stats.global_norm
    );
    assert_eq!(stats.clip_scale, 1.0);
    assert_eq!(stats.non_finite, None);
    assert_eq!(stats.num_grads, 2);
    let (w, b) = weight_and_bias(&layer, &grads);
    assert_close(&w, &DW, 0.0, "dW");
    assert_close(&b, &DB, 0.0, "db");
}

#[test]
fn global_norm_clip_scales_every_gradient_by_max_over_norm() {
    let (layer, grads) = linear_and_grads();
    let max_norm = 1.0;
    let (grads, stats) = GradTransforms::new()
        .with_global_norm(max_norm)
        .unwrap()
        .apply(&layer, grads);
    let full = 318f64.sqrt();
    assert!((stats.global_norm - full).abs() < 1e-5);
    assert!((stats.clip_scale - max_norm / full).abs() < 1e-12);
    let scale = max_norm / full;
    let (w, b) = weight_and_bias(&layer, &grads);
    let want_w: Vec<f64> = DW.iter().map(|g| g * scale).collect();
    let want_b: Vec<f64> = DB.iter().map(|g| g * scale).collect();
    // f32 on the device: relative error ~1e-7.
    assert_close(&w, &want_w, 1e-6, "clipped dW");
    assert_close(&b, &want_b, 1e-6, "clipped db");
    assert!((norm(&[&w, &b]) - max_norm).abs() < 1e-6);
}

/// Gradients of ~5e20: finite in f32, but their squares overflow f32 (the state a diverging
/// Glow training reached). The norm must still be finite and the clip must still apply.
#[test]
fn global_norm_survives_an_f32_overflow_of_the_sum_of_squares() {
    let ad = device();
    let layer = LinearConfig::new(3, 2).init(&ad);
    let big = X.map(|row| row.map(|v| v * 1e20));
    let loss = layer.forward(Tensor::<2>::from_data(big, &ad)).sum();
    let grads = GradientsParams::from_grads(loss.backward(), &layer);
    let (grads, stats) = GradTransforms::new()
        .with_global_norm(1.0)
        .unwrap()
        .apply(&layer, grads);
    // sqrt(2·(25+49+81)·1e40 + 2·4) = 1.760681686165901e21 (Python 3.11 math.sqrt)
    let want = 1.760681686165901e21;
    assert!(
        (stats.global_norm / want - 1.0).abs() < 1e-6,
        "global norm {}",
        stats.global_norm
    );
    assert_eq!(stats.non_finite, None);
    assert!((stats.clip_scale - 1.0 / want).abs() < 1e-6 / want);
    let (w, b) = weight_and_bias(&layer, &grads);
    assert!((norm(&[&w, &b]) - 1.0).abs() < 1e-5, "clipped norm");
}

#[test]
fn global_norm_clip_leaves_small_gradients_alone() {
    let (layer, grads) = linear_and_grads();
    let (grads, stats) = GradTransforms::new()
        .with_global_norm(100.0)
        .unwrap()
        .apply(&layer, grads);
    assert_eq!(stats.clip_scale, 1.0);
    let (w, b) = weight_and_bias(&layer, &grads);
    assert_close(&w, &DW, 0.0, "dW");
    assert_close(&b, &DB, 0.0, "db");
}

#[test]
fn value_clip_bounds_each_element_then_global_clip_uses_the_clipped_norm() {
    let (layer, grads) = linear_and_grads();
    let (grads, stats) = GradTransforms::new()
        .with_value_clip(6.0)
        .unwrap()
        .apply(&layer, grads);
    // dW clipped to [-6, 6]: [5,5,6,6,6,6]; db unchanged. Norm sqrt(2·25 + 4·36 + 2·4) = sqrt(202).
    let (w, b) = weight_and_bias(&layer, &grads);
    assert_close(&w, &[5.0, 5.0, 6.0, 6.0, 6.0, 6.0], 0.0, "value-clipped dW");
    assert_close(&b, &DB, 0.0, "db");
    // sqrt(202) = 14.212670403551895 (Python 3.11 math.sqrt). The per-tensor sums of
    // squares are small integers, exact in f32, so the f64 norm is exact too.
    assert!((stats.global_norm - 14.212670403551895).abs() < 1e-12);

    let (layer, grads) = linear_and_grads();
    let (grads, stats) = GradTransforms::new()
        .with_value_clip(6.0)
        .unwrap()
        .with_global_norm(2.0)
        .unwrap()
        .apply(&layer, grads);
    let scale = 2.0 / 202f64.sqrt();
    assert!((stats.clip_scale - scale).abs() < 1e-12);
    let (w, b) = weight_and_bias(&layer, &grads);
    let want_w: Vec<f64> = [5.0, 5.0, 6.0, 6.0, 6.0, 6.0]
        .iter()
        .map(|g| g * scale)
        .collect();
    assert_close(&w, &want_w, 1e-6, "dW");
    assert_close(&b, &[2.0 * scale, 2.0 * scale], 1e-6, "db");
}

#[test]
fn custom_closure_sees_paths_and_runs_first() {
    let (layer, grads) = linear_and_grads();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let transforms = GradTransforms::new().with_custom(move |path, g| {
        log.lock().unwrap().push((path.to_string(), g.rank()));
        if path == "bias" {
            g.map_flat(|t| t * 4.0) // db becomes [8, 8]
        } else {
            g
        }
    });
    let (grads, stats) = transforms.apply(&layer, grads);
    assert_eq!(
        *seen.lock().unwrap(),
        vec![("weight".to_string(), 2), ("bias".to_string(), 1)]
    );
    let (_, b) = weight_and_bias(&layer, &grads);
    assert_close(&b, &[8.0, 8.0], 0.0, "db after closure");
    // The norm is measured after the closure: sqrt(310 + 2·64) = sqrt(438).
    assert!((stats.global_norm - 438f64.sqrt()).abs() < 1e-5);
}

#[test]
fn grad_tensor_keeps_rank_and_shape() {
    let ad = device();
    let t = Tensor::<3>::from_data([[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]], &ad);
    let g = GradTensor::from_tensor(t);
    assert!(matches!(g, GradTensor::R3(_)));
    assert_eq!(g.shape().as_slice(), &[2, 2, 2]);
    let doubled = g.map_flat(|t| t * 2.0);
    let GradTensor::R3(t) = doubled else {
        panic!("map_flat changed the variant")
    };
    assert_eq!(values(t), vec![2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0, 16.0]);
}

#[test]
#[should_panic(expected = "the closure must keep the shape")]
fn custom_closure_that_changes_the_shape_is_a_bug_that_panics() {
    let (layer, grads) = linear_and_grads();
    let transforms =
        GradTransforms::new().with_custom(|_, g| GradTensor::R1(g.into_flat().narrow(0, 0, 1)));
    let _ = transforms.apply(&layer, grads);
}

#[derive(Module, Debug)]
struct EncDec {
    encoder: Linear,
    decoder: Linear,
}

impl EncDec {
    fn new(device: &Device) -> Self {
        Self {
            encoder: LinearConfig::new(3, 2).init(device),
            decoder: LinearConfig::new(2, 2).init(device),
        }
    }

    fn loss(&self, x: Tensor<2>) -> Tensor<1> {
        self.decoder.forward(self.encoder.forward(x)).sum()
    }
}

#[test]
fn non_finite_gradient_is_reported_by_path_and_blocks_clipping() {
    let ad = device();
    let model = EncDec::new(&ad);
    let x = Tensor::<2>::from_data(X, &ad);
    let mut grads = GradientsParams::from_grads(model.loss(x).backward(), &model);
    // Inject a NaN into decoder.weight's gradient.
    let nan = Tensor::<2>::from_data([[0.0, f32::NAN], [1.0, 2.0]], &ad);
    grads.register(model.decoder.weight.id, nan);
    let (grads, stats) = GradTransforms::new()
        .with_global_norm(1.0)
        .unwrap()
        .apply(&model, grads);
    assert_eq!(stats.non_finite.as_deref(), Some("decoder.weight"));
    assert!(stats.global_norm.is_nan());
    assert_eq!(stats.clip_scale, 1.0);

    // Add +Inf to encoder.bias: it comes before decoder.weight in module order
    // (encoder.weight, encoder.bias, decoder.weight, decoder.bias), so it is reported.
    let inf = Tensor::<1>::from_data([f32::INFINITY, 0.0], &ad);
    let mut grads = grads;
    grads.register(model.encoder.bias.as_ref().unwrap().id, inf);
    let (_, stats) = GradTransforms::new()
        .with_value_clip(1.0) // would turn +Inf into 1: detection runs before it
        .unwrap()
        .apply(&model, grads);
    assert_eq!(stats.non_finite.as_deref(), Some("encoder.bias"));
}

/// Without a value clip the probes run only where a sum of squares is not finite: a
/// finite gradient whose squares overflow (encoder.weight, first in module order) must not
/// be reported, the ±∞ / NaN after it must.
#[test]
fn without_a_clip_an_overflowing_finite_gradient_is_told_from_a_non_finite_one() {
    let ad = device();
    let model = EncDec::new(&ad);
    let x = Tensor::<2>::from_data(X, &ad);
    for (bad, expected) in [
        (f32::INFINITY, "decoder.weight"),
        (f32::NAN, "decoder.weight"),
    ] {
        let mut grads = GradientsParams::from_grads(model.loss(x.clone()).backward(), &model);
        let huge = Tensor::<2>::from_data([[5e20f32, -5e20], [1.0, 2.0], [0.0, 0.0]], &ad);
        grads.register(model.encoder.weight.id, huge);
        let non_finite = Tensor::<2>::from_data([[0.0, bad], [1.0, 2.0]], &ad);
        grads.register(model.decoder.weight.id, non_finite);
        let (_, stats) = GradTransforms::new().apply(&model, grads);
        assert_eq!(stats.non_finite.as_deref(), Some(expected), "{bad}");
        assert_eq!(stats.num_grads, 4);
    }
    // The overflow alone: no report, and the norm measured with the rescale (≈ 5e20·√2).
    let mut grads = GradientsParams::from_grads(model.loss(x).backward(), &model);
    let huge = Tensor::<2>::from_data([[5e20f32, -5e20], [0.0, 0.0], [0.0, 0.0]], &ad);
    grads.register(model.encoder.weight.id, huge);
    let (_, stats) = GradTransforms::new().apply(&model, grads);
    assert_eq!(stats.non_finite, None);
    let want = 5e20f64 * 2f64.sqrt();
    assert!(
        (stats.global_norm - want).abs() / want < 1e-3,
        "norm {} vs {want}",
        stats.global_norm
    );
}

#[test]
fn per_module_learning_rate_moves_each_parameter_by_lr_times_grad() {
    let ad = device();
    let model = EncDec::new(&ad);
    let x = Tensor::<2>::from_data(X, &ad);
    let grads = GradientsParams::from_grads(model.loss(x).backward(), &model);

    // Snapshot parameters and gradients before the step.
    let snapshot = |p: &Param<Tensor<2>>| values(p.val());
    let snapshot_b = |p: &Option<Param<Tensor<1>>>| values(p.as_ref().unwrap().val());
    let before = [
        ("encoder.weight", snapshot(&model.encoder.weight)),
        ("encoder.bias", snapshot_b(&model.encoder.bias)),
        ("decoder.weight", snapshot(&model.decoder.weight)),
        ("decoder.bias", snapshot_b(&model.decoder.bias)),
    ];
    let g = [
        values(grads.get::<2>(model.encoder.weight.id).unwrap()),
        values(
            grads
                .get::<1>(model.encoder.bias.as_ref().unwrap().id)
                .unwrap(),
        ),
        values(grads.get::<2>(model.decoder.weight.id).unwrap()),
        values(
            grads
                .get::<1>(model.decoder.bias.as_ref().unwrap().id)
                .unwrap(),
        ),
    ];

    let groups: LrGroups = "encoder=0.5".parse().unwrap();
    groups.check(&model).unwrap();
    let mut optim = SgdConfig::new().init();
    let lr = 0.1;
    let model = optimizer_step(&mut optim, lr, &groups, model, grads);

    let after = [
        snapshot(&model.encoder.weight),
        snapshot_b(&model.encoder.bias),
        snapshot(&model.decoder.weight),
        snapshot_b(&model.decoder.bias),
    ];
    for (((path, old), grad), new) in before.iter().zip(&g).zip(&after) {
        let rate = if path.starts_with("encoder") {
            0.05
        } else {
            0.1
        };
        let want: Vec<f64> = old.iter().zip(grad).map(|(p, g)| p - rate * g).collect();
        // SGD computes p - f32(lr)·g in f32: a few ulps of |p| + |lr·g| (< 1e-6 here).
        assert_close(new, &want, 1e-6, path);
        // And the step really happened (the gradients are not all zero).
        assert!(
            old.iter().zip(new).any(|(a, b)| (a - b).abs() > 1e-4),
            "{path} did not move"
        );
    }
}

#[test]
fn lr_groups_check_names_a_typo_and_lists_modules() {
    let ad = device();
    let model = EncDec::new(&ad);
    let groups: LrGroups = "encodr=0.1".parse().unwrap();
    let err = groups.check(&model).unwrap_err();
    assert_eq!(
        err,
        GradError::UnmatchedPrefix {
            prefix: "encodr".to_string(),
            available: "encoder, decoder".to_string(),
        }
    );
    assert!(err.to_string().contains("`encodr`"));
}

#[test]
fn lr_groups_syntax_round_trips_and_rejects_bad_input() {
    let groups: LrGroups = "encoder=0.1, decoder.l2=2".parse().unwrap();
    assert_eq!(
        groups.groups(),
        &[
            ("encoder".to_string(), 0.1),
            ("decoder.l2".to_string(), 2.0)
        ]
    );
    assert_eq!(groups.to_string(), "encoder=0.1,decoder.l2=2");
    assert_eq!(groups.to_string().parse::<LrGroups>().unwrap(), groups);
    assert!("".parse::<LrGroups>().unwrap().is_empty());

    let bad = [
        ("encoder", "has no `=`"),
        ("encoder=fast", "multiplier `fast` is not a number"),
        ("encoder=-1", "multiplier -1 must be a finite number ≥ 0"),
        ("encoder=NaN", "multiplier NaN"),
        ("=0.5", "prefix `` is not a module path"),
        ("encoder..l1=0.5", "prefix `encoder..l1`"),
        ("encoder=0.5,encoder=2", "given twice"),
    ];
    for (text, want) in bad {
        let msg = text.parse::<LrGroups>().unwrap_err().to_string();
        assert!(msg.contains(want), "`{text}`: `{msg}` lacks `{want}`");
    }
}

#[test]
fn invalid_clip_thresholds_are_errors() {
    for v in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            GradTransforms::new().with_global_norm(v),
            Err(GradError::InvalidMaxNorm { .. })
        ));
        let err = GradTransforms::new().with_value_clip(v).unwrap_err();
        assert!(err.to_string().contains("`clip_value`"), "{err}");
    }
}
