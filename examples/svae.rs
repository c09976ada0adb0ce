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

use clap::Parser;
use deepgen::autoencoders::cli::VaeFamilyArgs;
use deepgen::autoencoders::vae_task::VariationalModel;
use deepgen::autoencoders::{SphericalPosterior, SphericalVaeConfig};
use deepgen::data::Mnist;
use deepgen::train::{CommonArgs, RunDefaults, TrainError, run_main};

/// Train a hyperspherical (vMF / power spherical) VAE on binarised MNIST.
#[derive(Parser, Debug)]
#[command(name = "svae", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Ambient dimension m of the latent sphere S^{m−1} ⊂ R^m.
    #[arg(long, default_value_t = 11)]
    latent: usize,
    /// Encoder hidden widths of the MLP, comma-separated (the decoder mirrors them).
    #[arg(long, default_value = "256,128", value_delimiter = ',')]
    hidden: Vec<usize>,
    /// Posterior family: `vmf` or `power-spherical`.
    #[arg(long, default_value = "vmf")]
    posterior: SphericalPosterior,
    /// Fixed concentration κ (Xu & Durrett 2018); default: learned κ(x) = softplus(·) + 1.
    #[arg(long)]
    fixed_kappa: Option<f64>,
    #[command(flatten)]
    family: VaeFamilyArgs,
}

fn main() {
    run_main(|| run(Args::parse()));
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
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
    let objective = args.family.objective()?;
    let run = args.family.start(
        &args.common,
        RunDefaults {
            name: "svae",
            out_dir: "runs/svae",
            plot_title: "Hyperspherical VAE on binarised MNIST: negative ELBO",
            epochs: 20,
            batch_size: 100,
            ..RunDefaults::default()
        },
    )?;
    let mnist = Mnist::load(args.common.data.as_deref())?;
    run.announce(mnist.describe());
    println!(
        "posterior {:?} on S^{} ⊂ R^{}, κ {}",
        args.posterior,
        args.latent - 1,
        args.latent,
        args.fixed_kappa
            .map_or("learned".to_string(), |k| format!("fixed at {k}"))
    );
    let model = SphericalVaeConfig::new()
        .with_latent_dim(args.latent)
        .with_body(args.family.body(&args.hidden, &mnist)?)
        .with_posterior(args.posterior.clone())
        .with_fixed_kappa(args.fixed_kappa)
        .try_init(&run.device)
        .map_err(TrainError::from)?;
    model
        .check_objective(&objective)
        .map_err(TrainError::from)?;
    args.family.run(&run, model, &mnist, &[])?;
    Ok(())
}
