//! deepgen and PyTorch run alternately (A, B, A, B …), one process per measurement, so that
//! drift of a shared machine hits both sides alike; each process's peak resident memory is
//! sampled from `/proc/<pid>/status` (`VmHWM`) while it runs.
//!
//! Two kinds of comparison:
//!
//! - **step workloads** (`benches/workloads.rs` in its `--timed` mode against
//!   `benches/pytorch/workloads.py`): a training step or sampling run on a fixed batch;
//! - **epochs** (`epoch_*`): an example's own training loop (data, noise, metrics, all of it;
//!   its `train_examples_per_s` in `metrics.jsonl`) against the plain PyTorch loop of
//!   `benches/pytorch/`.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use serde_json::Value;

/// The step workloads of `benches/workloads.rs`, in table order, with what one item is.
pub const STEP_WORKLOADS: [(&str, &str); 8] = [
    ("mlp_vae", "training steps"),
    ("iwae_net", "training steps"),
    ("conv_vae", "training steps"),
    ("realnvp_2d", "training steps"),
    ("glow_mnist", "training steps"),
    ("ddpm_unet", "training steps"),
    ("ddim_50", "images (50 DDIM steps each)"),
    ("vmf_sample", "samples"),
];

/// An epoch comparison: the example and its flags, the PyTorch script and its flags.
#[derive(Debug, Clone)]
pub struct EpochJob {
    /// Row name, `epoch_*`.
    pub name: &'static str,
    /// Example binary name.
    pub example: &'static str,
    /// The example's flags ([`NO_SAMPLES`] and an output directory are added).
    pub example_args: &'static [&'static str],
    /// Script under `benches/pytorch/`.
    pub script: &'static str,
    /// The script's flags (`--threads` is added).
    pub script_args: &'static [&'static str],
    /// What the row measures, for the report.
    pub what: &'static str,
}

/// Appended to every example's flags: no samples, no Fréchet distance (not training time).
pub const NO_SAMPLES: [&str; 4] = ["--num-samples", "0", "--fd-samples", "0"];

/// The epoch comparisons.
pub const EPOCH_JOBS: [EpochJob; 4] = [
    EpochJob {
        name: "epoch_mlp_vae",
        example: "vae",
        example_args: &["--epochs", "1", "--eval-nll-k", "0"],
        script: "conv_vae_epoch.py",
        script_args: &["--mlp"],
        what: "`vae` (defaults), one epoch: 468 steps of 128",
    },
    EpochJob {
        name: "epoch_conv_vae",
        example: "vae",
        example_args: &["--conv", "32,64", "--epochs", "1", "--eval-nll-k", "0"],
        script: "conv_vae_epoch.py",
        script_args: &[],
        what: "`vae --conv 32,64`, one epoch: 468 steps of 128",
    },
    EpochJob {
        name: "epoch_glow",
        example: "glow_mnist",
        example_args: &[
            "--epochs",
            "1",
            "--train-images",
            "3200",
            "--test-images",
            "64",
        ],
        script: "glow_mnist_epoch.py",
        script_args: &["--train-images", "3200"],
        what: "`glow_mnist` (defaults), an epoch of 3200 images: 50 steps of 64",
    },
    EpochJob {
        name: "epoch_ddpm",
        example: "ddpm_mnist",
        example_args: &[
            "--epochs",
            "1",
            "--train-images",
            "3200",
            "--test-images",
            "64",
            "--nll-images",
            "1",
            "--nll-timesteps",
            "2",
            "--gamma-images",
            "1",
            "--ddim-steps",
            "2",
            "--ddpm-steps",
            "2",
            "--dpm-steps",
            "2",
        ],
        script: "ddpm_mnist.py",
        script_args: &["--steps", "50", "--samples", "0", "--test-images", "0"],
        what: "`ddpm_mnist` (defaults), an epoch of 3200 images: 50 steps of 64",
    },
];

/// One process's result.
#[derive(Debug, Clone, Copy)]
pub struct Measurement {
    /// Items per second.
    pub per_s: f64,
    /// Peak resident memory, MiB (`None` where `/proc` could not be read).
    pub peak_rss_mib: Option<f64>,
}

/// Every measurement of one row, by side (`deepgen-flex`, `deepgen-ndarray`, `pytorch`) and
/// round, and the runs that failed.
#[derive(Debug, Default, Clone)]
pub struct Row {
    /// Workload name.
    pub name: String,
    /// What one item is.
    pub unit: String,
    /// Side → round → measurement.
    pub sides: BTreeMap<String, BTreeMap<usize, Measurement>>,
    /// `side, round N: error` of every run that failed (the others are kept).
    pub failures: Vec<String>,
}

impl Row {
    /// Records the result of `side` in `round`.
    pub fn record(&mut self, side: &str, round: usize, result: Result<Measurement, String>) {
        match result {
            Ok(m) => {
                self.sides
                    .entry(side.to_string())
                    .or_default()
                    .insert(round, m);
            }
            Err(e) => {
                eprintln!("warning: {} {side}, round {round}: {e}", self.name);
                let first = e.lines().next().unwrap_or_default();
                self.failures
                    .push(format!("{side}, round {}: {first}", round + 1));
            }
        }
    }

    /// Median of `side`'s rates.
    pub fn median(&self, side: &str) -> Option<f64> {
        median(self.sides.get(side)?.values().map(|m| m.per_s).collect())
    }

    /// Per-round ratios `side / pytorch` (rounds where both ran).
    pub fn ratios(&self, side: &str) -> Vec<f64> {
        let (Some(a), Some(b)) = (self.sides.get(side), self.sides.get("pytorch")) else {
            return Vec::new();
        };
        a.iter()
            .filter_map(|(round, a)| b.get(round).map(|b| a.per_s / b.per_s))
            .collect()
    }

    /// Largest peak RSS of `side` over the rounds, MiB.
    pub fn peak_rss(&self, side: &str) -> Option<f64> {
        self.sides
            .get(side)?
            .values()
            .filter_map(|m| m.peak_rss_mib)
            .reduce(f64::max)
    }
}

/// The median of `v` (mean of the middle two for even lengths); `None` when empty.
pub fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    })
}

/// Runs `cmd` to completion, sampling its `VmHWM` every 50 ms; returns stdout and the largest
/// sample (MiB).
pub fn run_sampled(cmd: &mut Command) -> Result<(String, Option<f64>), String> {
    eprintln!("+ {cmd:?}");
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let drain = |mut r: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let err = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let status_path = PathBuf::from(format!("/proc/{}/status", child.id()));
    let mut peak: Option<f64> = None;
    let status = loop {
        if let Some(kib) = fs::read_to_string(&status_path)
            .ok()
            .and_then(|s| vm_hwm_kib(&s))
        {
            peak = Some(peak.map_or(kib, |p: f64| p.max(kib)));
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(format!("waiting for {cmd:?}: {e}")),
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    if !status.success() {
        return Err(format!(
            "{cmd:?} failed with {status}:\n{}\n{}",
            tail(&stdout, 10),
            tail(&stderr, 30)
        ));
    }
    Ok((stdout, peak.map(|k| k / 1024.0)))
}

/// The larger of two optional peak-memory readings (the sampled one can miss the last 50 ms;
/// a process's own report, where it prints one, cannot).
fn larger(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// `VmHWM` of a `/proc/<pid>/status` text, KiB.
pub fn vm_hwm_kib(status: &str) -> Option<f64> {
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn tail(s: &str, lines: usize) -> String {
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

/// The last line of `stdout` that parses as a JSON object.
pub fn last_json(stdout: &str, what: &str) -> Result<Value, String> {
    stdout
        .lines()
        .rev()
        .filter(|l| l.trim_start().starts_with('{'))
        .find_map(|l| serde_json::from_str::<Value>(l).ok())
        .ok_or_else(|| {
            format!(
                "{what} printed no JSON line; its output ends:\n{}",
                tail(stdout, 20)
            )
        })
}

/// A numeric field of `v`.
pub fn field(v: &Value, key: &str, what: &str) -> Result<f64, String> {
    v[key]
        .as_f64()
        .ok_or_else(|| format!("{what}: no number `{key}` in {v}"))
}

/// The last `train_examples_per_s` of a run's `metrics.jsonl`.
pub fn examples_per_s(metrics: &Path) -> Result<f64, String> {
    let text = fs::read_to_string(metrics)
        .map_err(|e| format!("cannot read {}: {e}", metrics.display()))?;
    text.lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find_map(|v| v["train_examples_per_s"].as_f64())
        .ok_or_else(|| format!("{} has no `train_examples_per_s`", metrics.display()))
}

/// One measurement of one side: its name and result.
type SideRun<'a> = (String, Box<dyn FnMut() -> Result<Measurement, String> + 'a>);

/// What [`run`] compares.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Rounds: each runs every row once on each side.
    pub rounds: usize,
    /// Seconds of timed iterations per step-workload process (after its warm-up).
    pub seconds: f64,
    /// Only rows whose name contains one of these (`None`: all).
    pub only: Option<Vec<String>>,
    /// Run the step workloads.
    pub steps: bool,
    /// Run the `epoch_*` rows.
    pub epochs: bool,
    /// Threads of each side (Burn's rayon pool inherits `RAYON_NUM_THREADS`; PyTorch gets
    /// `--threads`).
    pub threads: usize,
    /// deepgen backends of the step workloads (`flex`, `ndarray`, …).
    pub backends: Vec<String>,
    /// `cargo --features` for the deepgen binaries.
    pub features: Option<String>,
}

impl Plan {
    fn wants(&self, name: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|f| name.contains(f.as_str())))
    }
}

/// Executables of `cargo <args> --message-format=json-render-diagnostics`, by (target kind,
/// target name). Compiler messages go to the terminal.
fn cargo_executables(
    root: &Path,
    args: &[&str],
) -> Result<BTreeMap<(String, String), PathBuf>, String> {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root)
        .args(args)
        .arg("--message-format=json-render-diagnostics")
        .stderr(Stdio::inherit());
    eprintln!("+ {cmd:?}");
    let out = cmd
        .output()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{cmd:?} failed with {}", out.status));
    }
    let mut exes = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if v["reason"] != "compiler-artifact" {
            continue;
        }
        let (Some(exe), Some(name)) = (v["executable"].as_str(), v["target"]["name"].as_str())
        else {
            continue;
        };
        for kind in v["target"]["kind"].as_array().into_iter().flatten() {
            if let Some(kind) = kind.as_str() {
                exes.insert((kind.to_string(), name.to_string()), PathBuf::from(exe));
            }
        }
    }
    Ok(exes)
}

fn exe(
    exes: &BTreeMap<(String, String), PathBuf>,
    kind: &str,
    name: &str,
) -> Result<PathBuf, String> {
    exes.get(&(kind.to_string(), name.to_string()))
        .cloned()
        .ok_or_else(|| format!("cargo built no {kind} `{name}`"))
}

/// Runs the plan: returns the step rows and the epoch rows. `python` is a Python with torch
/// (`None`: deepgen only).
pub fn run(
    root: &Path,
    plan: &Plan,
    python: Option<&Path>,
) -> Result<(Vec<Row>, Vec<Row>), String> {
    let mut features: Vec<&str> = Vec::new();
    if let Some(f) = &plan.features {
        features.extend(["--features", f.as_str()]);
    }
    let step_names: Vec<(&str, &str)> = STEP_WORKLOADS
        .into_iter()
        .filter(|(n, _)| plan.steps && plan.wants(n))
        .collect();
    let epoch_jobs: Vec<&EpochJob> = EPOCH_JOBS
        .iter()
        .filter(|j| plan.epochs && plan.wants(j.name))
        .collect();
    let bench_exe = if step_names.is_empty() {
        None
    } else {
        let mut args = vec!["bench", "--bench", "workloads", "--no-run"];
        args.extend(&features);
        Some(exe(&cargo_executables(root, &args)?, "bench", "workloads")?)
    };
    // The examples as CI builds them (the workspace's test build), so nothing is rebuilt.
    let example_exes = if epoch_jobs.is_empty() {
        BTreeMap::new()
    } else {
        cargo_executables(root, &["test", "--release", "--workspace", "--no-run"])?
    };
    let scratch = std::env::temp_dir().join(format!("deepgen-xtask-bench-{}", std::process::id()));
    let threads = plan.threads.to_string();
    let seconds = plan.seconds.to_string();
    let mut steps: Vec<Row> = step_names
        .iter()
        .map(|(n, u)| Row {
            name: n.to_string(),
            unit: u.to_string(),
            ..Row::default()
        })
        .collect();
    let mut epochs: Vec<Row> = epoch_jobs
        .iter()
        .map(|j| Row {
            name: j.name.to_string(),
            unit: "training images".into(),
            ..Row::default()
        })
        .collect();
    for round in 0..plan.rounds {
        // Alternate which side goes first, so that neither always runs on a cooler machine.
        let torch_first = round % 2 == 1;
        for row in &mut steps {
            let mut sides: Vec<SideRun<'_>> = Vec::new();
            for b in &plan.backends {
                let exe = bench_exe.clone().expect("built above");
                let (name, b, seconds) = (row.name.clone(), b.clone(), seconds.clone());
                let side = format!("deepgen-{b}");
                sides.push((
                    side,
                    Box::new(move || {
                        let mut cmd = Command::new(&exe);
                        cmd.current_dir(root).args([
                            "--timed",
                            &name,
                            "--backend",
                            &b,
                            "--seconds",
                            &seconds,
                            "--repeats",
                            "1",
                        ]);
                        let (out, rss) = run_sampled(&mut cmd)?;
                        let v = last_json(&out, "benches/workloads.rs")?;
                        let per_s = field(&v, "per_s_median", "benches/workloads.rs")?;
                        Ok(Measurement {
                            per_s,
                            peak_rss_mib: larger(rss, v["peak_rss_mib"].as_f64()),
                        })
                    }),
                ));
            }
            if let Some(py) = python {
                let (name, seconds, threads) = (row.name.clone(), seconds.clone(), threads.clone());
                let py = py.to_path_buf();
                let torch: SideRun<'_> = (
                    "pytorch".to_string(),
                    Box::new(move || {
                        let mut cmd = Command::new(&py);
                        cmd.current_dir(root)
                            .arg("benches/pytorch/workloads.py")
                            .args([
                                "--workload",
                                &name,
                                "--seconds",
                                &seconds,
                                "--repeats",
                                "1",
                                "--threads",
                                &threads,
                            ]);
                        let (out, rss) = run_sampled(&mut cmd)?;
                        let v = last_json(&out, "benches/pytorch/workloads.py")?;
                        let per_s = field(&v, "per_s_median", "benches/pytorch/workloads.py")?;
                        Ok(Measurement {
                            per_s,
                            peak_rss_mib: larger(rss, v["peak_rss_mib"].as_f64()),
                        })
                    }),
                );
                if torch_first {
                    sides.insert(0, torch);
                } else {
                    sides.push(torch);
                }
            }
            for (side, run) in &mut sides {
                let result = run();
                row.record(side, round, result);
            }
        }
        for (row, job) in epochs.iter_mut().zip(&epoch_jobs) {
            let deepgen = || -> Result<Measurement, String> {
                let out_dir = scratch.join(format!("{}-{round}", job.name));
                let _ = fs::remove_dir_all(&out_dir);
                let mut cmd = Command::new(exe(&example_exes, "example", job.example)?);
                cmd.current_dir(root)
                    .args(["--device", "flex"])
                    .args(job.example_args)
                    .args(NO_SAMPLES)
                    .arg("--out")
                    .arg(&out_dir);
                let (_, rss) = run_sampled(&mut cmd)?;
                let per_s = examples_per_s(&out_dir.join("metrics.jsonl"))?;
                let _ = fs::remove_dir_all(&out_dir);
                Ok(Measurement {
                    per_s,
                    peak_rss_mib: rss,
                })
            };
            let torch = |py: &Path| -> Result<Measurement, String> {
                let script = format!("benches/pytorch/{}", job.script);
                let mut cmd = Command::new(py);
                cmd.current_dir(root)
                    .arg(&script)
                    .args(job.script_args)
                    .args(["--threads", &threads]);
                let (out, rss) = run_sampled(&mut cmd)?;
                let v = last_json(&out, &script)?;
                // `ddpm_mnist.py` calls it `images_per_s`.
                let per_s = field(&v, "examples_per_s", &script)
                    .or_else(|_| field(&v, "images_per_s", &script))?;
                Ok(Measurement {
                    per_s,
                    peak_rss_mib: larger(rss, v["peak_rss_mib"].as_f64()),
                })
            };
            match python {
                Some(py) if torch_first => {
                    row.record("pytorch", round, torch(py));
                    row.record("deepgen-flex", round, deepgen());
                }
                Some(py) => {
                    row.record("deepgen-flex", round, deepgen());
                    row.record("pytorch", round, torch(py));
                }
                None => row.record("deepgen-flex", round, deepgen()),
            }
        }
    }
    let _ = fs::remove_dir_all(&scratch);
    Ok((steps, epochs))
}

/// What an epoch row runs, for the report.
pub fn epoch_what(name: &str) -> Option<(&'static str, String, String)> {
    EPOCH_JOBS.iter().find(|j| j.name == name).map(|j| {
        (
            j.what,
            format!(
                "{} {} {}",
                j.example,
                j.example_args.join(" "),
                NO_SAMPLES.join(" ")
            ),
            format!("benches/pytorch/{} {}", j.script, j.script_args.join(" ")),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_lengths() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }

    #[test]
    fn vm_hwm_is_read_from_proc_status_text() {
        let s = "Name:\tx\nVmPeak:\t  20 kB\nVmHWM:\t   12345 kB\nVmRSS:\t 100 kB\n";
        assert_eq!(vm_hwm_kib(s), Some(12345.0));
        assert_eq!(vm_hwm_kib("Name:\tx\n"), None);
    }

    #[test]
    fn rows_pair_rounds_for_ratios_and_take_the_largest_rss() {
        let m = |per_s, rss| Measurement {
            per_s,
            peak_rss_mib: Some(rss),
        };
        let mut row = Row::default();
        row.record("deepgen-flex", 0, Ok(m(10.0, 100.0)));
        row.record("deepgen-flex", 1, Ok(m(12.0, 90.0)));
        row.record("deepgen-flex", 2, Ok(m(99.0, 1.0)));
        row.record("pytorch", 0, Ok(m(20.0, 300.0)));
        row.record("pytorch", 1, Ok(m(24.0, 310.0)));
        row.record("pytorch", 2, Err("killed\nmore".into()));
        // Round 2 has no PyTorch result: no ratio for it.
        assert_eq!(row.ratios("deepgen-flex"), vec![0.5, 0.5]);
        assert_eq!(row.failures, vec!["pytorch, round 3: killed".to_string()]);
        assert_eq!(row.median("deepgen-flex"), Some(12.0));
        assert_eq!(larger(Some(1.0), Some(2.0)), Some(2.0));
        assert_eq!(larger(None, Some(2.0)), Some(2.0));
        let mut row = Row::default();
        row.record("deepgen-flex", 0, Ok(m(10.0, 100.0)));
        row.record("deepgen-flex", 1, Ok(m(12.0, 90.0)));
        row.record("pytorch", 0, Ok(m(20.0, 300.0)));
        row.record("pytorch", 1, Ok(m(24.0, 310.0)));
        assert_eq!(row.median("deepgen-flex"), Some(11.0));
        assert_eq!(row.peak_rss("deepgen-flex"), Some(100.0));
        assert_eq!(row.peak_rss("pytorch"), Some(310.0));
        assert!(row.ratios("deepgen-ndarray").is_empty());
    }

    #[test]
    fn last_json_skips_trailing_noise_and_bad_lines() {
        let out = "log\n{\"a\": 1}\n{broken\nbye\n";
        assert_eq!(last_json(out, "x").unwrap()["a"], 1);
        assert!(last_json("nothing", "x").is_err());
    }

    #[test]
    fn examples_per_s_reads_the_last_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("metrics.jsonl");
        fs::write(
            &p,
            "{\"epoch\":1,\"train_examples_per_s\":10.5}\n{\"epoch\":2,\"train_examples_per_s\":11.5}\n",
        )
        .unwrap();
        assert_eq!(examples_per_s(&p).unwrap(), 11.5);
        fs::write(&p, "{\"epoch\":1}\n").unwrap();
        assert!(examples_per_s(&p).is_err());
    }
}
