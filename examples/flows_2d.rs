//! Train a normalizing flow (NICE, RealNVP, MAF or a neural spline flow) on a 2-D toy density
//! and compare its test NLL with the true one.
//!
//! ```sh
//! cargo run --release --example flows_2d                                  # RealNVP on checkerboard
//! cargo run --release --example flows_2d -- --density 8gaussians --flow spline
//! cargo run --release --example flows_2d -- --density moons --flow maf --steps 2000
//! cargo run --release --example flows_2d -- --density 8gaussians --flow realnvp --resume
//! ```
//!
//! Densities: `moons`, `8gaussians`, `checkerboard`, `2spirals`, `rings`, `pinwheel`,
//! `swissroll` (FFJORD's constructions, `deepgen_data::ToyDensity`). Flows: `nice` and
//! `realnvp` (16 couplings by default), `maf` and `spline` (8 layers; spline: 8 bins on
//! `[−5, 5]`), conditioners with two hidden layers of 128 (`--hidden`), `--actnorm` for an
//! ActNorm before every layer. Every step trains on 512 fresh draws of the density (seeded:
//! the same `--seed` gives the same run, and `--resume` continues it exactly); an epoch is
//! `--steps-per-epoch` (500) steps, 10 epochs by default (or `--steps N`). Adam with a cosine
//! decay from `--lr-peak` (1e-3) to 1 % of it unless `--lr` is given.
//!
//! Outputs in `runs/flows_2d/<density>-<flow>/` (or `--out`): `metrics.jsonl` (per epoch:
//! `train_loss`, `test_nll` on 20 000 fixed held-out points and, for the analytic densities
//! `8gaussians`, `checkerboard` and `rings`, `true_nll` and `nll_gap`), `loss.png`,
//! `samples.npy` (`[N, 2]` float32) and the scatter `samples.png`, `density.png` (the trained
//! model's density; `true_density.png` beside it where analytic), `flow_config.json`,
//! `eval.json` (`test_nll`, `true_nll`/`nll_gap` or `null` with the reason) and `checkpoint/`.

use clap::Parser;
use deepgen::flows::tasks::toy::{ToyFlowArgs, run};
use deepgen::train::{CommonArgs, run_main};

/// Train a normalizing flow on a 2-D toy density.
#[derive(Parser, Debug)]
#[command(name = "flows_2d", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    flow: ToyFlowArgs,
}

fn main() {
    let args = Args::parse();
    run_main(|| run(&args.common, &args.flow));
}
