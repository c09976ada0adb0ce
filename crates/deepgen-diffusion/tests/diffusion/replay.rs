//! Harnesses (ignored: run on demand) that let `benches/pytorch/ddpm_mnist.py` train on exactly
//! what `ddpm_mnist` trains on, to tell an implementation difference from a different draw of
//! the random numbers (docs/diffusion.md, "Where the 6.5 k-step gap comes from"):
//!
//! ```sh
//! mkfifo /tmp/batches
//! DEEPGEN_REPLAY_FIFO=/tmp/batches DEEPGEN_REPLAY_EPOCHS=28 \
//!   cargo test --release --test diffusion replay::stream_training_batches -- --ignored &
//! python benches/pytorch/ddpm_mnist.py --steps 6552 --batches-from /tmp/batches ...
//! DEEPGEN_REPLAY_CONFIG=runs/ddpm_mnist/model_config.json DEEPGEN_REPLAY_INIT=init \
//!   cargo test --release --test diffusion replay::export_initial_weights -- --ignored
//! python benches/pytorch/ddpm_mnist.py --init-params init ...
//! ```
//!
//! The batches are those of `MnistDiffusionTask::train_batch` with the trainer's per-epoch
//! stream (`HostRng::stream(seed, Stream::Epoch(e))`), so they equal what
//! `ddpm_mnist --seed S` (default flags: batch 64, 15 000 images per epoch) trains on.

use std::io::Write;
use std::path::PathBuf;

use burn::config::Config;
use burn::tensor::Device;
use deepgen_data::Mnist;
use deepgen_diffusion::DiffusionModelConfig;
use deepgen_diffusion::tasks::mnist::MnistDiffusionTask;
use deepgen_tensor::{HostRng, Stream};
use deepgen_train::Task;

fn env<T: std::str::FromStr>(name: &str, default: Option<T>) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} does not parse")),
        Err(_) => default.unwrap_or_else(|| panic!("set {name}")),
    }
}

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist")
}

/// Writes every training batch of `DEEPGEN_REPLAY_EPOCHS` epochs (seed `DEEPGEN_REPLAY_SEED`,
/// default 0; `DEEPGEN_REPLAY_TRAIN_IMAGES` per epoch, default 15 000; batch 64) to the file
/// or FIFO `DEEPGEN_REPLAY_FIFO`: per step x0 and noise (`[64, 1, 28, 28]` f32) and t (`[64]`
/// i64), little-endian — `BatchStream` in the PyTorch script reads them.
#[test]
#[ignore = "a harness for benches/pytorch/ddpm_mnist.py --batches-from; run on demand"]
fn stream_training_batches() {
    let path: String = env("DEEPGEN_REPLAY_FIFO", None);
    let epochs: usize = env("DEEPGEN_REPLAY_EPOCHS", None);
    let seed: u64 = env("DEEPGEN_REPLAY_SEED", Some(0));
    let images: usize = env("DEEPGEN_REPLAY_TRAIN_IMAGES", Some(15_000));
    let device = Device::default();
    let mnist = Mnist::load(Some(&data_dir())).expect("the bundled MNIST");
    let mut task = MnistDiffusionTask::new(mnist.train, mnist.test, 64, 1000, seed)
        .unwrap()
        .with_train_images(images)
        .unwrap();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
    let mut out = std::io::BufWriter::new(file);
    let mut steps = 0usize;
    for e in 0..epochs {
        let mut rng = HostRng::stream(seed, Stream::Epoch(e as u64));
        for i in 0..task.num_train_batches() {
            let b = task.train_batch(e, i, &mut rng, &device);
            let t = b.t.into_data().try_to_vec_as::<i64>().unwrap();
            assert!(t.iter().all(|&v| (0..1000).contains(&v)), "t out of range");
            for part in [b.x0, b.noise] {
                for v in part.into_data().try_to_vec::<f32>().unwrap() {
                    out.write_all(&v.to_le_bytes()).unwrap();
                }
            }
            for v in t {
                out.write_all(&v.to_le_bytes()).unwrap();
            }
            steps += 1;
        }
    }
    out.flush().unwrap();
    assert_eq!(steps, epochs * (images / 64));
}

/// Writes the initial weights `ddpm_mnist --seed S` starts from (the model of
/// `DEEPGEN_REPLAY_CONFIG`, a `model_config.json` that `ddpm_mnist` wrote, built on the flex
/// autodiff device seeded with S as `Run::start` does) to `DEEPGEN_REPLAY_INIT` with
/// `deepgen_train::export_npy`.
#[test]
#[ignore = "a harness for benches/pytorch/ddpm_mnist.py --init-params; run on demand"]
fn export_initial_weights() {
    let config: String = env("DEEPGEN_REPLAY_CONFIG", None);
    let dir: String = env("DEEPGEN_REPLAY_INIT", None);
    let seed: u64 = env("DEEPGEN_REPLAY_SEED", Some(0));
    let device = Device::flex().autodiff();
    device.seed(seed);
    let model = DiffusionModelConfig::load(&config)
        .unwrap_or_else(|e| panic!("cannot read {config}: {e}"))
        .try_init(&device)
        .unwrap();
    let index = deepgen_train::export_npy(&model, std::path::Path::new(&dir)).unwrap();
    assert!(!index.is_empty());
}
