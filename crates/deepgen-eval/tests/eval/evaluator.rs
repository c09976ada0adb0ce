//! The committed classifier on the real MNIST data (inference only).
//!
//! One evaluator is loaded per test process (test stats of 10 000 images and
//! the cached floor) and shared by all tests; each test measures one property.

use std::sync::OnceLock;

use burn::tensor::Device;
use deepgen_data::Mnist;
use deepgen_eval::inference::bytes_to_unit;
use deepgen_eval::{COMMITTED_CHECKPOINT, MnistEvaluator, feature_stats, frechet_distance};
use deepgen_tensor::HostRng;

struct Fixture {
    mnist: Mnist,
    eval: MnistEvaluator,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let mnist = Mnist::load(None).expect("MNIST is bundled in data/mnist");
        let eval =
            MnistEvaluator::load_with(&mnist, COMMITTED_CHECKPOINT.as_ref(), &Device::flex())
                .expect("the committed checkpoint data/models/mnist_classifier.bpk loads");
        Fixture { mnist, eval }
    })
}

fn test_images() -> Vec<f32> {
    bytes_to_unit(&fixture().mnist.test.images)
}

#[test]
fn committed_classifier_reaches_99_percent() {
    let f = fixture();
    let acc = f.eval.test_accuracy(&f.mnist).unwrap();
    println!("test accuracy {acc:.4}");
    assert!(
        acc >= 0.99,
        "committed classifier test accuracy {acc} < 0.99"
    );
}

#[test]
fn label_stats_of_the_test_set_follow_its_labels() {
    let f = fixture();
    let images = test_images();
    let stats = f.eval.label_stats(&images).unwrap();
    // The true label histogram, counted independently from the IDX labels.
    let mut want = [0.0f64; 10];
    for &l in &f.mnist.test.labels {
        want[l as usize] += 1.0 / 10_000.0;
    }
    // A ≥ 99 % classifier moves at most 1 % of the mass between classes.
    let moved: f64 = stats
        .histogram
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .sum::<f64>()
        / 2.0;
    let entropy: f64 = -stats
        .histogram
        .iter()
        .map(|&p| if p > 0.0 { p * p.ln() } else { 0.0 })
        .sum::<f64>();
    println!(
        "label stats: moved mass {moved:.4}, entropy {:.4} (recomputed {entropy:.4}), balance {:.4}, confidence {:.4}",
        stats.entropy, stats.balance, stats.mean_confidence
    );
    assert!(
        moved <= 0.01,
        "histogram {:?} vs labels {want:?}",
        stats.histogram
    );
    assert!((stats.histogram.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    assert!((stats.entropy - entropy).abs() < 1e-12);
    assert!((stats.balance - entropy / 10f64.ln()).abs() < 1e-12);
    // MNIST's classes are nearly balanced (entropy 2.3010 of ln 10 = 2.3026 for the labels).
    assert!(stats.balance > 0.998, "{}", stats.balance);
    assert!(stats.mean_confidence > 0.97, "{}", stats.mean_confidence);

    // Uniform noise: far less confident than real digits.
    let mut rng = HostRng::seed_from_u64(12);
    let noise: Vec<f32> = (0..1000 * 784).map(|_| rng.uniform() as f32).collect();
    let noisy = f.eval.label_stats(&noise).unwrap();
    println!(
        "noise: confidence {:.4}, balance {:.4}",
        noisy.mean_confidence, noisy.balance
    );
    assert!(noisy.mean_confidence < stats.mean_confidence);
    assert!(f.eval.label_stats(&images[..100]).is_err());
}

#[test]
fn label_accuracy_true_vs_shuffled_labels() {
    let f = fixture();
    let images = test_images();
    let labels = &f.mnist.test.labels;
    let acc = f.eval.label_accuracy(&images, labels).unwrap();
    assert!(acc >= 0.99, "label accuracy with true labels {acc}");

    // Shuffled labels: agreement ≈ Σ_c p_c² ≈ 0.1 for MNIST's near-uniform
    // classes. With 10 000 images the standard deviation is ≈ 0.003, so
    // [0.08, 0.12] is > 6σ wide on each side.
    let mut shuffled = labels.clone();
    HostRng::seed_from_u64(11).shuffle(&mut shuffled);
    let chance = f.eval.label_accuracy(&images, &shuffled).unwrap();
    println!("label accuracy: true labels {acc:.4}, shuffled {chance:.4}");
    assert!(
        (0.08..=0.12).contains(&chance),
        "shuffled-label accuracy {chance}"
    );
}

#[test]
fn frechet_of_test_set_to_itself_is_zero_and_floor_is_small() {
    let f = fixture();
    let fd = f.eval.frechet_to_test(&test_images()).unwrap();
    let scale: f64 = {
        let s = f.eval.test_stats();
        (0..s.dim).map(|i| s.cov[i * s.dim + i]).sum()
    };
    println!(
        "FD(test, test) = {fd:.3e}; tr Σ_test = {scale:.3}; floor = {:.4}",
        f.eval.floor()
    );
    // Same features, same statistics: only the eigensolver's rounding remains
    // (clamped near-zero eigenvalues contribute ~sqrt(ε)·scale at most).
    assert!(fd.abs() < 1e-6 * scale, "FD(test, test) = {fd}");
    // The floor: real training images are close to, but not exactly, the test distribution.
    let floor = f.eval.floor();
    assert!(floor > 0.0, "floor {floor} must be positive");
    assert!(
        floor < 0.02 * scale,
        "floor {floor} is not small against tr Σ = {scale}"
    );
}

#[test]
fn floor_matches_a_fresh_computation_on_other_training_images() {
    // Guards the cached floor: FD of a *different* 10 000 training images
    // (the last ones) against the test set is of the same size.
    let f = fixture();
    let train = &f.mnist.train;
    let n = 10_000;
    let start = train.len() - n;
    let images = bytes_to_unit(&train.images[start * 784..]);
    let fd = f.eval.frechet_to_test(&images).unwrap();
    println!(
        "FD(last 10k train, test) = {fd:.4}; floor = {:.4}",
        f.eval.floor()
    );
    let floor = f.eval.floor();
    assert!(
        fd > 0.5 * floor && fd < 2.0 * floor,
        "FD {fd} vs floor {floor}"
    );
}

#[test]
fn uniform_noise_is_far_above_the_floor() {
    let f = fixture();
    let mut rng = HostRng::seed_from_u64(5);
    let noise: Vec<f32> = (0..5_000 * 784).map(|_| rng.uniform() as f32).collect();
    let fd = f.eval.frechet_to_test(&noise).unwrap();
    println!(
        "FD(uniform noise, test) = {fd:.3}; floor = {:.4}",
        f.eval.floor()
    );
    assert!(
        fd > 50.0 * f.eval.floor(),
        "noise FD {fd} vs floor {}",
        f.eval.floor()
    );
}

#[test]
fn frechet_to_test_agrees_with_the_plain_functions() {
    // The evaluator's path (batched features → stats → FD) equals computing
    // the pieces by hand on 1 000 test images.
    let f = fixture();
    let images = &test_images()[..1_000 * 784];
    let feats = f.eval.features(images).unwrap();
    let stats = feature_stats(&feats, 1_000, 128).unwrap();
    let by_hand = frechet_distance(&stats, f.eval.test_stats()).unwrap();
    let direct = f.eval.frechet_to_test(images).unwrap();
    assert!(
        (by_hand - direct).abs() <= 1e-12 * by_hand.abs().max(1.0),
        "{by_hand} vs {direct}"
    );
}

#[test]
fn load_finds_the_committed_checkpoint_and_its_cache() {
    // `MnistEvaluator::load` searches $DEEPGEN_CLASSIFIER first; only when it
    // is unset must it arrive at the committed file (and read the same floor).
    if std::env::var_os(deepgen_eval::CLASSIFIER_ENV).is_some_and(|v| !v.is_empty()) {
        println!("DEEPGEN_CLASSIFIER is set: skipping the committed-path check");
        return;
    }
    let eval = MnistEvaluator::load(&Device::flex()).unwrap();
    let want = std::path::Path::new(COMMITTED_CHECKPOINT);
    assert_eq!(eval.checkpoint_path(), Some(want));
    assert_eq!(eval.floor(), fixture().eval.floor());
    assert_eq!(eval.test_stats(), fixture().eval.test_stats());
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let f = fixture();
    let err = f.eval.classify(&[0.5; 100]).unwrap_err();
    assert!(err.to_string().contains("784"), "{err}");
    let err = f.eval.label_accuracy(&[0.5; 784 * 2], &[1]).unwrap_err();
    assert!(err.to_string().contains("requested_labels"), "{err}");
    let mut nan = vec![0.5f32; 784 * 3];
    nan[5] = f32::NAN;
    assert!(f.eval.frechet_to_test(&nan).is_err());
    assert!(
        f.eval.frechet_to_test(&[0.5; 784]).is_err(),
        "one image has no covariance"
    );
}
