//! Trains the evaluation classifier and writes its checkpoint.
//!
//! ```text
//! cargo run --release -p deepgen-eval --bin train_classifier -- --epochs 3 --out data/models/mnist_classifier.bpk
//! ```
//!
//! Prints the test accuracy after every epoch, saves the weights (burnpack),
//! writes the evaluator cache (train-vs-test Fréchet floor) beside them, and
//! exits with status 1 if the final test accuracy is below `--min-accuracy`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use deepgen_data::Mnist;
use deepgen_eval::{ClassifierTrainConfig, EvalError, MnistClassifierConfig, MnistEvaluator};

/// Train the deepgen MNIST evaluation classifier.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Passes over the 60 000 training images.
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// Where to write the burnpack checkpoint.
    #[arg(long, default_value = "data/models/mnist_classifier.bpk")]
    out: PathBuf,
    /// Images per Adam step.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Adam learning rate of the first epoch.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Learning-rate factor applied after each epoch.
    #[arg(long, default_value_t = 0.5)]
    lr_decay: f64,
    /// Random translation of training images, in pixels (0 = none).
    #[arg(long, default_value_t = 0)]
    max_shift: usize,
    /// Dropout before the output layer.
    #[arg(long, default_value_t = 0.5)]
    dropout: f64,
    /// Seed of initialisation, dropout and batch order.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// MNIST directory (default: the usual search, see deepgen-data).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Backend: flex, ndarray, wgpu, wgpu-cpu (default: $DEEPGEN_DEVICE, else flex).
    #[arg(long)]
    device: Option<String>,
    /// Fail (exit 1) if the final test accuracy is below this.
    #[arg(long, default_value_t = 0.99)]
    min_accuracy: f64,
}

fn run(args: Args) -> Result<bool, Box<dyn std::error::Error>> {
    let (backend, device) = deepgen_tensor::select_device(args.device.as_deref())?;
    let mnist = Mnist::load(args.data.as_deref()).map_err(EvalError::from)?;
    println!(
        "MNIST from {} ({} train, {} test); backend {backend}",
        mnist.source.display(),
        mnist.train.len(),
        mnist.test.len()
    );
    let cfg = ClassifierTrainConfig::new()
        .with_model(MnistClassifierConfig::new().with_dropout(args.dropout))
        .with_epochs(args.epochs)
        .with_batch_size(args.batch_size)
        .with_learning_rate(args.lr)
        .with_lr_decay(args.lr_decay)
        .with_max_shift(args.max_shift)
        .with_seed(args.seed);
    println!("config: {cfg:?}");
    let start = Instant::now();
    let (model, accuracy) = deepgen_eval::train_classifier_with(&mnist, &cfg, &device, |r| {
        println!(
            "epoch {}/{}: train loss {:.4}, test accuracy {:.2}% (lr {:.2e}, {:.0} s)",
            r.epoch,
            args.epochs,
            r.train_loss,
            100.0 * r.test_accuracy,
            r.learning_rate,
            r.seconds
        );
    })?;
    let train_seconds = start.elapsed().as_secs_f64();
    deepgen_eval::save_classifier(&model, &args.out)?;
    let size = std::fs::metadata(&args.out).map(|m| m.len()).unwrap_or(0);
    println!(
        "saved {} ({:.1} kB); test accuracy {:.2}% after {} epochs in {:.0} s",
        args.out.display(),
        size as f64 / 1e3,
        100.0 * accuracy,
        args.epochs,
        train_seconds
    );
    let eval = MnistEvaluator::load_with(&mnist, &args.out, &device)?;
    println!(
        "train-vs-test Fréchet floor {:.4} (cached in {})",
        eval.floor(),
        deepgen_eval::checkpoint::EvaluatorCache::path_for(&args.out).display()
    );
    if accuracy < args.min_accuracy {
        eprintln!(
            "test accuracy {:.2}% is below --min-accuracy {:.2}%: train longer (--epochs) or add --max-shift 2",
            100.0 * accuracy,
            100.0 * args.min_accuracy
        );
        return Ok(false);
    }
    Ok(true)
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
