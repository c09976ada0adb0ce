//! Train a hyperspherical VAE on dynamically binarised MNIST: latent codes on S^{m−1} with a
//! uniform prior and a von Mises–Fisher posterior (S-VAE, Davidson et al. 2018), a fixed-κ vMF
//! (Xu & Durrett 2018) or the power spherical posterior (De Cao & Aziz 2020).
//!
//! ```sh
//! cargo run --release --example svae                         # 784-256-128, S^10 ⊂ R^11, learned κ → runs/svae/
//! cargo run --release --example svae -- --fixed-kappa 80     # Xu & Durrett's fixed concentration
//! cargo run --release --example svae -- --posterior power-spherical
//! cargo run --release --example svae -- --nll-k 5000         # the literature's test NLL
//! ```
//!
//! Per epoch: test ELBO on the fixed binarisation of the test set shared with the `vae`
//! example; after training: importance-weighted test NLL, reconstructions / interpolations /
//! traversals, active units, Fréchet distance → `eval.json`.

use burn::module::Module;
use burn::nn::activation::ActivationConfig;
use burn::optim::AdamConfig;
use clap::Parser;
use deepgen::autoencoders::run_eval::{RunEvalSettings, evaluate_run};
use deepgen::autoencoders::vae_task::{VaeTask, VariationalModel};
use deepgen::autoencoders::{
    KlControl, SphericalPosterior, SphericalVae, SphericalVaeConfig, VaeObjective,
};
use deepgen::data::{Binarization, Mnist};
use deepgen::tensor::select_device;
use deepgen::train::{CommonArgs, Schedule, TrainError, Trainer, exit_on_error};

/// Train a hyperspherical (vMF / power spherical) VAE on binarised MNIST.
#[derive(Parser, Debug)]
#[command(name = "svae", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Ambient dimension m of the latent sphere S^{m−1} ⊂ R^m.
    #[arg(long, default_value_t = 11)]
    latent: usize,
    /// Encoder hidden widths, comma-separated (the decoder mirrors them).
    #[arg(long, default_value = "256,128", value_delimiter = ',')]
    hidden: Vec<usize>,
    /// Hidden activation: relu, tanh, elu, sigmoid or gelu.
    #[arg(long, default_value = "relu", value_parser = deepgen::autoencoders::mlp::parse_activation)]
    activation: ActivationConfig,
    /// Posterior family: `vmf` or `power-spherical`.
    #[arg(long, default_value = "vmf")]
    posterior: SphericalPosterior,
    /// Fixed concentration κ (Xu & Durrett 2018); default: learned κ(x) = softplus(·) + 1.
    #[arg(long)]
    fixed_kappa: Option<f64>,
    /// KL weight β: a number or a schedule.
    #[arg(long, default_value = "1")]
    beta: Schedule,
    /// KL treatment: `plain` or `capacity:GAMMA` (free bits needs a per-dimension KL).
    #[arg(long, default_value = "plain")]
    kl: KlControl,
    /// Target KL C for `--kl capacity:GAMMA`.
    #[arg(long, default_value = "0")]
    capacity: Schedule,
    /// Importance samples per training example: 1 = ELBO, k > 1 = IWAE bound.
    #[arg(long, default_value_t = 1)]
    iw_samples: usize,
    /// Training-set binarisation: `dynamic` or `static`.
    #[arg(long, default_value = "dynamic")]
    binarization: Binarization,
    /// Importance samples per test image for the final test NLL (0 skips it).
    #[arg(long, default_value_t = 100)]
    nll_k: usize,
    /// Test images used for the final NLL.
    #[arg(long, default_value_t = 10_000)]
    nll_images: usize,
    /// Also report the IW test NLL every epoch with this many samples on 1000 test images.
    #[arg(long, default_value_t = 0)]
    eval_nll_k: usize,
    /// Samples for the Fréchet distance after training (0 skips it).
    #[arg(long, default_value_t = 10_000)]
    fd_samples: usize,
}

fn main() {
    exit_on_error(run(Args::parse()));
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let (backend, device) = select_device(args.common.device.as_deref())?;
    let batch_size = args.common.batch_size.unwrap_or(100);
    if batch_size == 0 {
        return Err(TrainError::config("batch-size", "must be at least 1").into());
    }
    if args.latent < 2 {
        return Err(TrainError::config("latent", "the sphere needs m ≥ 2").into());
    }
    if let Some(k) = args.fixed_kappa
        && !(k.is_finite() && k >= 0.0)
    {
        return Err(
            TrainError::config("fixed-kappa", format!("must be finite and ≥ 0, got {k}")).into(),
        );
    }
    let mnist = Mnist::load(args.common.data.as_deref())?;
    println!(
        "deepgen svae: device {backend}, MNIST from {} ({} train / {} test); posterior {:?} on \
         S^{} ⊂ R^{}, κ {}",
        mnist.source.display(),
        mnist.train.len(),
        mnist.test.len(),
        args.posterior,
        args.latent - 1,
        args.latent,
        args.fixed_kappa
            .map_or("learned".to_string(), |k| format!("fixed at {k}"))
    );

    let ad = device.autodiff();
    ad.seed(args.common.seed);
    let model = SphericalVaeConfig::new()
        .with_latent_dim(args.latent)
        .with_hidden(args.hidden.clone())
        .with_activation(args.activation.clone())
        .with_posterior(args.posterior.clone())
        .with_fixed_kappa(args.fixed_kappa)
        .init(&ad);
    let objective = VaeObjective {
        iw_samples: args.iw_samples,
        kl: args.kl,
    };
    model
        .check_objective(&objective)
        .map_err(|e| TrainError::config("kl", e))?;
    let mut task = VaeTask::<SphericalVae>::new(
        mnist.train.clone(),
        mnist.test.clone(),
        batch_size,
        args.binarization,
        args.common.seed,
    )
    .with_objective(objective)
    .with_eval_nll(args.eval_nll_k, 1000);

    let trainer = Trainer::new("runs/svae")
        .epochs(20)
        .lr(Schedule::Constant(1e-3))
        .num_samples(100)
        .with_args(&args.common)?
        .weight_schedule("beta", args.beta.clone())
        .weight_schedule("capacity", args.capacity.clone())
        .plot_metrics(vec!["train_loss".into(), "test_loss".into()])
        .plot_labels(
            "Hyperspherical VAE on binarised MNIST: negative ELBO",
            "nats per image",
        );
    let started = std::time::Instant::now();
    let report = trainer.fit(&mut task, model, AdamConfig::new().init(), &ad)?;
    let last = report.last.as_ref();
    let get = |name: &str| last.and_then(|r| r.get(name)).unwrap_or(f64::NAN);
    let elbo = get("test_elbo");
    println!(
        "done: {} epochs in {:.0} s, test ELBO {elbo:.2} nats (recon {:.2}, KL {:.2})",
        report.epochs_completed,
        started.elapsed().as_secs_f64(),
        get("test_recon"),
        get("test_kl")
    );
    let model = report.ema_model.unwrap_or(report.model).valid();
    let plain = ad.clone().without_autodiff();
    evaluate_run(
        &model,
        &task,
        &mnist,
        &[
            ("test_elbo", elbo),
            ("test_recon", get("test_recon")),
            ("test_kl", get("test_kl")),
        ],
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
