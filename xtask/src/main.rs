//! Project automation: `cargo xtask <command>`.
//!
//! - `cargo xtask ci`: what CI runs (`bash .ci/run`).
//! - `cargo xtask bench`: the criterion benchmarks on every CPU backend plus the same
//!   training step in PyTorch (installed into `target/pytorch-venv` if missing), then writes
//!   `docs/performance.md` with steps/s and the ratio to PyTorch.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

mod bench;

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
            eprintln!("usage: cargo xtask <ci | bench [--quick]>");
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
