//! Train a multi-scale RealNVP (Dinh et al. 2017) on uniformly dequantised MNIST and report test
//! bits/dim.
//!
//! ```sh
//! cargo run --release --example realnvp_mnist                   # 2 CPU cores → runs/realnvp_mnist/
//! cargo run --release --example realnvp_mnist -- --resume       # continue runs/realnvp_mnist/
//! # continue on a GPU (same architecture flags):
//! cargo run --release --features wgpu,fusion --example realnvp_mnist -- --device wgpu --resume --epochs 100
//! ```
//!
//! Architecture (`--levels` scales, 28×28 → 14×14 → 7×7 with the default 3): logit
//! preprocessing with α = `--alpha` (0.05, the paper's), then per level `--checkerboard-steps`
//! checkerboard affine couplings, a squeeze and `--channel-steps` channel-wise couplings before
//! half the channels are factored out; the last level has `--final-steps` checkerboard
//! couplings. Batch-norm-free (`--actnorm` adds an ActNorm before every coupling). Adam with a
//! linear warm-up to `--lr-peak`; the global gradient norm is clipped at 100 unless
//! `--clip-grad-norm`/`--clip-grad-value` say otherwise.
//!
//! Outputs as `glow_mnist`: `metrics.jsonl` with `train_bpd`/`test_bpd` per epoch,
//! `samples.npy` at temperature 1.0, `samples_t0.7.npy`, `eval.json`, checkpoints.

use clap::Parser;
use deepgen::flows::tasks::image::{FlowExample, ImageFlowConfig, MnistFlowArgs, run};
use deepgen::flows::{Affine, CouplingBijection, ImageConditionerKind, Preprocess, RealNvpConfig};
use deepgen::train::{CommonArgs, run_main};

/// Train a multi-scale RealNVP on dequantised MNIST.
#[derive(Parser, Debug)]
#[command(name = "realnvp_mnist", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    flow: MnistFlowArgs,
    /// Scales L (28×28 images allow at most 3).
    #[arg(long, default_value_t = 3)]
    levels: usize,
    /// Checkerboard couplings before each squeeze.
    #[arg(long, default_value_t = 3)]
    checkerboard_steps: usize,
    /// Channel-wise couplings after each squeeze.
    #[arg(long, default_value_t = 3)]
    channel_steps: usize,
    /// Checkerboard couplings of the last scale.
    #[arg(long, default_value_t = 4)]
    final_steps: usize,
    /// Hidden channels of the coupling networks.
    #[arg(long, default_value_t = 64)]
    hidden: usize,
    /// Coupling conditioner: the 3-layer conv net (`conv`) or a U-Net-lite with one
    /// down/up level and a skip connection (`unet`).
    #[arg(long, default_value = "conv", value_parser = ["conv", "unet"])]
    conditioner: String,
    /// Margin α of the logit preprocessing.
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,
    /// An ActNorm before every coupling.
    #[arg(long)]
    actnorm: bool,
    /// Soft bound on the couplings' shift (as glow_mnist's `--shift-bound`; 0, the default:
    /// unbounded).
    #[arg(long, default_value_t = 0.0)]
    shift_bound: f64,
    /// Peak learning rate after the warm-up (without --lr).
    #[arg(long, default_value_t = 1e-3)]
    lr_peak: f64,
}

fn main() {
    let args = Args::parse();
    let example = FlowExample {
        name: "realnvp_mnist",
        out_dir: "runs/realnvp_mnist",
        plot_title: "RealNVP on dequantised MNIST: bits/dim",
        epochs: 5,
        batch_size: 64,
        lr: args.lr_peak,
        clip_grad_norm: Some(100.0),
    };
    run_main(|| {
        run(&args.common, &args.flow, example, |shape| {
            ImageFlowConfig::RealNvp(
                RealNvpConfig::new(shape)
                    .with_levels(args.levels)
                    .with_checkerboard_steps(args.checkerboard_steps)
                    .with_channel_steps(args.channel_steps)
                    .with_final_steps(args.final_steps)
                    .with_hidden_channels(args.hidden)
                    .with_conditioner(if args.conditioner == "unet" {
                        ImageConditionerKind::UNet
                    } else {
                        ImageConditionerKind::Conv
                    })
                    .with_actnorm(args.actnorm)
                    .with_coupling(CouplingBijection::Affine(Affine::new().with_shift_bound(
                        (args.shift_bound != 0.0).then_some(args.shift_bound),
                    )))
                    .with_preprocess(Preprocess::Logit(args.alpha)),
            )
        })
    });
}
