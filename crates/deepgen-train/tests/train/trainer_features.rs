//! Loop features checked against numbers recomputed by hand: EMA weights are what evaluation
//! sees, learning-rate groups and clipping inside `fit`, divergence of a metric other than the
//! loss, mid-epoch evaluation records, non-finite evaluation results in strict JSON, point
//! samples, and configuration errors.

use crate::common;

use burn::optim::{AdamConfig, SgdConfig};
use burn::tensor::Device;
use common::{Reg, assert_close, metrics_lines, net, params, serial, trainer};
use deepgen_tensor::output::read_npy_f32;
use deepgen_train::grad::{GradTransforms, LrGroups};
use deepgen_train::metrics::MetricsRecord;
use deepgen_train::{Schedule, TrainError};

/// TensorFlow's EMA with warm-up, in f64: `d = min(decay, (1+n)/(10+n))`,
/// `shadow ← shadow − (1 − d)(shadow − w)`.
fn ema_by_hand(init: &[f32], raw: &[Vec<f32>], decay: f64) -> Vec<Vec<f32>> {
    let mut shadow: Vec<f64> = init.iter().map(|&v| v as f64).collect();
    let mut out = Vec::new();
    for (n, w) in raw.iter().enumerate() {
        let d = decay.min((1.0 + n as f64) / (10.0 + n as f64));
        for (s, &w) in shadow.iter_mut().zip(w) {
            *s -= (1.0 - d) * (*s - w as f64);
        }
        out.push(shadow.iter().map(|&v| v as f32).collect());
    }
    out
}

#[test]
fn evaluation_sees_the_ema_weights() {
    let _guard = serial();
    let ad = Device::flex().autodiff();
    let dir = tempfile::tempdir().unwrap();
    let init = params(&net(1, &ad));
    let mut task = Reg::new(4);
    let report = trainer(dir.path(), 2)
        .ema(Some(0.5))
        .eval_every_steps(Some(1))
        .fit(&mut task, net(1, &ad), AdamConfig::new().init(), &ad)
        .unwrap();
    // One evaluation after every step: mid-epoch after steps 1–3 and 5–7, end of epoch after
    // 4 and 8.
    assert_eq!(task.raw_after_step.len(), 8);
    assert_eq!(task.seen_in_eval.len(), 8);
    let expected = ema_by_hand(&init, &task.raw_after_step, 0.5);
    for (step, (seen, want)) in task.seen_in_eval.iter().zip(&expected).enumerate() {
        assert_close(seen, want, 1e-6, &format!("EMA after step {}", step + 1));
        assert_ne!(seen, &task.raw_after_step[step], "not the raw weights");
    }
    assert_close(
        &params(report.ema_model.as_ref().unwrap()),
        &expected[7],
        1e-6,
        "FitReport::ema_model",
    );
    assert_eq!(params(&report.model), task.raw_after_step[7]);
}

#[test]
fn an_lr_group_with_multiplier_zero_leaves_its_module_unchanged() {
    let _guard = serial();
    let ad = Device::flex().autodiff();
    let dir = tempfile::tempdir().unwrap();
    let init = params(&net(1, &ad));
    let report = trainer(dir.path(), 2)
        .lr_groups(LrGroups::new().with_group("a", 0.0).unwrap())
        .fit(&mut Reg::new(5), net(1, &ad), AdamConfig::new().init(), &ad)
        .unwrap();
    let p = params(&report.model);
    assert_eq!(&p[..2], &init[..2], "a frozen");
    assert!(
        p[2] != init[2] && p[3] != init[3],
        "b trained: {init:?} → {p:?}"
    );

    // A prefix that matches nothing is a configuration error naming it.
    let err = trainer(tempfile::tempdir().unwrap().path(), 1)
        .lr_groups(LrGroups::new().with_group("encoder", 0.1).unwrap())
        .fit(&mut Reg::new(1), net(1, &ad), AdamConfig::new().init(), &ad)
        .unwrap_err();
    assert!(
        err.to_string().contains("Trainer.lr_groups.encoder"),
        "{err}"
    );
}

#[test]
fn clipping_inside_fit_bounds_the_sgd_step() {
    let _guard = serial();
    let ad = Device::flex().autodiff();
    let init = params(&net(1, &ad));
    // SGD at lr 1: the step is minus the (clipped) gradient.
    let one_step = |grad: GradTransforms| {
        let dir = tempfile::tempdir().unwrap();
        let report = trainer(dir.path(), 1)
            .lr(Schedule::Constant(1.0))
            .grad_transforms(grad)
            .fit(&mut Reg::new(1), net(1, &ad), SgdConfig::new().init(), &ad)
            .unwrap();
        let grad_norm = metrics_lines(dir.path())[0]["grad_norm"].as_f64().unwrap();
        let delta: Vec<f64> = params(&report.model)
            .iter()
            .zip(&init)
            .map(|(p, q)| (*p - *q) as f64)
            .collect();
        (delta, grad_norm)
    };
    let (free, norm) = one_step(GradTransforms::new());
    let free_norm = free.iter().map(|d| d * d).sum::<f64>().sqrt();
    assert!(
        (free_norm - norm).abs() < 1e-5 * norm,
        "{free_norm} vs {norm}"
    );
    assert!(norm > 0.1, "the unclipped gradient is large: {norm}");

    // Global norm 1e-3: the whole step has norm 1e-3, in the unclipped direction.
    let (clipped, _) = one_step(GradTransforms::new().with_global_norm(1e-3).unwrap());
    let clipped_norm = clipped.iter().map(|d| d * d).sum::<f64>().sqrt();
    assert!((clipped_norm - 1e-3).abs() < 1e-6, "{clipped_norm}");
    for (c, f) in clipped.iter().zip(&free) {
        assert!(
            (c - f * 1e-3 / norm).abs() < 1e-6,
            "{clipped:?} vs {free:?}"
        );
    }

    // Value clip 1e-4: every element moves by at most 1e-4, the large ones by exactly that.
    let (valued, _) = one_step(GradTransforms::new().with_value_clip(1e-4).unwrap());
    for (v, f) in valued.iter().zip(&free) {
        let want = f.clamp(-1e-4, 1e-4);
        assert!((v - want).abs() < 1e-6, "{valued:?} vs clamp of {free:?}");
    }
}

#[test]
fn a_non_finite_training_metric_stops_with_its_name_and_step() {
    let _guard = serial();
    let ad = Device::flex().autodiff();
    let dir = tempfile::tempdir().unwrap();
    let mut task = Reg {
        nan_metric_at: Some(7),
        ..Reg::new(5)
    };
    let err = trainer(dir.path(), 3)
        .fit(&mut task, net(1, &ad), AdamConfig::new().init(), &ad)
        .unwrap_err();
    match &err {
        TrainError::NonFiniteLoss {
            step,
            epoch,
            metric,
            ..
        } => assert_eq!((*step, *epoch, metric.as_str()), (7, 1, "kl")),
        other => panic!("expected NonFiniteLoss, got {other}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("`kl`") && msg.contains("step 7"), "{msg}");
}

#[test]
fn mid_epoch_records_and_non_finite_evaluations_are_strict_json() {
    let _guard = serial();
    let ad = Device::flex().autodiff();
    let dir = tempfile::tempdir().unwrap();
    let mut task = Reg {
        eval_non_finite: true,
        ..Reg::new(10)
    };
    trainer(dir.path(), 2)
        .eval_every_steps(Some(4))
        .plot_labels("regression", "squared error")
        .plot_log_y(true)
        .fit(&mut task, net(1, &ad), AdamConfig::new().init(), &ad)
        .unwrap();
    let lines = metrics_lines(dir.path());
    // Steps 4, 8 (epoch 0), 12, 16 (epoch 1) are mid-epoch; 20 is an epoch's end.
    let points: Vec<(f64, bool, u64)> = lines
        .iter()
        .map(|l| {
            (
                l["epoch"].as_f64().unwrap(),
                l.get("mid_epoch").is_some_and(|m| m == true),
                l["step"].as_f64().unwrap() as u64,
            )
        })
        .collect();
    let want = [
        (0.4, true, 4),
        (0.8, true, 8),
        (1.0, false, 10),
        (1.2, true, 12),
        (1.6, true, 16),
        (2.0, false, 20),
    ];
    assert_eq!(points.len(), want.len(), "{points:?}");
    for (got, want) in points.iter().zip(&want) {
        assert!(
            (got.0 - want.0).abs() < 1e-12 && got.1 == want.1 && got.2 == want.2,
            "{points:?}"
        );
    }
    for l in &lines {
        assert!(l["test_nll"].is_null() && l["test_big"].is_null(), "{l}");
        assert_eq!(l["non_finite"]["test_nll"], "NaN");
        assert_eq!(l["non_finite"]["test_big"], "inf");
        assert!(l["test_loss"].as_f64().unwrap().is_finite());
        let mid = l.get("mid_epoch").is_some();
        assert_eq!(
            l.get("train_loss").is_some(),
            !mid,
            "train means only per epoch: {l}"
        );
    }
    // End-of-epoch records keep an integer epoch, as before mid-epoch evaluation existed.
    assert_eq!(lines[2]["epoch"].as_u64(), Some(1));
    // Reading restores the non-finite values.
    let text = std::fs::read_to_string(dir.path().join("metrics.jsonl")).unwrap();
    let first = MetricsRecord::from_json_line(text.lines().next().unwrap()).unwrap();
    assert!(first.mid_epoch && first.get("test_nll").unwrap().is_nan());
    assert_eq!(first.get("test_big"), Some(f64::INFINITY));
    assert!(dir.path().join("loss.png").exists());
}

#[test]
fn point_samples_are_written_as_npy_and_scatter_plots() {
    let _guard = serial();
    let ad = Device::flex().autodiff();
    let dir = tempfile::tempdir().unwrap();
    let mut task = Reg {
        points: true,
        ..Reg::new(6)
    };
    trainer(dir.path(), 1)
        .num_samples(5)
        .sample_every_steps(Some(4))
        .fit(&mut task, net(1, &ad), AdamConfig::new().init(), &ad)
        .unwrap();
    let (shape, data) = read_npy_f32(&dir.path().join("samples.npy")).unwrap();
    assert_eq!(shape, [5, 2]);
    let want: Vec<f32> = (0..5).flat_map(|i| [i as f32, -(i as f32) / 2.0]).collect();
    assert_eq!(data, want);
    for f in [
        "samples.png",
        "samples/epoch-0001.png",
        "samples/step-0000004.png",
    ] {
        assert!(dir.path().join(f).exists(), "{f} missing");
    }
    assert!(!dir.path().join("labels.npy").exists());
}

#[test]
fn invalid_settings_name_the_trainer_field() {
    let _guard = serial();
    let ad = Device::flex().autodiff();
    let cases: Vec<(deepgen_train::Trainer, &str)> = vec![
        (trainer(std::path::Path::new("unused"), 0), "Trainer.epochs"),
        (
            trainer(std::path::Path::new("unused"), 1).ema(Some(1.0)),
            "Trainer.ema_decay",
        ),
        (
            trainer(std::path::Path::new("unused"), 1).eval_every_steps(Some(0)),
            "Trainer.eval_every_steps",
        ),
        (
            trainer(std::path::Path::new("unused"), 1).sample_every_steps(Some(0)),
            "Trainer.sample_every_steps",
        ),
        (
            trainer(std::path::Path::new("unused"), 1).lr(Schedule::Cyclical {
                min: 0.0,
                max: 1.0,
                period: 0,
                ratio: 0.5,
            }),
            "Trainer.lr.period",
        ),
        (
            trainer(std::path::Path::new("unused"), 1)
                .weight_schedule("beta", Schedule::Constant(f64::NAN)),
            "Trainer.weights.beta.value",
        ),
    ];
    for (t, field) in cases {
        let err = t
            .fit(&mut Reg::new(1), net(1, &ad), AdamConfig::new().init(), &ad)
            .unwrap_err();
        assert!(matches!(err, TrainError::Config { .. }), "{err}");
        assert!(err.to_string().contains(&format!("`{field}`")), "{err}");
        assert_eq!(
            err.config_error().map(|e| e.config),
            Some("Trainer"),
            "{err}"
        );
    }
    assert!(!std::path::Path::new("unused").exists(), "nothing written");
}
