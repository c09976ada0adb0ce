//! The `score_samples` binary: scores `.npy` files exactly as the library does, and refuses
//! files it cannot score with a message that says what to fix.

use std::process::Command;

use burn::tensor::Device;
use deepgen_data::Mnist;
use deepgen_eval::inference::bytes_to_unit;
use deepgen_eval::{COMMITTED_CHECKPOINT, MnistEvaluator};
use deepgen_tensor::{HostRng, write_npy_f32};

fn score(args: &[&std::path::Path]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_score_samples"))
        .args(args)
        .output()
        .expect("score_samples runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn scores_match_the_library_and_bad_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mnist = Mnist::load(None).expect("MNIST is bundled in data/mnist");
    let n = 500;
    let real = bytes_to_unit(&mnist.test.images[..n * 784]);
    let mut rng = HostRng::seed_from_u64(3);
    let noise: Vec<f32> = (0..n * 784).map(|_| rng.uniform() as f32).collect();
    let (p_real, p_noise) = (dir.path().join("real.npy"), dir.path().join("noise.npy"));
    write_npy_f32(&p_real, &[n, 1, 28, 28], &real).unwrap();
    write_npy_f32(&p_noise, &[n, 784], &noise).unwrap();

    let (ok, stdout, stderr) = score(&[&p_real, &p_noise]);
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let eval =
        MnistEvaluator::load_with(&mnist, COMMITTED_CHECKPOINT.as_ref(), &Device::flex()).unwrap();
    let want = eval.frechet_to_test(&real).unwrap();
    let r = &v[p_real.display().to_string()];
    let fd = r["fd"].as_f64().unwrap();
    assert!((fd - want).abs() <= 1e-9 * want.max(1.0), "{fd} vs {want}");
    assert_eq!(r["images"], 500);
    assert!(r["label_balance"].as_f64().unwrap() > 0.95, "{r}");
    let fd_noise = v[p_noise.display().to_string()]["fd"].as_f64().unwrap();
    // 500 test images score ≈ 13 (the estimate's small-sample bias), uniform noise ≈ 970.
    assert!(fd_noise > 20.0 * fd, "noise {fd_noise} vs real {fd}");

    // [-1, 1] pixels, a wrong image size, a missing file: refused, naming the problem.
    let p_signed = dir.path().join("signed.npy");
    let signed: Vec<f32> = real.iter().map(|v| 2.0 * v - 1.0).collect();
    write_npy_f32(&p_signed, &[n, 784], &signed).unwrap();
    let p_shape = dir.path().join("shape.npy");
    write_npy_f32(&p_shape, &[n, 1, 32, 32], &vec![0.5; n * 1024]).unwrap();
    for (path, needle) in [
        (p_signed, "in [0, 1]"),
        (p_shape, "784 pixels"),
        (dir.path().join("missing.npy"), "missing.npy"),
    ] {
        let (ok, _, stderr) = score(&[&path]);
        assert!(
            !ok && stderr.contains(needle),
            "{}: {stderr}",
            path.display()
        );
    }
}
