//! Train a VQ-VAE (van den Oord et al. 2017) on MNIST, then a gated PixelCNN prior over its
//! code maps, and generate: prior → codes → decoder.
//!
//! ```sh
//! cargo run --release --example vqvae                               # 2 CPU cores → runs/vqvae/
//! cargo run --release --example vqvae -- --class-conditional --out runs/vqvae_cond
//! cargo run --release --example vqvae -- --resume --prior-epochs 12  # continue the prior
//! # a larger model on a GPU:
//! cargo run --release --features wgpu --example vqvae -- --device wgpu --channels 128 \
//!     --num-codes 256 --epochs 20 --prior-channels 128 --prior-layers 12 --prior-epochs 30 \
//!     --fd-samples 10000 --out runs/vqvae_gpu
//! ```
//!
//! Stage 1 trains the autoencoder (`--epochs`, `--batch-size`, `--lr`; EMA codebook with
//! k-means initialisation and dead-code re-seeding unless the flags say otherwise) and logs
//! the reconstruction MSE, commitment and codebook perplexity per epoch; stage 2 trains the
//! prior on the 7×7 code maps of the training split (`--prior-*` flags) in `--out/prior`.
//! Then `reconstructions.png`, `codebook_usage.png`, `samples.npy`/`samples.png`
//! (`labels.npy` with `--class-conditional`) and `eval.json` (test MSE, perplexity, codes
//! used, prior NLL, Fréchet distance, label statistics). See `docs/vq.md`.

use clap::Parser;
use deepgen::train::{CommonArgs, run_main};
use deepgen::vq::tasks::vq_example::{VqExampleArgs, run_vqvae};

/// Train a VQ-VAE and its PixelCNN prior on MNIST.
#[derive(Parser, Debug)]
#[command(name = "vqvae", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    vq: VqExampleArgs,
}

fn main() {
    let args = Args::parse();
    run_main(|| run_vqvae(&args.common, &args.vq));
}
