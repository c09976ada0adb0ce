//! `cargo xtask bench`: deepgen against PyTorch on the same machine, written up in
//! `docs/performance.md`.
//!
//! 1. Makes sure a Python with PyTorch exists: `target/pytorch-venv` (created with
//!    `python3 -m venv`, then `pip install torch numpy` when `import torch` fails there).
//!    The default PyPI wheel of torch is used, CUDA packages and all (≈ 5.4 GB on disk,
//!    about two minutes to install here): `pip install --no-deps torch` does not work because
//!    `libtorch_global_deps.so` links `libcudart` from the `nvidia-*` wheels, and the
//!    CPU-only wheels are not on PyPI.
//! 2. Side by side ([`crate::side_by_side`]): every step workload of `benches/workloads.rs`
//!    on flex and ndarray against `benches/pytorch/workloads.py`, and every `epoch_*` row (an
//!    example's own training loop against the plain PyTorch loop), alternating deepgen and
//!    PyTorch for `--rounds` rounds, one process per measurement, peak RSS of each.
//! 3. Runs `cargo bench --bench vae_step -- --noplot` (criterion) and reads every
//!    `target/criterion/**/new/estimates.json` written by this run (mean ns per iteration),
//!    then `benches/pytorch/vae_step.py --phases` with the same thread count as Burn's
//!    rayon pool: the MLP VAE step taken apart.
//! 4. Writes `docs/performance.md`: machine, the side-by-side tables (median rate of each
//!    side, the median and range of the per-round ratios, peak memory), the VAE step and
//!    its phases, and the command. Everything from the line [`KEEP_MARKER`] on is
//!    hand-written analysis and is carried over unchanged.
//!
//! Options: `--features LIST` (passed to cargo, e.g. `--features wgpu`), `--rounds N`
//! (default 3), `--seconds S` (timed seconds per step-workload process, default 3),
//! `--only A,B` (rows whose name contains A or B), `--skip-steps`, `--skip-epochs`,
//! `--skip-criterion` (the VAE-step criterion section), `--no-ndarray` (flex only),
//! `--quick` (one round of 1 s, criterion's `--quick`, PyTorch 3 × 1 s: a smoke run, not
//! for committing), `--python PATH` (a Python that already has torch; skips the venv),
//! `--no-write` (print the report instead of writing `docs/performance.md`),
//! `--skip-pytorch`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::side_by_side::{Row, epoch_what};

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
    rounds: Option<usize>,
    seconds: Option<f64>,
    only: Option<Vec<String>>,
    skip_steps: bool,
    skip_epochs: bool,
    skip_criterion: bool,
    no_ndarray: bool,
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
            "--skip-steps" => o.skip_steps = true,
            "--skip-epochs" => o.skip_epochs = true,
            "--skip-criterion" => o.skip_criterion = true,
            "--no-ndarray" => o.no_ndarray = true,
            "--rounds" => {
                let v = it
                    .next()
                    .ok_or("`--rounds` needs a value, e.g. `--rounds 3`")?;
                o.rounds =
                    Some(v.parse().ok().filter(|&n: &usize| n > 0).ok_or_else(|| {
                        format!("`--rounds` must be a positive integer, got `{v}`")
                    })?);
            }
            "--seconds" => {
                let v = it
                    .next()
                    .ok_or("`--seconds` needs a value, e.g. `--seconds 3`")?;
                o.seconds = Some(
                    v.parse()
                        .ok()
                        .filter(|x: &f64| x.is_finite() && *x > 0.0)
                        .ok_or_else(|| {
                            format!("`--seconds` must be a positive number, got `{v}`")
                        })?,
                );
            }
            "--only" => {
                let v = it
                    .next()
                    .ok_or("`--only` needs row names, e.g. `--only glow,ddpm`")?;
                o.only = Some(v.split(',').map(str::to_string).collect());
            }
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
                     --rounds N, --seconds S, --only A,B, --skip-steps, --skip-epochs, \
                     --skip-criterion, --no-ndarray, --quick, --python PATH, --no-write, \
                     --skip-pytorch"
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

    // (2) side by side.
    let mut features: Vec<String> = opts
        .features
        .iter()
        .flat_map(|f| f.split(','))
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty())
        .collect();
    let mut backends = vec!["flex".to_string()];
    if !opts.no_ndarray {
        if !features.iter().any(|f| f == "ndarray") {
            features.push("ndarray".into());
        }
        backends.push("ndarray".into());
    }
    if features.iter().any(|f| f == "wgpu") {
        backends.push("wgpu".into());
    }
    let plan = crate::side_by_side::Plan {
        rounds: opts.rounds.unwrap_or(if opts.quick { 1 } else { 3 }),
        seconds: opts.seconds.unwrap_or(if opts.quick { 1.0 } else { 3.0 }),
        only: opts.only.clone(),
        steps: !opts.skip_steps,
        epochs: !opts.skip_epochs,
        threads,
        backends,
        features: (!features.is_empty()).then(|| features.join(",")),
    };
    let (step_rows, epoch_rows) = crate::side_by_side::run(root, &plan, python.as_deref())?;

    // (3) criterion and the PyTorch step of the MLP VAE, taken apart.
    let mut estimates = BTreeMap::new();
    let mut torch = None;
    if !opts.skip_criterion {
        let criterion_dir = target_dir(root).join("criterion");
        let bench_start = SystemTime::now();
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.current_dir(root).args(["bench", "--bench", "vae_step"]);
        if let Some(f) = &plan.features {
            cmd.args(["--features", f]);
        }
        cmd.args(["--", "--noplot"]);
        if opts.quick {
            cmd.arg("--quick");
        }
        crate::run(&mut cmd)?;
        estimates = read_estimates(&criterion_dir, bench_start)?;
        if !estimates.keys().any(|k| k.starts_with(STEP_GROUP)) {
            return Err(format!(
                "`cargo bench` wrote no {}/{STEP_GROUP}/*/new/estimates.json; did the benchmark run?",
                criterion_dir.display()
            ));
        }
        torch = match &python {
            Some(py) => Some(run_pytorch(root, py, threads, opts.quick)?),
            None => None,
        };
    }

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
        rounds: plan.rounds,
        seconds: plan.seconds,
        step_rows: &step_rows,
        epoch_rows: &epoch_rows,
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
    rounds: usize,
    seconds: f64,
    step_rows: &'a [Row],
    epoch_rows: &'a [Row],
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

/// A side-by-side table: the rate of every side, each deepgen side's ratio to PyTorch, and
/// peak memory.
fn render_rows(s: &mut String, rows: &[Row]) {
    use std::fmt::Write;
    let mut sides: Vec<String> = Vec::new();
    for row in rows {
        for k in row.sides.keys() {
            if k != "pytorch" && !sides.contains(k) {
                sides.push(k.clone());
            }
        }
    }
    let label = |k: &str| k.strip_prefix("deepgen-").unwrap_or(k).to_string();
    let mut head = String::from("| workload | unit |");
    let mut rule = String::from("| --- | --- |");
    for k in &sides {
        let _ = write!(head, " deepgen {} |", label(k));
        rule.push_str(" ---: |");
    }
    head.push_str(" PyTorch |");
    rule.push_str(" ---: |");
    for k in &sides {
        let _ = write!(head, " {} ÷ PyTorch |", label(k));
        rule.push_str(" ---: |");
    }
    head.push_str(" peak RSS, MiB (");
    for k in &sides {
        let _ = write!(head, "{} / ", label(k));
    }
    head.push_str("PyTorch) |");
    rule.push_str(" ---: |");
    let _ = writeln!(s, "{head}\n{rule}");
    let rate = |x: Option<f64>| match x {
        Some(x) if x >= 1000.0 => format!("{x:.0}"),
        Some(x) if x >= 10.0 => format!("{x:.1}"),
        Some(x) => format!("{x:.2}"),
        None => "–".into(),
    };
    for row in rows {
        let mut line = format!("| `{}` | {} |", row.name, row.unit);
        for k in &sides {
            let _ = write!(line, " {} |", rate(row.median(k)));
        }
        let _ = write!(line, " {} |", rate(row.median("pytorch")));
        for k in &sides {
            let ratios = row.ratios(k);
            let cell = match crate::side_by_side::median(ratios.clone()) {
                Some(m) if ratios.len() > 1 => {
                    let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = ratios.iter().copied().fold(0.0, f64::max);
                    format!("**{m:.2}×** ({lo:.2}–{hi:.2})")
                }
                Some(m) => format!("**{m:.2}×**"),
                None => "–".into(),
            };
            let _ = write!(line, " {cell} |");
        }
        let mem: Vec<String> = sides
            .iter()
            .map(String::as_str)
            .chain(["pytorch"])
            .map(|k| row.peak_rss(k).map_or("–".into(), |m| format!("{m:.0}")))
            .collect();
        let _ = writeln!(s, "{line} {} |", mem.join(" / "));
    }
    let failures: Vec<String> = rows
        .iter()
        .flat_map(|r| r.failures.iter().map(move |f| format!("`{}` {f}", r.name)))
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(s, "\nRuns that failed (left out of the cells above):\n");
        for f in failures {
            let _ = writeln!(s, "- {f}");
        }
    }
}

fn render(r: &Report<'_>) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "# Performance\n");
    let _ = writeln!(
        s,
        "deepgen against PyTorch on the same machine in the same run: the workloads of the speed \
         issue as whole training steps or sampling runs (`benches/workloads.rs` against \
         `benches/pytorch/workloads.py`), whole epochs of the examples against plain PyTorch \
         loops, and the MLP VAE step taken apart (criterion). The sections up to the \
         hand-written analysis are generated by `{}`; re-run it to refresh them.\n",
        r.command
    );
    let _ = writeln!(s, "## Machine\n\n| | |\n| --- | --- |");
    for (k, v) in &r.machine {
        let _ = writeln!(s, "| {k} | {v} |");
    }
    if !r.step_rows.is_empty() {
        let _ = writeln!(
            s,
            "\n## Workloads, side by side\n\nA training step (forward, backward, Adam update) on a \
             fixed batch, or a sampling run; items per second. Each cell is the median over {} \
             round(s); every round runs each side once, in its own process ({} s of timed \
             iterations after a warm-up), deepgen and PyTorch alternating (the first side \
             alternates too). Ratio: the median (and range) of the per-round ratios, above 1 \
             when deepgen is faster. Peak RSS: the largest `VmHWM` of the process over the \
             rounds (the whole process: libraries, data, model).\n",
            r.rounds, r.seconds
        );
        render_rows(&mut s, r.step_rows);
    }
    if !r.epoch_rows.is_empty() {
        let _ = writeln!(
            s,
            "\n## Whole epochs of the examples\n\nThe example's own training loop (batches, \
             noise, metrics, all of it: `train_examples_per_s` in its `metrics.jsonl`) against \
             the plain PyTorch loop with the same network, batch, optimizer and threads; \
             training images per second, median over {} round(s), alternating as above.\n",
            r.rounds
        );
        render_rows(&mut s, r.epoch_rows);
        let _ = writeln!(
            s,
            "\n| row | deepgen command | PyTorch command | what |\n| --- | --- | --- | --- |"
        );
        for row in r.epoch_rows {
            if let Some((what, ours, theirs)) = epoch_what(&row.name) {
                let _ = writeln!(s, "| `{}` | `{ours}` | `{theirs}` | {what} |", row.name);
            }
        }
    }
    if r.estimates.is_empty() {
        let _ = writeln!(
            s,
            "\nProduced by `{}` in {:.0} min.\n",
            r.command, r.minutes
        );
        return s;
    }
    let _ = writeln!(
        s,
        "\n## The MLP VAE step in detail\n\nOne training step (forward, backward, Adam update) \
         of the 784-512-256-32 MLP VAE (`deepgen::autoencoders::Vae`, ReLU, Bernoulli decoder, \
         analytic KL) at batch 128, in Burn (`benches/vae_step.rs`, criterion) and in PyTorch \
         (`benches/pytorch/vae_step.py`, the same network, loss and \
         `torch.optim.Adam(lr=1e-3)`).\n"
    );
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
        let _ = writeln!(s, "\n### Phases (milliseconds per call)\n");
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
    fn parses_the_side_by_side_options_and_rejects_bad_values() {
        let args: Vec<String> = [
            "--rounds",
            "5",
            "--seconds",
            "1.5",
            "--only",
            "glow,epoch_ddpm",
            "--skip-epochs",
            "--skip-criterion",
            "--no-ndarray",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        let o = parse_args(&args).unwrap();
        assert_eq!(o.rounds, Some(5));
        assert_eq!(o.seconds, Some(1.5));
        assert_eq!(
            o.only,
            Some(vec!["glow".to_string(), "epoch_ddpm".to_string()])
        );
        assert!(o.skip_epochs && o.skip_criterion && o.no_ndarray && !o.skip_steps);
        for bad in [
            ["--rounds", "0"],
            ["--rounds", "x"],
            ["--seconds", "-1"],
            ["--seconds", "nan"],
        ] {
            let e = parse_args(&bad.map(String::from)).unwrap_err();
            assert!(e.contains(bad[0]), "{e}");
        }
    }

    #[test]
    fn report_tables_show_each_side_the_ratios_and_memory() {
        use crate::side_by_side::Measurement;
        let m = |per_s, rss| Measurement {
            per_s,
            peak_rss_mib: Some(rss),
        };
        let mut row = Row {
            name: "glow_mnist".into(),
            unit: "training steps".into(),
            ..Row::default()
        };
        for (round, (ours, theirs)) in [
            (m(2.0, 600.0), m(4.0, 900.0)),
            (m(2.2, 610.0), m(4.0, 905.0)),
            (m(2.1, 605.0), m(3.5, 899.0)),
        ]
        .into_iter()
        .enumerate()
        {
            row.record("deepgen-flex", round, Ok(ours));
            row.record("pytorch", round, Ok(theirs));
        }
        row.record("deepgen-flex", 3, Err("exit status 1".into()));
        let mut s = String::new();
        render_rows(&mut s, &[row]);
        assert!(
            s.contains("| deepgen flex | PyTorch | flex ÷ PyTorch |"),
            "{s}"
        );
        // per-round ratios 0.5, 0.55, 0.6: median 0.55, range 0.50–0.60
        assert!(s.contains("**0.55×** (0.50–0.60)"), "{s}");
        assert!(s.contains("| 2.10 | 4.00 |"), "{s}");
        assert!(s.contains("610 / 905 |"), "{s}");
        assert!(
            s.contains("- `glow_mnist` deepgen-flex, round 4: exit status 1"),
            "{s}"
        );
    }

    #[test]
    fn utc_date_is_iso_shaped() {
        let d = utc_date();
        assert_eq!(d.len(), 10, "{d}");
        assert_eq!(&d[4..5], "-");
        assert!(d[..4].parse::<u32>().unwrap() >= 2024, "{d}");
    }
}
