//! Train DDPM (Ho et al. 2020) with an MLP denoiser on a 2-D toy density and score its samples
//! by the energy distance to fresh draws of the density.
//!
//! ```sh
//! cargo run --release --example ddpm_2d                              # checkerboard → runs/ddpm_2d/checkerboard/
//! cargo run --release --example ddpm_2d -- --density 8gaussians
//! cargo run --release --example ddpm_2d -- --density moons --schedule cosine --steps 8000
//! cargo run --release --example ddpm_2d -- --density 8gaussians --resume --epochs 8
//! ```
//!
//! Model: deepgen-diffusion's `MlpDenoiser` (a sinusoidal time embedding through a small MLP,
//! concatenated to `x_t`, then an MLP with hidden widths `--hidden`, 128,128,128 by default)
//! predicting `--prediction` (ε) for `T = --timesteps` (1000) steps of the `--schedule`
//! (linear). Every step trains on 512 fresh draws of the density; 10 epochs of 1000 steps by
//! default (or `--steps N`), Adam with a cosine decay from `--lr-peak` (1e-3) to 1 % of it, an
//! EMA of the weights (0.999) for sampling.
//!
//! Outputs in `runs/ddpm_2d/<density>/` (or `--out`): `metrics.jsonl` (`train_loss`,
//! `test_loss` per epoch), `loss.png`, the per-epoch DDIM scatter in `samples/`; after training,
//! for every sampler (DDPM at `--ddpm-steps`, DDIM at `--ddim-steps`, DPM-Solver++(2M) at
//! `--dpm-steps`) `samples_<sampler>.npy` (`[N, 2]` float32, N = `--eval-samples`) and
//! `samples_<sampler>.png`; `samples.npy`/`samples.png` are the DDPM sampler's;
//! `density_samples.png` (N draws of the density); `eval.json` with the energy distance of
//! every sampler to N fresh draws and `energy_floor`, the energy distance between two such
//! draws; `model_config.json` and `checkpoint/`. See `docs/diffusion.md`.

use clap::Parser;
use deepgen::diffusion::tasks::toy::{Ddpm2dArgs, run};
use deepgen::train::{CommonArgs, run_main};

/// Train DDPM on a 2-D toy density.
#[derive(Parser, Debug)]
#[command(name = "ddpm_2d", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    ddpm: Ddpm2dArgs,
}

fn main() {
    let args = Args::parse();
    run_main(|| run(&args.common, &args.ddpm));
}
