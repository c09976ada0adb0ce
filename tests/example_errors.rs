//! The examples' failure modes (vae; the flow, diffusion and VQ examples at the end): each is one actionable line on stderr and exit code 1,
//! never a panic; a flag out of its range is rejected by clap itself (exit code 2, the flag
//! named, before anything runs). Runs the example binary that `cargo test` builds beside the
//! tests.

use std::path::PathBuf;
use std::process::Command;

fn example(name: &str) -> PathBuf {
    // target/<profile>/deps/example_errors-… → target/<profile>/examples/<name>
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let path = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} not built (cargo test builds examples)",
        path.display()
    );
    path
}

/// A fresh directory `name` inside the test's temporary directory.
fn temp(tmp: &tempfile::TempDir, name: &str) -> PathBuf {
    let d = tmp.path().join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs the example and returns stderr, asserting exit code 1 and no panic.
fn fails(args: &[&str]) -> String {
    fails_with(args, 1)
}

/// Runs the example and returns stderr, asserting exit code `code`, no panic and a first line
/// starting with `error: ` (one line for deepgen's own errors, code 1).
fn fails_with(args: &[&str], code: i32) -> String {
    let out = Command::new(example("vae"))
        .args(args)
        .env("DEEPGEN_NO_DOWNLOAD", "1")
        .env_remove("DEEPGEN_DEVICE")
        .env_remove("DEEPGEN_DATA")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(code),
        "args {args:?}: stderr {stderr}"
    );
    assert!(
        !stderr.contains("panicked"),
        "args {args:?} panicked: {stderr}"
    );
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    if code == 1 {
        assert_eq!(lines.len(), 1, "expected one line, got {stderr}");
    }
    assert!(lines[0].starts_with("error: "), "{stderr}");
    stderr
}

#[test]
fn unknown_device() {
    let e = fails(&["--device", "tpu"]);
    assert!(
        e.contains("tpu") && e.contains("flex, ndarray, wgpu, wgpu-cpu"),
        "{e}"
    );
}

#[test]
fn missing_data_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = temp(&tmp, "missing").join("nope");
    let e = fails(&[
        "--data",
        dir.to_str().unwrap(),
        "--out",
        temp(&tmp, "missing-out").to_str().unwrap(),
    ]);
    assert!(e.contains("nope"), "{e}");
}

#[test]
fn corrupted_data_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = temp(&tmp, "corrupt");
    let bundled = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    for f in [
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ] {
        std::fs::copy(bundled.join(f), dir.join(f)).unwrap();
    }
    // A truncated training-image file: the gzip stream ends early.
    let bytes = std::fs::read(bundled.join("train-images-idx3-ubyte.gz")).unwrap();
    std::fs::write(
        dir.join("train-images-idx3-ubyte.gz"),
        &bytes[..bytes.len() / 3],
    )
    .unwrap();
    let e = fails(&[
        "--data",
        dir.to_str().unwrap(),
        "--out",
        temp(&tmp, "corrupt-out").to_str().unwrap(),
    ]);
    assert!(e.contains("train-images-idx3-ubyte.gz"), "{e}");
}

#[test]
fn invalid_flag_values() {
    let tmp = tempfile::tempdir().unwrap();
    // Rejected by clap's range check (exit code 2), naming the flag and the bound.
    let e = fails_with(
        &[
            "--batch-size",
            "0",
            "--out",
            temp(&tmp, "bs0").to_str().unwrap(),
        ],
        2,
    );
    assert!(
        e.contains("--batch-size") && e.contains("at least 1"),
        "{e}"
    );
    let e = fails_with(
        &["--ema", "1", "--out", temp(&tmp, "ema1").to_str().unwrap()],
        2,
    );
    assert!(e.contains("--ema"), "{e}");
}

#[test]
fn invalid_vae_objectives_name_the_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let e = fails(&[
        "--iw-samples",
        "0",
        "--out",
        temp(&tmp, "iw0").to_str().unwrap(),
    ]);
    assert!(e.contains("iw-samples"), "{e}");
    let e = fails(&[
        "--iw-samples",
        "5",
        "--kl",
        "free-bits:0.1",
        "--out",
        temp(&tmp, "iwfb").to_str().unwrap(),
    ]);
    assert!(e.contains("iw-samples") && e.contains("free bits"), "{e}");
    let e = fails(&["--bn-gamma=-1", "--out", temp(&tmp, "bn").to_str().unwrap()]);
    assert!(e.contains("bn-gamma"), "{e}");
}

/// Runs example `name` with `args`; returns its exit code and stderr, asserting no panic.
fn run_example(name: &str, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(example(name))
        .args(args)
        .env("DEEPGEN_NO_DOWNLOAD", "1")
        .env_remove("DEEPGEN_DEVICE")
        .env_remove("DEEPGEN_DATA")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !stderr.contains("panicked"),
        "{name} {args:?} panicked: {stderr}"
    );
    (out.status.code(), stderr)
}

/// Runs example `name` with `args` and `--out out`, asserting exit code 1 and one `error:` line
/// that mentions `flag`.
fn one_line_error(name: &str, args: &[&str], out: &std::path::Path, flag: &str) {
    let mut all = args.to_vec();
    all.extend(["--out", out.to_str().unwrap()]);
    let (code, err) = run_example(name, &all);
    assert_eq!(code, Some(1), "{name} {args:?}: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "{name} {args:?}: expected one line, got {err}"
    );
    assert!(
        lines[0].starts_with("error: ") && err.contains(flag),
        "{name} {args:?}: {err}"
    );
}

#[test]
fn flow_examples_reject_bad_flags_and_missing_data_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    // An unknown density is rejected by clap (exit 2), naming the choices.
    let (code, err) = run_example("flows_2d", &["--density", "nope", "--out", "/dev/null/x"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("checkerboard") && err.contains("8gaussians"),
        "{err}"
    );
    let (code, err) = run_example("flows_2d", &["--flow", "glowish"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("realnvp") && err.contains("spline"), "{err}");
    // A data directory without MNIST: one `error:` line, exit 1, for each MNIST example.
    let empty = temp(&tmp, "empty");
    for name in ["glow_mnist", "realnvp_mnist", "fvae_mnist"] {
        let out = temp(&tmp, name);
        let (code, err) = run_example(
            name,
            &[
                "--data",
                empty.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
        );
        assert_eq!(code, Some(1), "{name}: {err}");
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{name}: expected one line, got {err}");
        assert!(lines[0].starts_with("error: "), "{name}: {err}");
    }
}

#[test]
fn ddpm_mnist_rejects_bad_flags_and_missing_data_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    // Choices and number formats are clap's (exit 2, the flag named).
    let (code, err) = run_example("ddpm_mnist", &["--prediction", "noise"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("eps") && err.contains("x0") && err.contains('v'),
        "{err}"
    );
    let (code, err) = run_example("ddpm_mnist", &["--schedule", "sigmoidal"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("linear") && err.contains("cosine"), "{err}");
    let (code, err) = run_example("ddpm_mnist", &["--ddim-steps", "50,x"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("ddim-steps"), "{err}");
    let (code, err) = run_example("ddpm_mnist", &["--spacing", "uniform"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("spacing") && err.contains("leading") && err.contains("linspace"),
        "{err}"
    );
    // Values out of range: one `error:` line naming the flag, exit 1, before any data loads.
    for (args, flag) in [
        (&["--ddpm-steps", "2000"][..], "ddpm-steps"),
        (&["--timesteps", "0"][..], "timesteps"),
        (&["--dpm-steps", "0"][..], "dpm-steps"),
        (&["--min-snr-gamma=-5"][..], "min-snr-gamma"),
        (&["--nll-timesteps", "0"][..], "nll-timesteps"),
        (&["--fd-samples", "1"][..], "fd-samples"),
    ] {
        let out = temp(&tmp, flag);
        let mut all = args.to_vec();
        all.extend(["--out", out.to_str().unwrap()]);
        let (code, err) = run_example("ddpm_mnist", &all);
        assert_eq!(code, Some(1), "{args:?}: {err}");
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{args:?}: expected one line, got {err}");
        assert!(
            lines[0].starts_with("error: ") && err.contains(flag),
            "{args:?}: {err}"
        );
    }
    // A data directory without MNIST.
    let empty = temp(&tmp, "empty");
    let out = temp(&tmp, "ddpm");
    let (code, err) = run_example(
        "ddpm_mnist",
        &[
            "--data",
            empty.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(1), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
}

#[test]
fn ddpm_2d_and_guidance_flags_reject_bad_values_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    // An unknown density is clap's (exit 2), naming the choices.
    let (code, err) = run_example("ddpm_2d", &["--density", "nope", "--out", "/dev/null/x"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("checkerboard") && err.contains("8gaussians"),
        "{err}"
    );
    // Values out of range, and conditioning flags without --class-conditional: one `error:`
    // line naming the flag, exit 1, before anything trains.
    for (name, args, flag) in [
        ("ddpm_2d", &["--eval-samples", "1"][..], "eval-samples"),
        ("ddpm_2d", &["--ddpm-steps", "2000"][..], "ddpm-steps"),
        ("ddpm_2d", &["--hidden", "64,0"][..], "hidden"),
        ("ddpm_mnist", &["--guidance", "2"][..], "guidance"),
        (
            "ddpm_mnist",
            &["--class-conditional", "--class", "12"][..],
            "class",
        ),
        (
            "ddpm_mnist",
            &["--class-conditional", "--label-dropout", "1.5"][..],
            "label-dropout",
        ),
    ] {
        let out = temp(&tmp, &format!("{name}-{flag}"));
        one_line_error(name, args, &out, flag);
    }
}

#[test]
fn vq_examples_reject_bad_flags_and_missing_data_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = temp(&tmp, "empty");
    for (name, args, flag) in [
        (
            "vqvae",
            &["--codebook-update", "kmeans"][..],
            "codebook-update",
        ),
        ("vqvae", &["--num-codes", "1"][..], "num-codes"),
        ("vqvae", &["--ema-decay", "1.5"][..], "ema-decay"),
        ("vqvae", &["--class", "3"][..], "class"),
        ("vqvae2", &["--temperature", "0"][..], "temperature"),
        (
            "vqvae2",
            &["--prior-kernel-size", "4"][..],
            "prior-kernel-size",
        ),
        ("pixelcnn_mnist", &["--kernel-size", "2"][..], "kernel-size"),
        (
            "pixelcnn_mnist",
            &["--class-conditional", "--class", "10"][..],
            "class",
        ),
        (
            "vqvae",
            &["--data", empty.to_str().unwrap()][..],
            "train-images",
        ),
        (
            "vqvae2",
            &["--data", empty.to_str().unwrap()][..],
            "train-images",
        ),
        (
            "pixelcnn_mnist",
            &["--data", empty.to_str().unwrap()][..],
            "train-images",
        ),
    ] {
        let out = temp(&tmp, &format!("{name}-{flag}"));
        one_line_error(name, args, &out, flag);
    }
}
