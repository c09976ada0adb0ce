//! The symbol-map task: input validation (lengths, alphabet, conditioning) with clear
//! `VqError`s, model checks, `evaluate` (finite, deterministic, equal to the mean of
//! `−log_prob`), and a short run through `deepgen_train::Trainer` that lowers the test NLL and
//! writes labelled samples.

use burn::module::Module;
use burn::optim::AdamConfig;
use burn::tensor::{Device, Int, Tensor};
use deepgen_tensor::HostRng;
use deepgen_train::{Schedule, Task, Trainer};
use deepgen_vq::VqError;
use deepgen_vq::pixelcnn::{GatedPixelCnn, GatedPixelCnnConfig};
use deepgen_vq::tasks::symbol_maps::{SymbolMapTask, SymbolMaps};

const H: usize = 4;
const W: usize = 4;

fn symbols(n: usize, k: u32, seed: u64) -> Vec<u32> {
    let mut rng = HostRng::seed_from_u64(seed);
    (0..n * H * W)
        .map(|_| rng.below(u64::from(k)) as u32)
        .collect()
}

/// Maps with a learnable structure: every row repeats the map's first symbol.
fn striped(n: usize, k: u32, seed: u64) -> Vec<u32> {
    let mut rng = HostRng::seed_from_u64(seed);
    (0..n)
        .flat_map(|_| {
            let s = rng.below(u64::from(k)) as u32;
            std::iter::repeat_n(s, H * W)
        })
        .collect()
}

fn plain(n: usize, k: u32, seed: u64) -> SymbolMaps {
    SymbolMaps::new(symbols(n, k, seed), n, H, W, None, None, 0).unwrap()
}

fn labelled(n: usize, k: u32, seed: u64) -> SymbolMaps {
    let labels = (0..n).map(|i| (i % 3) as u8).collect();
    SymbolMaps::new(symbols(n, k, seed), n, H, W, Some(labels), None, 0).unwrap()
}

fn conditioned(n: usize, k: u32, c: usize, seed: u64) -> SymbolMaps {
    let cond = (0..n * c * H * W).map(|i| (i % 7) as f32 / 7.0).collect();
    SymbolMaps::new(symbols(n, k, seed), n, H, W, None, Some(cond), c).unwrap()
}

fn model(k: usize, classes: usize, cond: Option<usize>, dev: &Device) -> GatedPixelCnn {
    dev.seed(5);
    GatedPixelCnnConfig::new(k)
        .with_channels(8)
        .with_layers(2)
        .with_kernel_size(3)
        .with_head_channels(16)
        .with_num_classes(classes)
        .with_cond_channels(cond)
        .init(dev)
}

#[test]
fn inconsistent_maps_are_rejected() {
    let _serial = crate::common::serial();
    let e = SymbolMaps::new(vec![0; 15], 1, H, W, None, None, 0).unwrap_err();
    assert!(
        matches!(
            e,
            VqError::Mismatch {
                left: 15,
                right: 16,
                ..
            }
        ),
        "{e}"
    );
    let e = SymbolMaps::new(vec![0; 32], 2, H, W, Some(vec![0; 3]), None, 0).unwrap_err();
    assert!(
        matches!(e, VqError::Mismatch { what, left: 3, right: 2 } if what.contains("labels")),
        "{e}"
    );
    let e = SymbolMaps::new(vec![0; 32], 2, H, W, None, Some(vec![0.0; 10]), 1).unwrap_err();
    assert!(
        matches!(
            e,
            VqError::Mismatch {
                left: 10,
                right: 32,
                ..
            }
        ),
        "{e}"
    );
    let e = SymbolMaps::new(vec![0; 32], 2, H, W, None, Some(vec![0.0; 32]), 0).unwrap_err();
    assert!(
        matches!(
            e,
            VqError::Task {
                name: "cond_channels",
                ..
            }
        ),
        "{e}"
    );
    let e = SymbolMaps::new(vec![0; 32], 2, H, W, None, None, 2).unwrap_err();
    assert!(matches!(e, VqError::Task { name: "cond", .. }), "{e}");
    let e = SymbolMaps::new(vec![], 0, 0, W, None, None, 0).unwrap_err();
    assert!(matches!(e, VqError::Task { .. }), "{e}");
}

#[test]
fn the_task_checks_the_alphabet_and_the_splits() {
    let _serial = crate::common::serial();
    let mut bad = symbols(4, 3, 1);
    bad[2 * H * W + 5] = 3;
    let train = SymbolMaps::new(bad, 4, H, W, None, None, 0).unwrap();
    let e = SymbolMapTask::new(train, plain(2, 3, 2), 3, 2, 0).unwrap_err();
    match &e {
        VqError::Task { name, reason } => {
            assert_eq!(*name, "symbols");
            assert!(
                reason.contains("train map 2") && reason.contains("symbol 3"),
                "{reason}"
            );
        }
        other => panic!("expected a Task error, got {other}"),
    }
    let e = SymbolMapTask::new(plain(4, 3, 1), labelled(2, 3, 2), 3, 2, 0).unwrap_err();
    assert!(matches!(e, VqError::Task { name: "labels", .. }), "{e}");
    let e = SymbolMapTask::new(plain(4, 3, 1), plain(2, 3, 2), 3, 5, 0).unwrap_err();
    assert!(
        matches!(
            e,
            VqError::Task {
                name: "batch_size",
                ..
            }
        ),
        "{e}"
    );
    let e = SymbolMapTask::new(plain(4, 3, 1), plain(2, 3, 2), 1, 2, 0).unwrap_err();
    assert!(
        matches!(
            e,
            VqError::Task {
                name: "num_symbols",
                ..
            }
        ),
        "{e}"
    );
    let other_size = SymbolMaps::new(vec![0; 2 * 12], 2, 3, W, None, None, 0).unwrap();
    let e = SymbolMapTask::new(plain(4, 3, 1), other_size, 3, 2, 0).unwrap_err();
    assert!(
        matches!(
            e,
            VqError::Mismatch {
                left: 4,
                right: 3,
                ..
            }
        ),
        "{e}"
    );
    let e =
        SymbolMapTask::new(conditioned(4, 3, 2, 1), conditioned(2, 3, 1, 2), 3, 2, 0).unwrap_err();
    assert!(
        matches!(
            e,
            VqError::Mismatch {
                left: 2,
                right: 1,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn models_that_do_not_fit_the_data_are_rejected() {
    let _serial = crate::common::serial();
    let dev = Device::flex();
    let task = SymbolMapTask::new(plain(4, 3, 1), plain(2, 3, 2), 3, 2, 0).unwrap();
    let e = task.check_model(&model(4, 0, None, &dev)).unwrap_err();
    assert!(
        matches!(
            e,
            VqError::Mismatch {
                left: 4,
                right: 3,
                ..
            }
        ),
        "{e}"
    );
    let e = task.check_model(&model(3, 3, None, &dev)).unwrap_err();
    assert!(matches!(e, VqError::Task { name: "labels", .. }), "{e}");
    let e = task.check_model(&model(3, 0, Some(2), &dev)).unwrap_err();
    assert!(matches!(e, VqError::Task { name: "cond", .. }), "{e}");
    assert!(task.check_model(&model(3, 0, None, &dev)).is_ok());
    // An error from evaluate names the problem too.
    let e = task.test_nll(&model(4, 0, None, &dev), &dev).unwrap_err();
    assert!(e.to_string().contains("alphabet"), "{e}");

    let task = SymbolMapTask::new(labelled(4, 3, 1), labelled(2, 3, 2), 3, 2, 0).unwrap();
    let e = task.check_model(&model(3, 0, None, &dev)).unwrap_err();
    assert!(matches!(e, VqError::Task { name: "labels", .. }), "{e}");
    let e = task.check_model(&model(3, 2, None, &dev)).unwrap_err();
    assert!(
        matches!(
            e,
            VqError::Mismatch {
                left: 2,
                right: 3,
                ..
            }
        ),
        "{e}"
    );
    assert!(task.check_model(&model(3, 3, None, &dev)).is_ok());

    let task =
        SymbolMapTask::new(conditioned(4, 3, 2, 1), conditioned(2, 3, 2, 2), 3, 2, 0).unwrap();
    let e = task.check_model(&model(3, 0, Some(1), &dev)).unwrap_err();
    assert!(
        matches!(
            e,
            VqError::Mismatch {
                left: 1,
                right: 2,
                ..
            }
        ),
        "{e}"
    );
    let e = task.check_model(&model(3, 0, None, &dev)).unwrap_err();
    assert!(matches!(e, VqError::Task { name: "cond", .. }), "{e}");
    assert!(task.check_model(&model(3, 0, Some(2), &dev)).is_ok());
}

#[test]
fn evaluate_is_finite_deterministic_and_the_mean_nll() {
    let _serial = crate::common::serial();
    let dev = Device::flex();
    for (train, test, classes, cond) in [
        (plain(6, 3, 1), plain(5, 3, 2), 0, None),
        (labelled(6, 3, 1), labelled(5, 3, 2), 3, None),
        (conditioned(6, 3, 2, 1), conditioned(5, 3, 2, 2), 0, Some(2)),
    ] {
        let test_copy = test.clone();
        let mut task = SymbolMapTask::new(train, test, 3, 3, 0)
            .unwrap()
            .with_eval_batch(2)
            .unwrap();
        let m = model(3, classes, cond, &dev);
        let a = task.evaluate(&m, &dev).unwrap();
        let b = task.evaluate(&m, &dev).unwrap();
        assert_eq!(a, b, "evaluate is not deterministic");
        let get = |name: &str| a.iter().find(|(n, _)| n == name).unwrap().1;
        let nll = get("test_nll");
        assert!(nll.is_finite() && nll > 0.0, "{nll}");
        assert_eq!(get("test_loss"), nll);
        let bits = get("test_bits_per_symbol");
        assert!((bits - nll / (16.0 * std::f64::consts::LN_2)).abs() < 1e-12);
        // The same number from one log_prob over all test maps.
        let idx: Vec<usize> = (0..5).collect();
        let lp: Vec<f32> = m
            .log_prob(
                test_copy.symbols_tensor(&idx, &dev),
                test_copy.labels_tensor(&idx, &dev),
                test_copy.cond_tensor(&idx, &dev),
            )
            .into_data()
            .try_to_vec_as::<f32>()
            .unwrap();
        let direct = -lp.iter().map(|&v| f64::from(v)).sum::<f64>() / 5.0;
        assert!((nll - direct).abs() < 1e-4, "{nll} vs {direct}");
    }
}

#[test]
fn training_through_the_loop_lowers_the_test_nll_and_writes_samples() {
    let _serial = crate::common::serial();
    let dev = Device::flex();
    let ad = dev.clone().autodiff();
    let k = 3;
    let labels = |n: usize| Some((0..n).map(|i| (i % 2) as u8).collect::<Vec<_>>());
    let train = SymbolMaps::new(striped(64, k, 1), 64, H, W, labels(64), None, 0).unwrap();
    let test = SymbolMaps::new(striped(16, k, 2), 16, H, W, labels(16), None, 0).unwrap();
    let mut task = SymbolMapTask::new(train, test, k as usize, 16, 0)
        .unwrap()
        .with_temperature(0.8);
    let m = model(k as usize, 2, None, &ad);
    let before = task.test_nll(&m.valid(), &dev).unwrap();
    let out = tempfile::tempdir().unwrap();
    let report = Trainer::new(out.path())
        .epochs(6)
        .lr(Schedule::Constant(1e-2))
        .num_samples(4)
        .progress(false)
        .fit(&mut task, m, AdamConfig::new().init(), &ad)
        .unwrap();
    let after = report
        .last
        .as_ref()
        .and_then(|r| r.get("test_nll"))
        .unwrap();
    // 16 uniform symbols of 3: 17.6 nats; a striped map carries ln 3 ≈ 1.1 nats.
    assert!(after < before / 2.0, "test NLL {before} → {after}");
    assert!(out.path().join("samples.npy").exists());
    assert!(out.path().join("labels.npy").exists());
    // Samples: labels 0, 1, 0, 1 and symbols in range.
    let mut rng = HostRng::seed_from_u64(0);
    let model = report.model.valid();
    let (maps, used): (Tensor<3, Int>, _) = task.sample_maps(&model, 4, &mut rng, &dev).unwrap();
    assert_eq!(used, Some(vec![0, 1, 0, 1]));
    let values = maps.into_data().try_to_vec_as::<i64>().unwrap();
    assert!(values.iter().all(|&s| (0..k as i64).contains(&s)));
}
