//! Train Glow (Kingma & Dhariwal 2018) on uniformly dequantised MNIST and report test bits/dim.
//!
//! ```sh
//! cargo run --release --example glow_mnist                      # 2 CPU cores → runs/glow_mnist/
//! cargo run --release --example glow_mnist -- --resume          # continue runs/glow_mnist/
//! # continue the same run on a GPU, toward the paper's 1.05 bits/dim (same architecture flags):
//! cargo run --release --features wgpu,fusion --example glow_mnist -- --device wgpu --resume --epochs 100
//! # a larger model from scratch on a GPU, with the bounded couplings long runs need:
//! cargo run --release --features wgpu,fusion --example glow_mnist -- --device wgpu --steps 16 \
//!     --hidden 512 --batch-size 128 --epochs 200 --scale sigmoid --shift-bound 5 \
//!     --out runs/glow_mnist_gpu
//! ```
//!
//! For more than about five epochs use `--scale sigmoid --shift-bound 5` (each coupling then
//! grows no element by more than 5): with the default `exp` scale a 16-epoch run diverged in
//! epoch 6, while the bounded variant trained 16 epochs without an outlier (docs/results.md).
//!
//! Architecture: `--levels` levels (28×28 allows 2: 1×28×28 → 4×14×14 → 8×7×7), each a squeeze
//! and `--steps` steps of ActNorm · invertible 1×1 convolution (LU-decomposed) · affine
//! coupling (zero-initialised last layer), with half the channels factored out after every
//! level but the last under a learned prior.
//!
//! Two defaults differ from the paper, because on a CPU budget they learn much faster (same
//! seed, 200 steps of 64, test bits/dim on 500 images: paper settings 4.93, logit input 3.30,
//! logit input and exp scale 2.27; see docs/flows.md): the input goes through RealNVP's logit
//! transform (α = 0.05, its Jacobian counted in bits/dim) instead of `x − ½`, and the couplings
//! scale by RealNVP's soft-clamped `exp` instead of `sigmoid(s + 2)`, which can only contract
//! in the data → latent direction. `--preprocess center --scale sigmoid` is the paper's Glow
//! (GlowConfig's defaults). Adam with
//! a linear warm-up to `--lr-peak` over `--warmup` steps; the global gradient norm is clipped
//! at 100 unless `--clip-grad-norm`/`--clip-grad-value` say otherwise. ActNorm is initialised
//! from the first batch once and saved with the checkpoints.
//!
//! Every epoch logs `train_bpd` and `test_bpd` (10 000 test images, fixed dequantisation
//! noise) in `metrics.jsonl` and writes `samples.png`/`samples.npy` at temperature 1.0; after
//! training, `samples_t0.7.npy`/`.png` and `eval.json` (test bits/dim, Fréchet distance and
//! label statistics of the samples at T = 0.7 and 1.0 under deepgen-eval's classifier).

use clap::Parser;
use deepgen::flows::tasks::image::{
    FlowExample, GlowInputArgs, ImageFlowConfig, MnistFlowArgs, run,
};
use deepgen::flows::{CouplingBijection, GlowConfig, ImageConditionerKind};
use deepgen::train::{CommonArgs, run_main};

/// Train Glow on dequantised MNIST.
#[derive(Parser, Debug)]
#[command(name = "glow_mnist", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    flow: MnistFlowArgs,
    /// Levels L (each squeezes; 28×28 images allow at most 2).
    #[arg(long, default_value_t = 2)]
    levels: usize,
    /// Steps of flow K per level.
    #[arg(long, default_value_t = 8)]
    steps: usize,
    /// Hidden channels of the coupling networks.
    #[arg(long, default_value_t = 128)]
    hidden: usize,
    /// Coupling conditioner: the 3-layer conv net (`conv`) or a U-Net-lite with one
    /// down/up level and a skip connection (`unet`).
    #[arg(long, default_value = "conv", value_parser = ["conv", "unet"])]
    conditioner: String,
    /// Additive couplings instead of affine ones (overrides --scale).
    #[arg(long)]
    additive: bool,
    #[command(flatten)]
    input: GlowInputArgs,
    /// Plain 1×1 convolutions instead of LU-decomposed ones.
    #[arg(long)]
    no_lu: bool,
    /// Plain factor-out instead of the learned split prior.
    #[arg(long)]
    no_learned_prior: bool,
    /// Peak learning rate after the warm-up (without --lr).
    #[arg(long, default_value_t = 1e-3)]
    lr_peak: f64,
}

fn main() {
    let args = Args::parse();
    let example = FlowExample {
        name: "glow_mnist",
        out_dir: "runs/glow_mnist",
        plot_title: "Glow on dequantised MNIST: bits/dim",
        epochs: 5,
        batch_size: 64,
        lr: args.lr_peak,
        clip_grad_norm: Some(100.0),
    };
    run_main(|| {
        run(&args.common, &args.flow, example, |shape| {
            let glow = args.input.apply(GlowConfig::new(shape));
            let glow = if args.additive {
                glow.with_coupling(CouplingBijection::Additive)
            } else {
                glow
            };
            ImageFlowConfig::Glow(
                glow.with_levels(args.levels)
                    .with_steps_per_level(args.steps)
                    .with_hidden_channels(args.hidden)
                    .with_conditioner(if args.conditioner == "unet" {
                        ImageConditionerKind::UNet
                    } else {
                        ImageConditionerKind::Conv
                    })
                    .with_lu_decomposed(!args.no_lu)
                    .with_learned_prior(!args.no_learned_prior),
            )
        })
    });
}
