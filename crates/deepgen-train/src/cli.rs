//! Command-line conventions shared by every example.
//!
//! Every example flattens [`CommonArgs`] into its own clap parser, so all of them accept
//! `--device --seed --epochs --batch-size --lr --data --out --resume --num-samples`
//! (plus `--ema`, `--clip-grad-norm`, `--clip-grad-value` and `--lr-groups`), and ends `main`
//! with [`exit_on_error`] so that an error is printed as one line and the process exits
//! non-zero instead of panicking. Out-of-range values (`--epochs 0`, `--ema 1`,
//! `--clip-grad-norm 0`) are rejected by clap itself, with the flag named, before anything runs.

use std::path::PathBuf;

use crate::TrainError;
use crate::schedule::Schedule;

/// Flags every example accepts. Values left unset take the example's own defaults.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct CommonArgs {
    /// Backend: flex (default), ndarray, wgpu, wgpu-cpu, cuda. Falls back to $DEEPGEN_DEVICE.
    #[arg(long)]
    pub device: Option<String>,
    /// Seed for parameters, shuffling, binarisation and sampling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Number of epochs to train, at least 1 (the example's default when unset).
    #[arg(long, value_parser = at_least_one)]
    pub epochs: Option<usize>,
    /// Mini-batch size, at least 1 (the example's default when unset).
    #[arg(long, value_parser = at_least_one)]
    pub batch_size: Option<usize>,
    /// Learning rate: a number, or a schedule such as `cosine:1e-3:1e-5:500:50000`
    /// (see `Schedule` in deepgen-train for the syntax).
    #[arg(long)]
    pub lr: Option<Schedule>,
    /// Directory with the four MNIST files (falls back to $DEEPGEN_DATA, the bundled
    /// data/mnist/, the user cache, then a download).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Output directory (the example's default, e.g. `runs/vae`, when unset).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue from the latest intact checkpoint in the output directory.
    #[arg(long)]
    pub resume: bool,
    /// Number of samples to draw for samples.png / samples.npy (0: none).
    #[arg(long)]
    pub num_samples: Option<usize>,
    /// Keep an exponential moving average of the weights with this decay, in (0, 1)
    /// (e.g. 0.999), and use it for evaluation and sampling.
    #[arg(long, value_parser = decay_in_open_unit)]
    pub ema: Option<f64>,
    /// Clip gradients by their global L2 norm (a positive number).
    #[arg(long, value_parser = positive_finite)]
    pub clip_grad_norm: Option<f64>,
    /// Clip every gradient element to [-X, X] (X a positive number).
    #[arg(long, value_parser = positive_finite)]
    pub clip_grad_value: Option<f64>,
    /// Per-module learning-rate multipliers, e.g. `encoder=0.1,decoder=1` (module-path prefixes).
    #[arg(long)]
    pub lr_groups: Option<crate::grad::LrGroups>,
}

impl CommonArgs {
    /// These args with `--epochs` derived from a total step count `steps` (an example's
    /// `--steps`, counted in epochs of `steps_per_epoch` optimiser steps); unchanged when
    /// `steps` is `None`.
    ///
    /// # Errors
    /// [`TrainError::Config`] naming `steps` when `--epochs` is also given or `steps` is not a
    /// positive multiple of `steps_per_epoch`.
    pub fn with_total_steps(
        &self,
        steps: Option<usize>,
        steps_per_epoch: usize,
    ) -> Result<CommonArgs, TrainError> {
        let mut common = self.clone();
        let Some(steps) = steps else {
            return Ok(common);
        };
        if common.epochs.is_some() {
            return Err(TrainError::config(
                "steps",
                "give --steps or --epochs, not both (an epoch is --steps-per-epoch steps)",
            ));
        }
        if steps == 0 || steps_per_epoch == 0 || !steps.is_multiple_of(steps_per_epoch) {
            return Err(TrainError::config(
                "steps",
                format!(
                    "must be a positive multiple of --steps-per-epoch ({steps_per_epoch}), got \
                     {steps}"
                ),
            ));
        }
        common.epochs = Some(steps / steps_per_epoch);
        Ok(common)
    }
}

/// clap value parser: an integer ≥ 1.
pub fn at_least_one(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1, got 0".to_string()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{text}` is not a whole number ≥ 1")),
    }
}

/// clap value parser: a number in the open interval (0, 1).
fn decay_in_open_unit(text: &str) -> Result<f64, String> {
    let v: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if v > 0.0 && v < 1.0 {
        Ok(v)
    } else {
        Err(format!(
            "must be in (0, 1), got {v} (typical decays: 0.999, 0.9999)"
        ))
    }
}

/// A comma-separated list of sizes on the command line (`7,14`); the empty string or `none`
/// is the empty list (which clap's `value_delimiter` cannot express: it would parse `''` as
/// one empty, invalid entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeList(pub Vec<usize>);

impl std::str::FromStr for SizeList {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("none") {
            return Ok(Self(Vec::new()));
        }
        s.split(',')
            .map(|p| {
                p.trim()
                    .parse::<usize>()
                    .map_err(|_| format!("`{p}` is not a size; give sizes like `7,14`, or `none`"))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

/// clap value parser: a finite number > 0 (also used by examples' own flags).
pub fn positive_finite(text: &str) -> Result<f64, String> {
    let v: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(format!("must be a finite number > 0, got {v}"))
    }
}

/// An example's `main`: runs `main_body` on rayon's pool ([`on_pool`](crate::pool::on_pool):
/// the kernels it calls start without a cross-thread hand-off, 1.03–1.22× the steps/s on 2
/// cores) and passes its result to [`exit_on_error`].
pub fn run_main<E: std::fmt::Display>(main_body: impl FnOnce() -> Result<(), E> + Send) {
    // The message, not the error, crosses back: errors need not be `Send`.
    exit_on_error(crate::pool::on_pool(|| {
        main_body().map_err(|e| e.to_string())
    }));
}

/// On error prints `error: <message>` to stderr and exits with status 1.
pub fn exit_on_error<E: std::fmt::Display>(result: Result<(), E>) {
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        common: CommonArgs,
    }

    #[test]
    fn total_steps_become_epochs_or_a_named_error() {
        let plain = Cli::parse_from(["x"]).common;
        assert_eq!(plain.with_total_steps(None, 500).unwrap().epochs, None);
        assert_eq!(
            plain.with_total_steps(Some(5000), 500).unwrap().epochs,
            Some(10)
        );
        for (steps, per) in [(0, 500), (750, 500), (500, 0)] {
            let e = plain.with_total_steps(Some(steps), per).unwrap_err();
            assert!(e.to_string().contains("steps"), "{e}");
        }
        let with_epochs = Cli::parse_from(["x", "--epochs", "3"]).common;
        let e = with_epochs.with_total_steps(Some(1000), 500).unwrap_err();
        assert!(e.to_string().contains("not both"), "{e}");
    }
}
