//! Train DDPM (Ho et al. 2020) on MNIST and sample with every sampler: DDPM (fixed small and
//! large variances), DDIM, Analytic-DDPM/-DDIM (Bao et al. 2022) and DPM-Solver++(2M).
//!
//! ```sh
//! cargo run --release --example ddpm_mnist                      # 2 CPU cores → runs/ddpm_mnist/
//! cargo run --release --example ddpm_mnist -- --resume --epochs 16   # train further
//! # v-prediction, cosine schedule, min-SNR-5 weighting, a wider U-Net on a GPU:
//! cargo run --release --features wgpu --example ddpm_mnist -- --device wgpu --prediction v \
//!     --schedule cosine --min-snr-gamma 5 --base-channels 64 --res-blocks 2 --epochs 40 \
//!     --batch-size 128 --out runs/ddpm_mnist_gpu
//! ```
//!
//! Model: deepgen-nn's DDPM U-Net (`--base-channels`, `--channel-mults`, `--res-blocks`,
//! `--attention`, `--dropout`) on images scaled to `[−1, 1]`, `T = --timesteps` steps of the
//! `--schedule`, predicting `--prediction`; Adam with a linear warm-up to `--lr-peak`, global
//! gradient norm clipped at 1 and an EMA of the weights (decay 0.999) unless the flags say
//! otherwise.
//!
//! Every epoch logs `train_loss`, `test_loss` (fixed t and noise) and the variational bound
//! `test_bpd` (DDPM fixed-small variances; `test_bpd_large`) in `metrics.jsonl` and writes a
//! DDIM sample grid (`samples.png`/`samples.npy`, EMA weights). After training: `gamma.json`
//! (Analytic-DPM's Γ for this checkpoint), `samples_<sampler>.npy`/`.png` for every sampler and
//! `eval.json` (test loss, bits/dim bounds for DDPM and Analytic-DPM variances, Fréchet distance
//! and label statistics per sampler). `--sn-dpm` / `--npr-dpm` add SN-DPM's / NPR-DPM's head
//! (trained on the detached U-Net trunk), the SN-/NPR-DDPM and -DDIM samplers and their bounds.
//! See `docs/diffusion.md`.

use clap::Parser;
use deepgen::diffusion::tasks::mnist::{DdpmMnistArgs, run};
use deepgen::train::{CommonArgs, run_main};

/// Train DDPM on MNIST and compare samplers.
#[derive(Parser, Debug)]
#[command(name = "ddpm_mnist", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    ddpm: DdpmMnistArgs,
}

fn main() {
    let args = Args::parse();
    run_main(|| run(&args.common, &args.ddpm));
}
