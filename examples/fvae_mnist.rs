//! The f-VAE (Su & Wu 2018) on dequantised MNIST: a VAE whose decoder is a conditional Glow on
//! the data. Writes `metrics.jsonl` (bits/dim of the ELBO per epoch), `samples.npy` (decoder
//! samples at temperature 0.7), `reconstructions.png`, checkpoints and `eval.json` under
//! `runs/fvae_mnist/`.
//!
//! ```sh
//! cargo run --release --example fvae_mnist -- --epochs 5
//! ```

use clap::Parser;
use deepgen::flows::tasks::fvae::{FVaeArgs, run};
use deepgen::train::{CommonArgs, run_main};

#[derive(Parser, Debug)]
#[command(name = "fvae_mnist", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    fvae: FVaeArgs,
}

fn main() {
    let args = Args::parse();
    run_main(|| run(&args.common, &args.fvae));
}
