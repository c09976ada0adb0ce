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
//! # convolutional encoder/decoder (stride-2 blocks of 32 and 64 channels):
//! cargo run --release --example vae -- --conv 32,64
//! ```
//!
//! Every epoch reports the test ELBO in nats (on a fixed binarisation of the 10 000 test
//! images) and writes `samples.png`, `samples.npy`, `metrics.jsonl`, `loss.png` and a checkpoint.
//! After training, `--nll-k` importance samples per test image estimate the test NLL
//! −ln p(x) (written with the Fréchet distance to `eval.json`).

use clap::Parser;
use deepgen::autoencoders::VaeConfig;
use deepgen::autoencoders::cli::VaeFamilyArgs;
use deepgen::data::Mnist;
use deepgen::train::{CommonArgs, RunDefaults, TrainError, run_main};

/// Train a Gaussian-latent VAE on binarised MNIST.
#[derive(Parser, Debug)]
#[command(name = "vae", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Latent dimensionality.
    #[arg(long, default_value_t = 32)]
    latent: usize,
    /// Encoder hidden widths of the MLP, comma-separated (the decoder mirrors them).
    #[arg(long, default_value = "512,256", value_delimiter = ',')]
    hidden: Vec<usize>,
    /// BN-VAE: batch-normalise the posterior means with this fixed scale γ.
    #[arg(long)]
    bn_gamma: Option<f64>,
    #[command(flatten)]
    family: VaeFamilyArgs,
}

fn main() {
    run_main(|| run(Args::parse()));
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    if args.latent == 0 {
        return Err(TrainError::config("latent", "must be at least 1").into());
    }
    if let Some(g) = args.bn_gamma
        && !(g.is_finite() && g > 0.0)
    {
        return Err(
            TrainError::config("bn-gamma", format!("must be finite and > 0, got {g}")).into(),
        );
    }
    let run = args.family.start(
        &args.common,
        RunDefaults {
            name: "vae",
            out_dir: "runs/vae",
            plot_title: "VAE on binarised MNIST: negative ELBO",
            epochs: 20,
            ..RunDefaults::default()
        },
    )?;
    let mnist = Mnist::load(args.common.data.as_deref())?;
    run.announce(mnist.describe());
    let model = VaeConfig::new()
        .with_latent_dim(args.latent)
        .with_body(args.family.body(&args.hidden, &mnist)?)
        .with_bn_gamma(args.bn_gamma)
        .try_init(&run.device)
        .map_err(TrainError::from)?;
    args.family.run(&run, model, &mnist, &[])?;
    Ok(())
}
