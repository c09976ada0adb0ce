//! Train a Gaussian-latent VAE with a Bernoulli decoder on dynamically binarised MNIST.
//!
//! ```sh
//! cargo run --release --example vae                     # 784-512-256-32, 20 epochs → runs/vae/
//! cargo run --release --example vae -- --epochs 50 --latent 16 --out runs/vae16
//! cargo run --release --example vae -- --resume         # continue runs/vae/
//! ```
//!
//! Every epoch reports the test ELBO in nats (on a fixed binarisation of the 10 000 test
//! images) and writes `samples.png`, `samples.npy`, `metrics.jsonl`, `loss.png` and a checkpoint.

use burn::module::Module;
use burn::optim::AdamConfig;
use clap::Parser;
use deepgen::autoencoders::VaeConfig;
use deepgen::autoencoders::vae_task::VaeTask;
use deepgen::data::{Binarization, Mnist};
use deepgen::eval::MnistEvaluator;
use deepgen::eval::checkpoint::{ResolvedCheckpoint, resolve_checkpoint};
use deepgen::tensor::output::write_file_atomic;
use deepgen::tensor::select_device;
use deepgen::train::{CommonArgs, Schedule, TrainError, Trainer, exit_on_error};

/// Train a Gaussian-latent VAE (Bernoulli decoder) on binarised MNIST.
#[derive(Parser, Debug)]
#[command(name = "vae", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Latent dimensionality.
    #[arg(long, default_value_t = 32)]
    latent: usize,
    /// Encoder hidden widths, comma-separated (the decoder mirrors them).
    #[arg(long, default_value = "512,256", value_delimiter = ',')]
    hidden: Vec<usize>,
    /// KL weight β: a number or a schedule (e.g. `linear:0:1:5000` for KL annealing).
    #[arg(long, default_value = "1")]
    beta: Schedule,
    /// Training-set binarisation: `dynamic` (fresh draw per batch) or `static` (one fixed draw).
    #[arg(long, default_value = "dynamic")]
    binarization: Binarization,
    /// Samples drawn after training for the Fréchet distance to the MNIST test set in the
    /// feature space of deepgen-eval's classifier (0 skips it).
    #[arg(long, default_value_t = 10_000)]
    fd_samples: usize,
}

fn main() {
    exit_on_error(run(Args::parse()));
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let (backend, device) = select_device(args.common.device.as_deref())?;
    let mnist = Mnist::load(args.common.data.as_deref())?;
    println!(
        "deepgen vae: device {backend}, MNIST from {} ({} train / {} test)",
        mnist.source.display(),
        mnist.train.len(),
        mnist.test.len()
    );
    let batch_size = args.common.batch_size.unwrap_or(128);
    if batch_size == 0 {
        return Err(TrainError::config("batch-size", "must be at least 1").into());
    }
    if args.latent == 0 {
        return Err(TrainError::config("latent", "must be at least 1").into());
    }

    let ad = device.autodiff();
    ad.seed(args.common.seed);
    let config = VaeConfig::new()
        .with_latent_dim(args.latent)
        .with_hidden(args.hidden.clone());
    let model = config.init(&ad);
    let mut task = VaeTask::new(
        mnist.train.clone(),
        mnist.test.clone(),
        batch_size,
        args.binarization,
        args.common.seed,
    );

    let trainer = Trainer::new("runs/vae")
        .epochs(20)
        .lr(Schedule::Constant(1e-3))
        .num_samples(100)
        .with_args(&args.common)?
        .weight_schedule("beta", args.beta.clone())
        .plot_metrics(vec!["train_loss".into(), "test_loss".into()])
        .plot_labels("VAE on binarised MNIST: negative ELBO", "nats per image");
    let report = trainer.fit(&mut task, model, AdamConfig::new().init(), &ad)?;
    let elbo = report
        .last
        .as_ref()
        .and_then(|r| r.get("test_elbo"))
        .unwrap_or(f64::NAN);
    println!(
        "done: {} epochs, test ELBO {elbo:.2} nats",
        report.epochs_completed
    );

    if args.fd_samples > 0 {
        let model = report.ema_model.unwrap_or(report.model).valid();
        let plain = ad.clone().without_autodiff();
        let evaluator = MnistEvaluator::load_with(&mnist, &evaluator_checkpoint()?, &plain)?;
        let mut images = Vec::with_capacity(args.fd_samples * 784);
        let mut left = args.fd_samples;
        while left > 0 {
            let n = left.min(1000);
            images.extend(
                model
                    .sample_means(n, &plain)
                    .into_data()
                    .try_to_vec::<f32>()?,
            );
            left -= n;
        }
        let fd = evaluator.frechet_to_test(&images)?;
        println!(
            "Fréchet distance of {} samples to the MNIST test set (deepgen-eval classifier features, \
             not Inception FID): {fd:.2}; floor (10 000 training images): {:.2}",
            args.fd_samples,
            evaluator.floor()
        );
        let json = format!(
            "{{\"fd_samples\":{},\"frechet_to_test\":{fd},\"frechet_floor\":{},\"test_elbo\":{elbo}}}\n",
            args.fd_samples,
            evaluator.floor()
        );
        write_file_atomic(&trainer.out_dir().join("eval.json"), json.as_bytes())?;
    }
    println!(
        "samples, metrics and checkpoints in {}",
        trainer.out_dir().display()
    );
    Ok(())
}

/// The evaluator's classifier: the committed checkpoint (or `$DEEPGEN_CLASSIFIER`); trained
/// and cached once if neither exists.
fn evaluator_checkpoint() -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    match resolve_checkpoint() {
        ResolvedCheckpoint::Found(source) => Ok(source.path().to_path_buf()),
        ResolvedCheckpoint::Missing { .. } => Err(
            "the deepgen-eval classifier checkpoint is missing: rebuild it with \
             `cargo run --release -p deepgen-eval --bin train_classifier`, or pass --fd-samples 0"
                .into(),
        ),
    }
}
