//! Train a Gaussian-latent VAE with a Bernoulli decoder on dynamically binarised MNIST.
//!
//! ```sh
//! cargo run --release --example vae                     # 784-512-256-32, 20 epochs → runs/vae/
//! cargo run --release --example vae -- --epochs 50 --latent 16 --out runs/vae16
//! cargo run --release --example vae -- --resume         # continue runs/vae/
//! # the IWAE paper's network and objective, test NLL with k = 5000:
//! cargo run --release --example vae -- --hidden 200,200 --latent 50 --activation tanh \
//!     --batch-size 100 --iw-samples 5 --nll-k 5000 --out runs/iwae5
//! # remedies for KL vanishing: annealing, free bits, BN-VAE, capacity
//! cargo run --release --example vae -- --beta cyclical:0:1:2000:0.5
//! cargo run --release --example vae -- --kl free-bits:0.25
//! cargo run --release --example vae -- --bn-gamma 0.5
//! cargo run --release --example vae -- --kl capacity:100 --capacity linear:0:25:20000
//! ```
//!
//! Every epoch reports the test ELBO in nats (on a fixed binarisation of the 10 000 test
//! images) and writes `samples.png`, `samples.npy`, `metrics.jsonl`, `loss.png` and a checkpoint.
//! After training, `--nll-k` importance samples per test image estimate the test NLL
//! −ln p(x) (written with the Fréchet distance to `eval.json`).

use burn::module::Module;
use burn::nn::activation::ActivationConfig;
use burn::optim::AdamConfig;
use clap::Parser;
use deepgen::autoencoders::run_eval::{RunEvalSettings, evaluate_run};
use deepgen::autoencoders::vae_task::VaeTask;
use deepgen::autoencoders::{KlControl, LikelihoodConfig, VaeConfig, VaeObjective};
use deepgen::data::{Binarization, Mnist};
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
    /// Hidden activation: `relu` or `tanh` (the IWAE paper's).
    #[arg(long, default_value = "relu", value_parser = deepgen::autoencoders::mlp::parse_activation)]
    activation: ActivationConfig,
    /// Observation model: `bernoulli`, `gaussian:SIGMA`, `gaussian-learned`,
    /// `continuous-bernoulli` or `logistic:K` (the last four want `--binarization none`).
    #[arg(long, default_value = "bernoulli")]
    likelihood: LikelihoodConfig,
    /// KL weight β: a number or a schedule (e.g. `linear:0:1:5000` for KL annealing,
    /// `cyclical:0:1:2000:0.5` for cyclical annealing).
    #[arg(long, default_value = "1")]
    beta: Schedule,
    /// KL treatment: `plain`, `free-bits:LAMBDA` (nats per latent dim) or `capacity:GAMMA`.
    #[arg(long, default_value = "plain")]
    kl: KlControl,
    /// Target KL C in nats for `--kl capacity:GAMMA`: a number or a schedule.
    #[arg(long, default_value = "0")]
    capacity: Schedule,
    /// BN-VAE: batch-normalise the posterior means with this fixed scale γ.
    #[arg(long)]
    bn_gamma: Option<f64>,
    /// Importance samples per training example: 1 = ELBO, k > 1 = the IWAE bound.
    #[arg(long, default_value_t = 1)]
    iw_samples: usize,
    /// Importance samples per test image for the final test NLL (0 skips it).
    #[arg(long, default_value_t = 100)]
    nll_k: usize,
    /// Test images used for the final NLL (default: all).
    #[arg(long, default_value_t = 10_000)]
    nll_images: usize,
    /// Also report the IW test NLL every epoch with this many samples on 1000 test images.
    #[arg(long, default_value_t = 0)]
    eval_nll_k: usize,
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
    let objective = VaeObjective {
        iw_samples: args.iw_samples,
        kl: args.kl,
    };
    objective
        .validate()
        .map_err(|e| TrainError::config("kl", e))?;
    if let Some(g) = args.bn_gamma
        && !(g.is_finite() && g > 0.0)
    {
        return Err(
            TrainError::config("bn-gamma", format!("must be finite and > 0, got {g}")).into(),
        );
    }

    let ad = device.autodiff();
    ad.seed(args.common.seed);
    let config = VaeConfig::new()
        .with_latent_dim(args.latent)
        .with_hidden(args.hidden.clone())
        .with_activation(args.activation.clone())
        .with_likelihood(args.likelihood.clone())
        .with_bn_gamma(args.bn_gamma);
    let model = config.init(&ad);
    let mut task = VaeTask::new(
        mnist.train.clone(),
        mnist.test.clone(),
        batch_size,
        args.binarization,
        args.common.seed,
    )
    .with_objective(objective)
    .with_eval_nll(args.eval_nll_k, 1000);

    let trainer = Trainer::new("runs/vae")
        .epochs(20)
        .lr(Schedule::Constant(1e-3))
        .num_samples(100)
        .with_args(&args.common)?
        .weight_schedule("beta", args.beta.clone())
        .weight_schedule("capacity", args.capacity.clone())
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

    let model = report.ema_model.unwrap_or(report.model).valid();
    let plain = ad.clone().without_autodiff();
    evaluate_run(
        &model,
        &task,
        &mnist,
        &[("test_elbo", elbo)],
        RunEvalSettings {
            nll_k: args.nll_k,
            nll_images: args.nll_images,
            fd_samples: args.fd_samples,
            seed: args.common.seed,
        },
        trainer.out_dir(),
        &plain,
    )?;
    println!(
        "samples, metrics and checkpoints in {}",
        trainer.out_dir().display()
    );
    Ok(())
}
