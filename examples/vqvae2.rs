//! Train a two-level VQ-VAE-2 (Razavi et al. 2019) on MNIST — 7×7 top codes, 14×14 bottom
//! codes — then a PixelCNN prior over top maps and one over bottom maps conditioned on the top
//! code vectors, and generate: top prior → bottom prior → decoder.
//!
//! ```sh
//! cargo run --release --example vqvae2                              # 2 CPU cores → runs/vqvae2/
//! cargo run --release --example vqvae2 -- --class-conditional --out runs/vqvae2_cond
//! ```
//!
//! The same flags as `vqvae` (`--num-codes`/`--code-dim` set the bottom level, `--top-codes`/
//! `--top-code-dim` the top); priors in `--out/prior_top` and `--out/prior_bottom`. Writes the
//! same files as `vqvae`, with metrics per level. See `docs/vq.md`.

use clap::Parser;
use deepgen::train::{CommonArgs, run_main};
use deepgen::vq::tasks::vq_example::{VqExampleArgs, run_vqvae2};

/// Train a VQ-VAE-2 and its two PixelCNN priors on MNIST.
#[derive(Parser, Debug)]
#[command(name = "vqvae2", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    vq: VqExampleArgs,
}

fn main() {
    let args = Args::parse();
    run_main(|| run_vqvae2(&args.common, &args.vq));
}
