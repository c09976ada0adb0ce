//! `cargo xtask bench`: the VAE training-step benchmark in Burn and in PyTorch, written up.
//!
//! 1. Makes sure a Python with PyTorch exists: `target/pytorch-venv` (created with
//!    `python3 -m venv`, then `pip install torch numpy` when `import torch` fails there).
//!    The default PyPI wheel of torch is used, CUDA packages and all (≈ 5.4 GB on disk,
//!    about two minutes to install here): `pip install --no-deps torch` does not work because
//!    `libtorch_global_deps.so` links `libcudart` from the `nvidia-*` wheels, and the
//!    CPU-only wheels are not on PyPI.
//! 2. Runs `cargo bench --bench vae_step -- --noplot` (criterion) and reads every
//!    `target/criterion/**/new/estimates.json` written by this run (mean ns per iteration).
//! 3. Runs `benches/pytorch/vae_step.py --phases` with the same thread count as Burn's
//!    rayon pool.
//! 4. Writes `docs/performance.md`: machine, steps/s per backend, PyTorch's, the ratios,
//!    the phase breakdown and the command. Everything from the line [`KEEP_MARKER`] on is
//!    hand-written analysis and is carried over unchanged.
//!
//! Options: `--features LIST` (passed to `cargo bench`, e.g. `--features wgpu`), `--quick`
//! (criterion's `--quick`, PyTorch 3 × 1 s: a smoke run, not for committing),
//! `--python PATH` (a Python that already has torch; skips the venv), `--no-write` (print
//! the report instead of writing `docs/performance.md`), `--skip-pytorch`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// Criterion group of the full training step (see `benches/vae_step.rs`).
const STEP_GROUP: &str = "vae_step_784-512-256-32_b128";
/// Criterion group of the full step with glibc malloc tuned (see `benches/vae_step.rs`).
const TUNED_GROUP: &str = "vae_step_malloc_tuned_b128";
/// Criterion group of the phase breakdown (see `benches/vae_step.rs`).
const PHASE_GROUP: &str = "vae_phases_b128";
/// Phases of `PHASE_GROUP`, in table order, with their descriptions.
const PHASES: [(&str, &str); 4] = [
    ("inference_forward", "loss, plain device (kernels only)"),
    ("forward", "loss, autodiff device (+ graph recording)"),
    (
        "forward_backward",
        "forward + backward + gradient collection",
    ),
    (
        "gemm_only",
        "the 17 matrix products of a step, nothing else",
    ),
];
/// Lines of `docs/performance.md` from this one on are kept across runs.
pub const KEEP_MARKER: &str =
    "<!-- Hand-written analysis below: `cargo xtask bench` keeps everything from this line on. -->";

/// Parsed command-line options.
#[derive(Debug, Default)]
struct Options {
    features: Option<String>,
    quick: bool,
    python: Option<PathBuf>,
    write: bool,
    skip_pytorch: bool,
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        write: true,
        ..Options::default()
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--no-write" => o.write = false,
            "--skip-pytorch" => o.skip_pytorch = true,
            "--features" => {
                let v = it
                    .next()
                    .ok_or("`--features` needs a value, e.g. `--features wgpu`")?;
                o.features = Some(v.clone());
            }
            "--python" => {
                let v = it
                    .next()
                    .ok_or("`--python` needs the path of a Python that has torch")?;
                o.python = Some(PathBuf::from(v));
            }
            s if s.starts_with("--features=") => {
                o.features = Some(s["--features=".len()..].to_string())
            }
            s if s.starts_with("--python=") => {
                o.python = Some(PathBuf::from(&s["--python=".len()..]))
            }
            other => {
                return Err(format!(
                    "unknown argument `{other}` to `cargo xtask bench`; accepted: --features LIST, \
                     --quick, --python PATH, --no-write, --skip-pytorch"
                ));
            }
        }
    }
    Ok(o)
}

/// Runs the whole benchmark; see the module documentation.
pub fn bench(root: &Path, args: &[String]) -> Result<(), String> {
    let opts = parse_args(args)?;
    let started = Instant::now();
    let load_before = load_average();
    if let Some(l) = load_before
        && l > 0.5
    {
        eprintln!(
            "warning: the 1-minute load average is {l:.2}: other processes are using the CPU and \
             every number below will be too low. Benchmark on an idle machine."
        );
    }
    let threads = rayon_threads();

    // (1) PyTorch first: a failed install should not cost a 5-minute criterion run.
    let python = if opts.skip_pytorch {
        None
    } else {
        Some(match &opts.python {
            Some(p) => {
                if !imports_torch(p) {
                    return Err(format!(
                        "`--python {}` cannot `import torch`; install it there or drop `--python`",
                        p.display()
                    ));
                }
                p.clone()
            }
            None => ensure_venv(&root.join("target").join("pytorch-venv"))?,
        })
    };

    // (2) criterion.
    let criterion_dir = target_dir(root).join("criterion");
    let bench_start = SystemTime::now();
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root).args(["bench", "--bench", "vae_step"]);
    if let Some(f) = &opts.features {
        cmd.args(["--features", f]);
    }
    cmd.args(["--", "--noplot"]);
    if opts.quick {
        cmd.arg("--quick");
    }
    crate::run(&mut cmd)?;
    let estimates = read_estimates(&criterion_dir, bench_start)?;
    if !estimates.keys().any(|k| k.starts_with(STEP_GROUP)) {
        return Err(format!(
            "`cargo bench` wrote no {}/{STEP_GROUP}/*/new/estimates.json; did the benchmark run?",
            criterion_dir.display()
        ));
    }

    // (3) PyTorch.
    let torch = match &python {
        Some(py) => Some(run_pytorch(root, py, threads, opts.quick)?),
        None => None,
    };

    // (4) the report.
    let mut command = String::from("cargo xtask bench");
    for a in args {
        command.push(' ');
        command.push_str(a);
    }
    let machine = machine_info(root, load_before, threads, torch.as_ref());
    let report = render(&Report {
        machine,
        quick: opts.quick,
        estimates: &estimates,
        torch: torch.as_ref(),
        command,
        minutes: started.elapsed().as_secs_f64() / 60.0,
    });
    let doc = root.join("docs").join("performance.md");
    if opts.write {
        let kept = fs::read_to_string(&doc)
            .ok()
            .and_then(|old| old.find(KEEP_MARKER).map(|i| old[i..].to_string()))
            .unwrap_or_else(|| format!("{KEEP_MARKER}\n"));
        fs::create_dir_all(doc.parent().expect("docs/ has a parent"))
            .map_err(|e| format!("cannot create {}: {e}", doc.parent().unwrap().display()))?;
        fs::write(&doc, format!("{report}\n{kept}"))
            .map_err(|e| format!("cannot write {}: {e}", doc.display()))?;
        eprintln!("wrote {}", doc.display());
    } else {
        println!("{report}");
    }
    Ok(())
}

/// Threads in Burn's rayon pool: `RAYON_NUM_THREADS` if a positive integer, else the
/// available parallelism (what rayon itself does).
fn rayon_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
}

fn load_average() -> Option<f64> {
    fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => root.join(d),
        None => root.join("target"),
    }
}

fn imports_torch(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import torch"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// The venv's Python, after creating the venv and installing torch into it if needed.
fn ensure_venv(venv: &Path) -> Result<PathBuf, String> {
    let python = venv.join("bin").join("python");
    if python.exists() && imports_torch(&python) {
        return Ok(python);
    }
    if !python.exists() {
        crate::run(Command::new("python3").args(["-m", "venv"]).arg(venv)).map_err(|e| {
            format!("{e}\ncannot create the PyTorch venv {}: is `python3` installed with its `venv` module (Debian: `apt-get install python3-venv`)?", venv.display())
        })?;
    }
    eprintln!(
        "installing PyTorch into {} (the PyPI wheel pulls ~5 GB of CUDA libraries)",
        venv.display()
    );
    crate::run(Command::new(&python).args([
        "-m",
        "pip",
        "install",
        "--progress-bar",
        "off",
        "torch",
        "numpy",
    ]))
    .map_err(|e| {
        format!(
            "{e}\n`pip install torch numpy` failed in {}; check that PyPI is reachable and ~6 GB \
                 of disk are free, or pass `--python PATH` with a Python that has torch, or \
                 `--skip-pytorch`",
            venv.display()
        )
    })?;
    if !imports_torch(&python) {
        return Err(format!(
            "torch was installed into {} but `import torch` still fails there",
            venv.display()
        ));
    }
    Ok(python)
}

/// Every `<group>/<function>[/<parameter>]/new/estimates.json` under `dir` written after
/// `since`, keyed by its path relative to `dir` without `/new/estimates.json`, valued by the
/// mean time per iteration in nanoseconds (point estimate, 95 % CI lower, upper).
fn read_estimates(dir: &Path, since: SystemTime) -> Result<BTreeMap<String, Estimate>, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            if p.file_name().is_none_or(|n| n != "estimates.json")
                || p.parent()
                    .and_then(Path::file_name)
                    .is_none_or(|n| n != "new")
            {
                continue;
            }
            let fresh = e
                .metadata()
                .and_then(|m| m.modified())
                .map(|t| t >= since)
                .unwrap_or(false);
            if !fresh {
                continue;
            }
            let text =
                fs::read_to_string(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            let v: Value = serde_json::from_str(&text)
                .map_err(|e| format!("{} is not JSON: {e}", p.display()))?;
            let mean = &v["mean"];
            let num = |x: &Value| {
                x.as_f64()
                    .ok_or_else(|| format!("{}: no mean estimate", p.display()))
            };
            let est = Estimate {
                ns: num(&mean["point_estimate"])?,
                lo_ns: num(&mean["confidence_interval"]["lower_bound"])?,
                hi_ns: num(&mean["confidence_interval"]["upper_bound"])?,
            };
            let key = p
                .parent()
                .and_then(Path::parent)
                .and_then(|b| b.strip_prefix(dir).ok())
                .map(|r| r.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default();
            out.insert(key, est);
        }
    }
    Ok(out)
}

/// Criterion's mean time per iteration with its 95 % confidence interval, in ns.
#[derive(Debug, Clone, Copy)]
struct Estimate {
    ns: f64,
    lo_ns: f64,
    hi_ns: f64,
}

/// The PyTorch script's result.
#[derive(Debug)]
struct Torch {
    version: String,
    threads: u64,
    steps_per_s: f64,
    all: Vec<f64>,
    /// Phase name → milliseconds per call (median of the repeats).
    phases_ms: BTreeMap<String, f64>,
}

fn run_pytorch(root: &Path, python: &Path, threads: usize, quick: bool) -> Result<Torch, String> {
    let script = root.join("benches").join("pytorch").join("vae_step.py");
    let mut cmd = Command::new(python);
    cmd.arg(&script)
        .args(["--threads", &threads.to_string(), "--phases"]);
    if quick {
        cmd.args(["--seconds", "1", "--repeats", "3"]);
    }
    eprintln!("+ {cmd:?}");
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} {} failed with {}:\n{}",
            python.display(),
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or_else(|| {
            format!(
                "{} printed no JSON line; its output was:\n{stdout}",
                script.display()
            )
        })?;
    eprintln!("{line}");
    let v: Value = serde_json::from_str(line)
        .map_err(|e| format!("bad JSON from {}: {e}: {line}", script.display()))?;
    let f = |k: &str| {
        v[k].as_f64()
            .ok_or_else(|| format!("{}: no `{k}` in {line}", script.display()))
    };
    let phases_ms = v["phases_ms"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, x)| x.as_f64().map(|x| (k.clone(), x)))
                .collect()
        })
        .unwrap_or_default();
    Ok(Torch {
        version: v["torch"].as_str().unwrap_or("?").to_string(),
        threads: v["threads"].as_u64().unwrap_or(0),
        steps_per_s: f("steps_per_s_median")?,
        all: v["steps_per_s_all"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default(),
        phases_ms,
    })
}

/// Everything the report shows.
struct Report<'a> {
    machine: Vec<(String, String)>,
    quick: bool,
    estimates: &'a BTreeMap<String, Estimate>,
    torch: Option<&'a Torch>,
    command: String,
    minutes: f64,
}

fn cmd_stdout(program: &str, args: &[&str], dir: &Path) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn machine_info(
    root: &Path,
    load: Option<f64>,
    threads: usize,
    torch: Option<&Torch>,
) -> Vec<(String, String)> {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        cpuinfo
            .lines()
            .find(|l| l.split(':').next().is_some_and(|k| k.trim() == name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    };
    let flags = field("flags").unwrap_or_default();
    let simd: Vec<&str> = ["avx2", "fma", "avx512f", "avx512_bf16", "amx_tile"]
        .into_iter()
        .filter(|f| flags.split(' ').any(|x| x == *f))
        .collect();
    let cpu = format!(
        "{} (family {}, model {}; {})",
        field("model name").unwrap_or_else(|| "unknown".into()),
        field("cpu family").unwrap_or_else(|| "?".into()),
        field("model").unwrap_or_else(|| "?".into()),
        if simd.is_empty() {
            "no AVX".to_string()
        } else {
            simd.join(", ")
        }
    );
    let nproc = std::thread::available_parallelism()
        .map(|n| n.get().to_string())
        .unwrap_or_else(|_| "?".into());
    let rayon = match std::env::var("RAYON_NUM_THREADS") {
        Ok(v) => format!("{threads} (RAYON_NUM_THREADS={v})"),
        Err(_) => format!("{threads} (RAYON_NUM_THREADS unset)"),
    };
    let burn = fs::read_to_string(root.join("Cargo.lock"))
        .ok()
        .and_then(|lock| {
            let i = lock.find("name = \"burn\"\n")?;
            let rest = &lock[i..];
            let v = rest
                .lines()
                .nth(1)?
                .strip_prefix("version = \"")?
                .strip_suffix('"')?;
            Some(v.to_string())
        })
        .unwrap_or_else(|| "?".into());
    let mut rows = vec![
        ("date (UTC)".to_string(), utc_date()),
        ("CPU".into(), cpu),
        ("cores (nproc)".into(), nproc),
        ("Burn rayon threads".into(), rayon),
        (
            "1-min load average before the run".into(),
            load.map(|l| format!("{l:.2}"))
                .unwrap_or_else(|| "?".into()),
        ),
        (
            "rustc".into(),
            cmd_stdout("rustc", &["--version"], root).unwrap_or_else(|| "?".into()),
        ),
        ("burn".into(), burn),
    ];
    if let Some(t) = torch {
        rows.push((
            "torch".into(),
            format!("{} ({} threads)", t.version, t.threads),
        ));
    }
    rows
}

/// Today's date from the system clock, `YYYY-MM-DD` (UTC).
fn utc_date() -> String {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0) as i64;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn render(r: &Report<'_>) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "# Performance\n");
    let _ = writeln!(
        s,
        "One training step (forward, backward, Adam update) of the 784-512-256-32 MLP VAE \
         (`deepgen::autoencoders::Vae`, ReLU, Bernoulli decoder, analytic KL) at batch 128, \
         in Burn (`benches/vae_step.rs`, criterion) and in PyTorch \
         (`benches/pytorch/vae_step.py`, the same network, loss and `torch.optim.Adam(lr=1e-3)`), \
         on the same machine in the same run. The sections up to the hand-written analysis are \
         generated by `{}`; re-run it to refresh them.\n",
        r.command
    );
    let _ = writeln!(s, "## Machine\n\n| | |\n| --- | --- |");
    for (k, v) in &r.machine {
        let _ = writeln!(s, "| {k} | {v} |");
    }

    let _ = writeln!(s, "\n## Training steps per second\n");
    let _ = writeln!(
        s,
        "| backend | steps/s | ms/step (95 % CI) | ratio to PyTorch |\n| --- | ---: | ---: | ---: |"
    );
    let torch_sps = r.torch.map(|t| t.steps_per_s);
    let prefix = format!("{STEP_GROUP}/");
    for (group, label) in [(STEP_GROUP, ""), (TUNED_GROUP, ", glibc malloc tuned")] {
        let group_prefix = format!("{group}/");
        for (key, e) in r
            .estimates
            .iter()
            .filter(|(k, _)| k.starts_with(&group_prefix))
        {
            let backend = &key[group_prefix.len()..];
            let sps = 1e9 / e.ns;
            let ratio = torch_sps
                .map(|t| format!("{:.2}×", sps / t))
                .unwrap_or_else(|| "–".into());
            let _ = writeln!(
                s,
                "| Burn {backend}{label} | {sps:.1} | {:.2} ({:.2}–{:.2}) | {ratio} |",
                e.ns / 1e6,
                e.lo_ns / 1e6,
                e.hi_ns / 1e6
            );
        }
    }
    if let Some(t) = r.torch {
        let (lo, hi) = t
            .all
            .iter()
            .fold((f64::INFINITY, 0f64), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        let _ = writeln!(
            s,
            "| PyTorch {} | {:.1} | {:.2} (runs: {:.2}–{:.2}) | 1.00× |",
            t.version,
            t.steps_per_s,
            1e3 / t.steps_per_s,
            1e3 / hi,
            1e3 / lo
        );
    }
    let _ = writeln!(
        s,
        "\nBurn: criterion's mean time per iteration ({}, 95 % confidence interval). \
         PyTorch: median of {} after 20 warm-up steps \
         (range over the runs). Both use the same number of threads. \"glibc malloc tuned\": the same \
         step after `mallopt(M_MMAP_THRESHOLD, 32 MiB)` + `mallopt(M_TRIM_THRESHOLD, 256 MiB)` in \
         the benchmark process (see below).",
        if r.quick {
            "criterion `--quick` mode"
        } else {
            "30 samples"
        },
        if r.quick {
            "3 runs of whole steps for at least 1 s each"
        } else {
            "5 runs of whole steps for at least 3 s each"
        }
    );

    // Phases.
    let backends: Vec<String> = r
        .estimates
        .keys()
        .filter_map(|k| k.strip_prefix(&prefix).map(str::to_string))
        .collect();
    let phase = |p: &str, b: &str| {
        r.estimates
            .get(&format!("{PHASE_GROUP}/{p}/{b}"))
            .map(|e| e.ns / 1e6)
    };
    if PHASES
        .iter()
        .any(|(p, _)| backends.iter().any(|b| phase(p, b).is_some()))
    {
        let _ = writeln!(s, "\n## Phases (milliseconds per call)\n");
        let mut head = String::from("| phase | what it runs |");
        let mut rule = String::from("| --- | --- |");
        for b in &backends {
            let _ = write!(head, " Burn {b} |");
            rule.push_str(" ---: |");
        }
        if r.torch.is_some() {
            head.push_str(" PyTorch |");
            rule.push_str(" ---: |");
        }
        let _ = writeln!(s, "{head}\n{rule}");
        let cell = |x: Option<f64>| x.map(|x| format!("{x:.2}")).unwrap_or_else(|| "–".into());
        let torch_phase = |p: &str| r.torch.and_then(|t| t.phases_ms.get(p).copied());
        for (p, what) in PHASES {
            let mut row = format!("| `{p}` | {what} |");
            for b in &backends {
                let _ = write!(row, " {} |", cell(phase(p, b)));
            }
            if r.torch.is_some() {
                let _ = write!(row, " {} |", cell(torch_phase(p)));
            }
            let _ = writeln!(s, "{row}");
        }
        let step = |b: &str| r.estimates.get(&format!("{prefix}{b}")).map(|e| e.ns / 1e6);
        let mut row = String::from("| `step` | full training step |");
        for b in &backends {
            let _ = write!(row, " {} |", cell(step(b)));
        }
        if let Some(t) = r.torch {
            let _ = write!(row, " {} |", cell(Some(1e3 / t.steps_per_s)));
        }
        let _ = writeln!(s, "{row}");
        let mut row = String::from("| optimizer | `step` − `forward_backward` |");
        for b in &backends {
            let _ = write!(
                row,
                " {} |",
                cell(
                    step(b)
                        .zip(phase("forward_backward", b))
                        .map(|(a, c)| a - c)
                )
            );
        }
        if let Some(t) = r.torch {
            let _ = write!(
                row,
                " {} |",
                cell(torch_phase("forward_backward").map(|fb| 1e3 / t.steps_per_s - fb))
            );
        }
        let _ = writeln!(s, "{row}");
    }

    let _ = writeln!(
        s,
        "\nProduced by `{}` in {:.0} min (criterion reports: `target/criterion/`).\n",
        r.command, r.minutes
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_features_in_both_spellings_and_rejects_unknown_flags() {
        let o = parse_args(&["--features".into(), "wgpu".into(), "--quick".into()]).unwrap();
        assert_eq!(o.features.as_deref(), Some("wgpu"));
        assert!(o.quick && o.write);
        let o = parse_args(&["--features=wgpu".into(), "--no-write".into()]).unwrap();
        assert_eq!(o.features.as_deref(), Some("wgpu"));
        assert!(!o.write);
        let e = parse_args(&["--fast".into()]).unwrap_err();
        assert!(e.contains("--fast"), "{e}");
        assert!(parse_args(&["--features".into()]).is_err());
    }

    #[test]
    fn utc_date_is_iso_shaped() {
        let d = utc_date();
        assert_eq!(d.len(), 10, "{d}");
        assert_eq!(&d[4..5], "-");
        assert!(d[..4].parse::<u32>().unwrap() >= 2024, "{d}");
    }
}
