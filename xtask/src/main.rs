//! Project automation: `cargo xtask <command>`.
//!
//! - `cargo xtask ci`: what CI runs (`bash .ci/run`).
//! - `cargo xtask bench`: every workload and example epoch side by side with the same work in
//!   PyTorch (installed into `target/pytorch-venv` if missing), alternating the two, plus the
//!   MLP VAE step's criterion breakdown; writes `docs/performance.md` (rates, ratios, peak
//!   memory).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

mod bench;
mod side_by_side;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn run(cmd: &mut Command) -> Result<(), String> {
    eprintln!("+ {cmd:?}");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed with {status}"))
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => run(Command::new("bash")
            .arg(root().join(".ci/run"))
            .current_dir(root())),
        Some("bench") => bench::bench(&root(), &args[1..]),
        _ => {
            eprintln!("usage: cargo xtask <ci | bench [--quick] [--only A,B] [--rounds N] …>");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
