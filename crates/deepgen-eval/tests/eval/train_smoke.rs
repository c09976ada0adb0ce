//! A short training run on a slice of real MNIST: the loop learns, the
//! callback sees every epoch, and the result plugs into the evaluator.

use burn::tensor::Device;
use deepgen_data::Mnist;
use deepgen_eval::inference::bytes_to_unit;
use deepgen_eval::{ClassifierTrainConfig, EpochReport, MnistEvaluator, train_classifier_with};

#[test]
fn two_short_epochs_learn_far_above_chance() {
    let full = Mnist::load(None).expect("MNIST is bundled in data/mnist");
    let mnist = Mnist {
        train: full.train.subset(3_000),
        test: full.test.subset(1_000),
        source: full.source.clone(),
    };
    let device = Device::flex();
    let cfg = ClassifierTrainConfig::new()
        .with_epochs(2)
        .with_max_shift(1)
        .with_seed(3);
    let mut reports: Vec<EpochReport> = Vec::new();
    let (model, acc) =
        train_classifier_with(&mnist, &cfg, &device, |r| reports.push(r.clone())).unwrap();
    println!("{reports:#?}");
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[1].test_accuracy, acc);
    assert!(
        (reports[1].learning_rate - 0.5e-3).abs() < 1e-15,
        "lr decays by lr_decay"
    );
    // Measured (seed 3, flex): 84.1 % after epoch 1, 89.5 % after epoch 2;
    // chance is 10 %. 0.6 leaves room for seed and backend variation while
    // catching a loop that does not learn (wrong labels, no optimizer step,
    // wrong gradients).
    assert!(acc > 0.6, "test accuracy after the short run: {acc}");
    assert!(
        reports[1].train_loss < reports[0].train_loss,
        "training loss decreases"
    );

    let eval = MnistEvaluator::from_classifier(model, &mnist, &device).unwrap();
    assert_eq!(eval.checkpoint_path(), None);
    assert!((eval.test_accuracy(&mnist).unwrap() - acc).abs() < 1e-12);
    let floor = eval.floor();
    assert!(floor.is_finite() && floor > 0.0, "floor {floor}");
    let fd_self = eval
        .frechet_to_test(&bytes_to_unit(&mnist.test.images))
        .unwrap();
    let s = eval.test_stats();
    let trace: f64 = (0..s.dim).map(|i| s.cov[i * s.dim + i]).sum();
    assert!(
        fd_self.abs() < 1e-6 * trace,
        "FD(test, test) = {fd_self}, tr Σ = {trace}"
    );
}

#[test]
fn invalid_training_config_is_rejected_before_any_work() {
    let full = Mnist::load(None).expect("MNIST is bundled in data/mnist");
    let cfg = ClassifierTrainConfig::new().with_batch_size(0);
    let err = deepgen_eval::train_classifier(&full, &cfg, &Device::flex()).unwrap_err();
    assert!(err.to_string().contains("batch_size"), "{err}");
}
