//! The VAE example's failure modes: each is one actionable line on stderr and exit code 1,
//! never a panic. Runs the example binary that `cargo test` builds beside the tests.

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

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "deepgen-example-errors-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs the example and returns stderr, asserting exit code 1 and no panic.
fn fails(args: &[&str]) -> String {
    let out = Command::new(example("vae"))
        .args(args)
        .env("DEEPGEN_NO_DOWNLOAD", "1")
        .env_remove("DEEPGEN_DEVICE")
        .env_remove("DEEPGEN_DATA")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "args {args:?}: stderr {stderr}");
    assert!(
        !stderr.contains("panicked"),
        "args {args:?} panicked: {stderr}"
    );
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got {stderr}");
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

#[cfg(not(feature = "wgpu"))]
#[test]
fn backend_not_compiled_names_the_feature() {
    let e = fails(&["--device", "wgpu"]);
    assert!(e.contains("--features wgpu"), "{e}");
}

#[test]
fn missing_data_directory() {
    let dir = temp("missing").join("nope");
    let e = fails(&[
        "--data",
        dir.to_str().unwrap(),
        "--out",
        temp("missing-out").to_str().unwrap(),
    ]);
    assert!(e.contains("nope"), "{e}");
}

#[test]
fn corrupted_data_file() {
    let dir = temp("corrupt");
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
        temp("corrupt-out").to_str().unwrap(),
    ]);
    assert!(e.contains("train-images-idx3-ubyte.gz"), "{e}");
}

#[test]
fn invalid_flag_values() {
    let e = fails(&["--batch-size", "0", "--out", temp("bs0").to_str().unwrap()]);
    assert!(e.contains("batch-size"), "{e}");
}

#[test]
fn invalid_vae_objectives_name_the_flag() {
    let e = fails(&["--iw-samples", "0", "--out", temp("iw0").to_str().unwrap()]);
    assert!(e.contains("iw-samples"), "{e}");
    let e = fails(&[
        "--iw-samples",
        "5",
        "--kl",
        "free-bits:0.1",
        "--out",
        temp("iwfb").to_str().unwrap(),
    ]);
    assert!(e.contains("iw-samples") && e.contains("free bits"), "{e}");
    let e = fails(&["--bn-gamma=-1", "--out", temp("bn").to_str().unwrap()]);
    assert!(e.contains("bn-gamma"), "{e}");
}
