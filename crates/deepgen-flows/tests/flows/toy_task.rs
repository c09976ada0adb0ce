//! The 2-D toy-density task (`deepgen_flows::tasks::toy`): its evaluation against independent
//! host computations (an identity flow's NLL is the standard-normal NLL; `true_nll` of
//! 8 gaussians and checkerboard from their formulas), a short fit that learns, and
//! reproducibility (same seed, same metrics; resume = uninterrupted).

use std::f64::consts::{PI, SQRT_2};
use std::path::{Path, PathBuf};

use burn::optim::AdamConfig;
use burn::tensor::Device;
use deepgen_data::ToyDensity;
use deepgen_flows::CouplingFlowConfig;
use deepgen_flows::tasks::toy::{ToyFlowConfig, ToyFlowKind, ToyFlowTask, mean_true_nll};
use deepgen_tensor::HostRng;
use deepgen_train::metrics::MetricsRecord;
use deepgen_train::{Schedule, Task, Trainer};

fn out_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("deepgen-toy-task-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn get(values: &[(String, f64)], name: &str) -> f64 {
    values
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("{name} missing in {values:?}"))
        .1
}

/// `ln N(x; 0, I)` in 2-D, in f64.
fn std_normal_log_pdf(p: [f64; 2]) -> f64 {
    -0.5 * (p[0] * p[0] + p[1] * p[1]) - (2.0 * PI).ln()
}

#[test]
fn identity_flow_test_nll_is_the_standard_normal_nll() {
    let _serial = crate::common::serial();
    let dev = Device::flex();
    dev.seed(3);
    // Zero-initialised conditioners and scaling: every flow below starts as the identity.
    for kind in [ToyFlowKind::Nice, ToyFlowKind::RealNvp, ToyFlowKind::Spline] {
        let mut cfg = ToyFlowConfig::new(kind);
        cfg.layers = 4;
        cfg.hidden = vec![16];
        let flow = cfg.try_init(&dev).unwrap();
        let mut task = ToyFlowTask::new(ToyDensity::EightGaussians, 64, 10, 7)
            .unwrap()
            .with_test_points(3_000)
            .unwrap()
            .with_eval_batch(700)
            .unwrap();
        let host: f64 = -task
            .test_points()
            .iter()
            .map(|&p| std_normal_log_pdf(p))
            .sum::<f64>()
            / 3_000.0;
        let m = task.evaluate(&flow, &dev).unwrap();
        let test_nll = get(&m, "test_nll");
        eprintln!("{kind}: test_nll {test_nll:.6}, host N(0, I) NLL {host:.6}");
        assert!((test_nll - host).abs() < 1e-4 * host.abs(), "{kind}");
        // 8 gaussians is analytic: true_nll and the gap come with it.
        let t = get(&m, "true_nll");
        assert!((get(&m, "nll_gap") - (test_nll - t)).abs() < 1e-12);
    }
}

/// The exact 8-gaussians log-density, written out independently of `deepgen-data`: centres
/// `2√2 (cos kπ/4, sin kπ/4)`, σ = √2/4.
fn eight_gaussians_log_pdf(x: [f64; 2]) -> f64 {
    let (r, s) = (2.0 * SQRT_2, SQRT_2 / 4.0);
    let mix: f64 = (0..8)
        .map(|k| {
            let a = k as f64 * PI / 4.0;
            let d2 = (x[0] - r * a.cos()).powi(2) + (x[1] - r * a.sin()).powi(2);
            (-d2 / (2.0 * s * s)).exp() / (2.0 * PI * s * s)
        })
        .sum::<f64>()
        / 8.0;
    mix.ln()
}

#[test]
fn true_nll_matches_the_analytic_values() {
    let _serial = crate::common::serial();
    // Checkerboard: uniform on 8 black squares of side 2 (FFJORD's board on [−4, 4)²), so the
    // density is 1/32 on its support and the true NLL of any of its points is ln 32 ≈ 3.4657
    // (not ln 8: the squares are 2 × 2).
    let task = ToyFlowTask::new(ToyDensity::Checkerboard, 8, 1, 11).unwrap();
    let t = task.true_nll().unwrap();
    assert!((t - 32f64.ln()).abs() < 1e-12, "checkerboard true NLL {t}");
    for &p in task.test_points() {
        let (i, j) = ((p[0] / 2.0).floor() as i64, (p[1] / 2.0).floor() as i64);
        assert!(
            (-2..2).contains(&i) && (-2..2).contains(&j) && (i + j) % 2 == 0,
            "{p:?}"
        );
    }

    // 8 gaussians: the mean of the independent formula over the same points, and (the
    // components are ≈ 6σ apart) ≈ the entropy ln 8 + ln(2πeσ²) = 2.8381 within Monte Carlo
    // error (sd of −ln p ≈ 1 → 3·1/√20000 ≈ 0.02).
    let task = ToyFlowTask::new(ToyDensity::EightGaussians, 8, 1, 11).unwrap();
    let t = task.true_nll().unwrap();
    let n = task.test_points().len() as f64;
    let host = -task
        .test_points()
        .iter()
        .map(|&p| eight_gaussians_log_pdf(p))
        .sum::<f64>()
        / n;
    let entropy = 8f64.ln() + (2.0 * PI * std::f64::consts::E * 0.125).ln();
    eprintln!("8gaussians: true_nll {t:.6}, independent {host:.6}, entropy ≈ {entropy:.4}");
    assert!((t - host).abs() < 1e-9);
    assert!((t - entropy).abs() < 0.03);

    // Non-analytic densities have none.
    let task = ToyFlowTask::new(ToyDensity::TwoMoons, 8, 1, 11).unwrap();
    assert!(task.true_nll().is_none());
    assert!(mean_true_nll(ToyDensity::TwoMoons, task.test_points()).is_none());
}

/// A small RealNVP trained by the shared loop: `epochs` epochs of `steps` steps of 256 points
/// of 8 gaussians, into `out`.
fn small_fit(out: &Path, epochs: usize, steps: usize, resume: bool) -> Vec<MetricsRecord> {
    let dev = Device::flex().autodiff();
    dev.seed(5);
    let model = CouplingFlowConfig::realnvp(2, 4)
        .with_hidden(vec![32, 32])
        .with_actnorm(true)
        .init(&dev);
    let mut task = ToyFlowTask::new(ToyDensity::EightGaussians, 256, steps, 5)
        .unwrap()
        .with_test_points(4_000)
        .unwrap();
    Trainer::new(out)
        .epochs(epochs)
        .seed(5)
        .lr(Schedule::Constant(3e-3))
        .num_samples(100)
        .progress(false)
        .resume(resume)
        .fit(&mut task, model, AdamConfig::new().init(), &dev)
        .unwrap();
    let text = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    text.lines()
        .map(|l| MetricsRecord::from_json_line(l).unwrap())
        .collect()
}

/// Every value except the timings.
fn untimed(r: &MetricsRecord) -> Vec<(String, f64)> {
    r.values
        .iter()
        .filter(|(n, _)| !n.ends_with("_s") && !n.ends_with("_per_s"))
        .cloned()
        .collect()
}

#[test]
fn short_fit_learns_and_is_reproducible() {
    let _serial = crate::common::serial();
    // Before training: the identity-like flow (ActNorm not yet initialised) on 8 gaussians.
    let dev = Device::flex();
    dev.seed(5);
    let untrained = CouplingFlowConfig::realnvp(2, 4)
        .with_hidden(vec![32, 32])
        .init(&dev);
    let mut probe = ToyFlowTask::new(ToyDensity::EightGaussians, 256, 1, 5)
        .unwrap()
        .with_test_points(4_000)
        .unwrap();
    let before = get(&probe.evaluate(&untrained, &dev).unwrap(), "test_nll");

    let a = out_dir("a");
    let run_a = small_fit(&a, 2, 150, false);
    let last = run_a.last().unwrap();
    let after = last.get("test_nll").unwrap();
    let true_nll = last.get("true_nll").unwrap();
    eprintln!("8gaussians, 300 steps: test_nll {before:.3} → {after:.3} (true {true_nll:.3})");
    assert!(before - after > 1.5, "test_nll {before} → {after}");
    assert!(
        after > true_nll - 0.05,
        "below the true NLL: {after} < {true_nll}"
    );
    assert!(last.get("nll_gap").unwrap() < 1.0);
    // train_loss = train_base_nll − train_log_det (epoch means of per-batch values).
    let (l, b, d) = (
        last.get("train_loss").unwrap(),
        last.get("train_base_nll").unwrap(),
        last.get("train_log_det").unwrap(),
    );
    assert!((l - (b - d)).abs() < 1e-4, "{l} vs {b} − {d}");
    // samples.npy: [100, 2] points.
    let (shape, pts) = deepgen_tensor::output::read_npy_f32(&a.join("samples.npy")).unwrap();
    assert_eq!(shape, vec![100, 2]);
    assert!(pts.iter().all(|v| v.is_finite()));

    // Same seed → identical metrics.
    let b_dir = out_dir("b");
    let run_b = small_fit(&b_dir, 2, 150, false);
    assert_eq!(run_a.len(), run_b.len());
    for (ra, rb) in run_a.iter().zip(&run_b) {
        assert_eq!(untimed(ra), untimed(rb));
    }

    // Resume: one epoch, then resume to two = the uninterrupted run.
    let c = out_dir("c");
    small_fit(&c, 1, 150, false);
    let run_c = small_fit(&c, 2, 150, true);
    assert_eq!(untimed(run_c.last().unwrap()), untimed(last));
    for d in [a, b_dir, c] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn training_batches_are_fresh_and_seeded() {
    let _serial = crate::common::serial();
    let dev = Device::flex();
    let mut task = ToyFlowTask::new(ToyDensity::Checkerboard, 32, 4, 0).unwrap();
    let draw = |task: &mut ToyFlowTask| {
        let mut rng = HostRng::seed_from_u64(9);
        let a = task.train_batch(0, 0, &mut rng, &dev);
        let b = task.train_batch(0, 1, &mut rng, &dev);
        (
            a.into_data().try_to_vec::<f32>().unwrap(),
            b.into_data().try_to_vec::<f32>().unwrap(),
        )
    };
    let (a1, b1) = draw(&mut task);
    let (a2, b2) = draw(&mut task);
    assert_eq!(a1.len(), 64);
    assert_eq!((&a1, &b1), (&a2, &b2), "same rng, same batches");
    assert_ne!(a1, b1, "each step draws fresh points");
}

#[test]
fn flow_kinds_parse_and_build() {
    let _serial = crate::common::serial();
    let dev = Device::flex();
    for kind in ToyFlowKind::ALL {
        assert_eq!(kind.name().parse::<ToyFlowKind>().unwrap(), kind);
        let mut cfg = ToyFlowConfig::new(kind);
        cfg.layers = 2;
        cfg.hidden = vec![8];
        cfg.actnorm = true;
        let flow = cfg.try_init(&dev).unwrap();
        assert!(!flow.steps.is_empty(), "{kind}");
    }
    let err = "glow".parse::<ToyFlowKind>().unwrap_err();
    assert!(err.contains("nice, realnvp, maf, spline"), "{err}");
    let mut cfg = ToyFlowConfig::new(ToyFlowKind::RealNvp);
    cfg.layers = 0;
    assert!(cfg.try_init(&dev).is_err());
}
