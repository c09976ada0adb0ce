//! Scores image samples saved as `.npy` — from deepgen or from any other library — with the
//! project's MNIST evaluator: the Fréchet distance to the test set in the classifier's feature
//! space (with the floor for scale) and the label statistics.
//!
//! ```text
//! cargo run --release -p deepgen-eval --bin score_samples -- runs/x/samples.npy other.npy --out scores.json
//! ```
//!
//! Each file must hold `float32` (`'<f4'`, C order) pixels in `[0, 1]` with `N × 784` values
//! (`[N, 1, 28, 28]`, `[N, 28, 28]` or `[N, 784]`), N ≥ 2. This is how the equal-budget
//! comparisons of docs/results.md score PyTorch's samples with exactly the same code as
//! deepgen's. Prints one JSON object (file → scores), also written to `--out` if given.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use deepgen_data::Mnist;
use deepgen_eval::MnistEvaluator;
use serde_json::{Value, json};

/// Score MNIST-like samples (`.npy`, float32 in [0, 1]) with deepgen's evaluator.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// The `.npy` files to score.
    #[arg(required = true)]
    samples: Vec<PathBuf>,
    /// Score only the first N images of each file (equal counts make Fréchet distances
    /// comparable; the estimate is biased upwards for few samples).
    #[arg(long)]
    limit: Option<usize>,
    /// Also write the JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// MNIST directory (default: the usual search, see deepgen-data).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Backend: flex, ndarray, wgpu, wgpu-cpu (default: $DEEPGEN_DEVICE, else flex).
    #[arg(long)]
    device: Option<String>,
}

/// Pixels per MNIST image.
const PIXELS: usize = 784;

/// The pixels of `path`, checked: `N × 784` finite values in `[0, 1]`, at most `limit` images.
fn read_images(path: &Path, limit: Option<usize>) -> Result<(usize, Vec<f32>), String> {
    let (shape, mut data) =
        deepgen_tensor::read_npy_f32(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let per_image: usize = shape.iter().skip(1).product();
    if shape.is_empty() || per_image != PIXELS {
        return Err(format!(
            "{}: shape {shape:?} is not N images of 784 pixels ([N, 1, 28, 28], [N, 28, 28] or \
             [N, 784])",
            path.display()
        ));
    }
    let n = limit.map_or(shape[0], |l| l.min(shape[0]));
    data.truncate(n * PIXELS);
    if n < 2 {
        return Err(format!(
            "{}: {n} image(s); the Fréchet distance needs at least 2",
            path.display()
        ));
    }
    if let Some((i, v)) = data
        .iter()
        .enumerate()
        .find(|(_, v)| !v.is_finite() || !(-1e-6..=1.0 + 1e-6).contains(*v))
    {
        return Err(format!(
            "{}: pixel {} of image {} is {v}; samples must be finite and in [0, 1] (map [-1, 1] \
             outputs with (x + 1) / 2 and clamp)",
            path.display(),
            i % PIXELS,
            i / PIXELS
        ));
    }
    Ok((n, data))
}

fn run(args: &Args) -> Result<Value, String> {
    let (_, device) =
        deepgen_tensor::select_device(args.device.as_deref()).map_err(|e| e.to_string())?;
    let mnist = Mnist::load(args.data.as_deref()).map_err(|e| e.to_string())?;
    let evaluator = MnistEvaluator::load_existing(&mnist, &device)?;
    let mut out = serde_json::Map::new();
    for path in &args.samples {
        let (n, images) = read_images(path, args.limit)?;
        let fd = evaluator
            .frechet_to_test(&images)
            .map_err(|e| e.to_string())?;
        let stats = evaluator.label_stats(&images).map_err(|e| e.to_string())?;
        eprintln!(
            "{}: {n} images, FD {fd:.2} (floor {:.2}), balance {:.3}, confidence {:.3}",
            path.display(),
            evaluator.floor(),
            stats.balance,
            stats.mean_confidence
        );
        out.insert(
            path.display().to_string(),
            json!({
                "images": n,
                "fd": fd,
                "frechet_floor": evaluator.floor(),
                "label_histogram": stats.histogram,
                "label_entropy": stats.entropy,
                "label_balance": stats.balance,
                "mean_confidence": stats.mean_confidence,
            }),
        );
    }
    Ok(Value::Object(out))
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(v) => {
            let text = serde_json::to_string_pretty(&v).expect("JSON values serialise");
            println!("{text}");
            if let Some(out) = &args.out
                && let Err(e) = std::fs::write(out, text + "\n")
            {
                eprintln!("error: cannot write {}: {e}", out.display());
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
