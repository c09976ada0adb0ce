//! The workloads of the speed issue, each timed as a whole training step (forward, backward,
//! Adam update) or a whole sampling run, on every compiled backend — and the same binary in a
//! second mode that `cargo xtask bench` runs alternately with `benches/pytorch/workloads.py`
//! (A, B, A, B …) to compare deepgen with PyTorch on the same machine.
//!
//! | workload | what one iteration is | unit |
//! | --- | --- | --- |
//! | `mlp_vae` | VAE 784-512-256-32 (ReLU, Bernoulli, analytic KL), batch 128 | step |
//! | `iwae_net` | VAE 784-200-200-50 tanh (the IWAE paper's net), batch 100 | step |
//! | `conv_vae` | `vae --conv 32,64`: two stride-2 4×4 conv blocks, latent 32, batch 128 | step |
//! | `realnvp_2d` | RealNVP, 8 affine couplings, 1-64-64-2 ReLU conditioners, batch 512 | step |
//! | `glow_mnist` | `glow_mnist`'s default Glow (2 levels × 8 steps, 128 hidden, LU 1×1 convs, learned split prior, logit input), batch 64 | step |
//! | `ddpm_unet` | `ddpm_mnist`'s default U-Net (base 16, mults 1,2,2, attention at 7×7), ε loss, batch 64 | step |
//! | `ddim_50` | 50 deterministic DDIM steps of that U-Net, batch 64, no autodiff | image |
//! | `vmf_sample` | 10⁵ draws of von Mises–Fisher on S⁶³ (κ = 10): Wood's sampler + Householder | sample |
//!
//! The training workloads go through the examples' own [`Task`]s (`loss` is the examples'
//! loss, the model the examples' model); the batch is built once by `Task::train_batch` and
//! reused, so the step is timed without data preparation (the `epoch_*` rows of
//! `cargo xtask bench` time that, through the examples themselves). No gradient clipping.
//! `device.sync()` ends every timed iteration, so asynchronous backends are measured to
//! completion. Like every deepgen binary, the process keeps freed memory
//! ([`keep_memory_in_process`](deepgen::train::allocator::keep_memory_in_process)).
//!
//! ```sh
//! cargo bench --bench workloads                         # criterion, every workload × backend
//! cargo bench --bench workloads -- glow_mnist           # one workload
//! cargo bench --features ndarray --bench workloads      # + ndarray
//! # one timed run, one JSON line (what `cargo xtask bench` alternates with PyTorch):
//! cargo bench --bench workloads -- --timed glow_mnist --backend flex --seconds 2 --repeats 3
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use burn::module::Module;
use burn::nn::activation::ActivationConfig;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Distribution, Tensor};
use criterion::{Criterion, Throughput};
use deepgen::autoencoders::models::body::{ConvBodyConfig, WithBody};
use deepgen::autoencoders::tasks::vae_task::{VaeBatch, VaeTask};
use deepgen::autoencoders::{Vae, VaeConfig};
use deepgen::data::{Binarization, Mnist, ToyDensity};
use deepgen::diffusion::tasks::mnist::MnistDiffusionTask;
use deepgen::diffusion::{DdimConfig, DiffusionModel, DiffusionModelConfig, run_sampler};
use deepgen::distributions::{Distribution as _, VonMisesFisher};
use deepgen::flows::tasks::image::{ImageFlowConfig, MnistFlowTask};
use deepgen::flows::tasks::toy::{ToyFlowConfig, ToyFlowKind, ToyFlowTask};
use deepgen::flows::{
    Affine, AffineScale, CouplingBijection, GlowConfig, ImageConditionerKind, Preprocess,
};
use deepgen::nn::UNetConfig;
use deepgen::tensor::{BackendKind, HostRng};
use deepgen::train::{FusedAdamConfig, StepContext, Task};

/// Every workload, in table order.
const WORKLOADS: [&str; 8] = [
    "mlp_vae",
    "iwae_net",
    "conv_vae",
    "realnvp_2d",
    "glow_mnist",
    "ddpm_unet",
    "ddim_50",
    "vmf_sample",
];

/// Parameters of `glow_mnist`'s default Glow (printed by the example).
const GLOW_PARAMS: usize = 433_868;
/// Parameters of `ddpm_mnist`'s default U-Net (printed by the example).
const UNET_PARAMS: usize = 280_177;

/// One timed unit of work.
trait Workload {
    /// What an iteration counts: `"steps"`, `"images"` or `"samples"`.
    fn unit(&self) -> &'static str;
    /// How many of `unit` one iteration does.
    fn items_per_iter(&self) -> usize;
    /// One iteration, ending with a device sync.
    fn run_iter(&mut self);
}

/// A full training step of a [`Task`]'s loss on a fixed batch.
struct TrainStep<T: Task> {
    task: T,
    model: Option<T::Model>,
    optim: ModuleOptimizer,
    batch: Box<dyn FnMut() -> T::Batch>,
    device: Device,
    lr: f64,
    step: u64,
}

impl<T: Task> TrainStep<T> {
    /// Builds the step: `model` on the autodiff `device`, the task's `before_first_step` hook
    /// (Glow's ActNorm initialisation) run once on the batch, Adam with default settings.
    fn new(
        mut task: T,
        model: T::Model,
        mut batch: Box<dyn FnMut() -> T::Batch>,
        device: Device,
        lr: f64,
    ) -> Self {
        let first = batch();
        let model = task
            .before_first_step(model, &first)
            .expect("the data-dependent initialisation runs");
        Self {
            task,
            model: Some(model),
            optim: FusedAdamConfig::new().init(),
            batch,
            device,
            lr,
            step: 0,
        }
    }
}

impl<T: Task> Workload for TrainStep<T> {
    fn unit(&self) -> &'static str {
        "steps"
    }

    fn items_per_iter(&self) -> usize {
        1
    }

    fn run_iter(&mut self) {
        let model = self
            .model
            .take()
            .expect("the model is put back after every step");
        let ctx = StepContext {
            epoch: 0,
            step: self.step,
            weights: Default::default(),
        };
        let out = self.task.loss(&model, (self.batch)(), &ctx);
        let grads = GradientsParams::from_grads(out.loss.backward(), &model);
        self.model = Some(self.optim.step(self.lr, model, grads));
        self.step += 1;
        self.device.sync().expect("device sync");
    }
}

/// 50 deterministic DDIM steps of the U-Net on a plain device.
struct Ddim50 {
    model: DiffusionModel,
    sampler: deepgen::diffusion::Ddim,
    batch: usize,
    device: Device,
}

impl Workload for Ddim50 {
    fn unit(&self) -> &'static str {
        "images"
    }

    fn items_per_iter(&self) -> usize {
        self.batch
    }

    fn run_iter(&mut self) {
        let x_t = Tensor::<4>::random(
            [self.batch, 1, 28, 28],
            Distribution::Normal(0.0, 1.0),
            &self.device,
        );
        let x0 = run_sampler(
            &self.sampler,
            x_t,
            |x, t| self.model.forward_at(x, t),
            |_| None,
        );
        black_box(x0);
        self.device.sync().expect("device sync");
    }
}

/// 10⁵ von Mises–Fisher draws.
struct VmfSample {
    dist: VonMisesFisher,
    rng: HostRng,
    n: usize,
    device: Device,
}

impl Workload for VmfSample {
    fn unit(&self) -> &'static str {
        "samples"
    }

    fn items_per_iter(&self) -> usize {
        self.n
    }

    fn run_iter(&mut self) {
        black_box(self.dist.sample(&mut self.rng));
        self.device.sync().expect("device sync");
    }
}

fn mnist() -> Mnist {
    Mnist::load(None).expect("MNIST (bundled in data/mnist)")
}

/// A VAE training step on one dynamically binarised batch of real MNIST images; ε is drawn
/// afresh at every step (a new noise seed), as in training.
fn vae_step(config: VaeConfig, batch: usize, device: &Device) -> Box<dyn Workload> {
    let ad = device.clone().autodiff();
    ad.seed(0);
    let data = mnist();
    let mut task: VaeTask<Vae> =
        VaeTask::new(data.train, data.test, batch, Binarization::Dynamic, 0);
    let first = task.train_batch(0, 0, &mut HostRng::seed_from_u64(0), &ad);
    let x = first.x;
    let mut seed = first.noise_seed;
    let make = Box::new(move || {
        seed = seed.wrapping_add(1);
        VaeBatch {
            x: x.clone(),
            noise_seed: seed,
        }
    });
    let model = config.init(&ad);
    Box::new(TrainStep::new(task, model, make, ad, 1e-3))
}

/// Builds `name` on `device` (plain; training workloads use its autodiff twin).
fn build(name: &str, device: &Device) -> Box<dyn Workload> {
    match name {
        "mlp_vae" => vae_step(VaeConfig::new(), 128, device),
        "iwae_net" => vae_step(
            VaeConfig::new()
                .with_hidden(vec![200, 200])
                .with_activation(ActivationConfig::Tanh)
                .with_latent_dim(50),
            100,
            device,
        ),
        "conv_vae" => vae_step(
            VaeConfig::new().with_conv(Some(ConvBodyConfig::new([1, 28, 28], vec![32, 64]))),
            128,
            device,
        ),
        "realnvp_2d" => {
            let ad = device.clone().autodiff();
            ad.seed(0);
            let mut task =
                ToyFlowTask::new(ToyDensity::EightGaussians, 512, 1, 0).expect("valid toy task");
            let x = task.train_batch(0, 0, &mut HostRng::seed_from_u64(0), &ad);
            let mut config = ToyFlowConfig::new(ToyFlowKind::RealNvp);
            config.layers = 8;
            config.hidden = vec![64, 64];
            let model = config.try_init(&ad).expect("valid RealNVP");
            Box::new(TrainStep::new(
                task,
                model,
                Box::new(move || x.clone()),
                ad,
                1e-3,
            ))
        }
        "glow_mnist" => {
            let ad = device.clone().autodiff();
            ad.seed(0);
            let data = mnist();
            let mut task =
                MnistFlowTask::new(data.train, data.test, 64, 0).expect("valid flow task");
            let x = task.train_batch(0, 0, &mut HostRng::seed_from_u64(0), &ad);
            let config = ImageFlowConfig::Glow(
                GlowConfig::new([1, 28, 28])
                    .with_coupling(CouplingBijection::Affine(
                        Affine::new().with_scale(AffineScale::SoftClampedExp(3.0)),
                    ))
                    .with_preprocess(Preprocess::Logit(0.05))
                    .with_levels(2)
                    .with_steps_per_level(8)
                    .with_hidden_channels(128)
                    .with_conditioner(ImageConditionerKind::Conv)
                    .with_lu_decomposed(true)
                    .with_learned_prior(true),
            );
            let model = config.try_init(&ad).expect("valid Glow");
            assert_eq!(model.num_params(), GLOW_PARAMS, "glow_mnist's default Glow");
            Box::new(TrainStep::new(
                task,
                model,
                Box::new(move || x.clone()),
                ad,
                1e-3,
            ))
        }
        "ddpm_unet" => {
            let ad = device.clone().autodiff();
            ad.seed(0);
            let data = mnist();
            let mut task = MnistDiffusionTask::new(data.train, data.test, 64, 1000, 0)
                .expect("valid diffusion task");
            let batch = task.train_batch(0, 0, &mut HostRng::seed_from_u64(0), &ad);
            let model = unet_model(&ad);
            Box::new(TrainStep::new(
                task,
                model,
                Box::new(move || batch.clone()),
                ad,
                5e-4,
            ))
        }
        "ddim_50" => {
            device.seed(0);
            let model = unet_model(device);
            let sampler = DdimConfig::new(50).init(&model.schedule);
            Box::new(Ddim50 {
                model,
                sampler,
                batch: 64,
                device: device.clone(),
            })
        }
        "vmf_sample" => {
            device.seed(0);
            let (n, m) = (100_000, 64);
            let v = Tensor::<2>::random([n, m], Distribution::Normal(0.0, 1.0), device);
            let loc = v.clone() / (v.clone() * v).sum_dim(1).sqrt();
            let kappa = Tensor::<1>::full([n], 10.0, device);
            let dist = VonMisesFisher::new(loc, kappa).expect("unit-norm rows, κ ≥ 0");
            Box::new(VmfSample {
                dist,
                rng: HostRng::seed_from_u64(0),
                n,
                device: device.clone(),
            })
        }
        other => panic!(
            "unknown workload `{other}`; known: {}",
            WORKLOADS.join(", ")
        ),
    }
}

/// `ddpm_mnist`'s default model (its flags' defaults: base 16, mults 1,2,2, one residual
/// block, attention at 7×7, no dropout, linear schedule, T = 1000, ε prediction).
fn unet_model(device: &Device) -> DiffusionModel {
    let unet = UNetConfig::new(1, [28, 28])
        .with_base_channels(16)
        .with_channel_mults(vec![1, 2, 2])
        .with_num_res_blocks(1)
        .with_attention_resolutions(vec![7])
        .with_dropout(0.0);
    let model = DiffusionModelConfig::new(unet).init(device);
    assert_eq!(
        model.num_params(),
        UNET_PARAMS,
        "ddpm_mnist's default U-Net"
    );
    model
}

/// The backends to benchmark: every compiled one, with wgpu once (wgpu-cpu is the same code).
fn backends() -> Vec<BackendKind> {
    BackendKind::compiled()
        .into_iter()
        .filter(|k| *k != BackendKind::WgpuCpu)
        .collect()
}

/// Peak resident memory of this process (`VmHWM`), in MiB; `None` off Linux.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Options of the `--timed` mode.
struct Timed {
    workload: String,
    backend: BackendKind,
    seconds: f64,
    repeats: usize,
    warmup: Option<usize>,
}

fn parse_timed(args: &[String]) -> Result<Option<Timed>, String> {
    let Some(i) = args.iter().position(|a| a == "--timed") else {
        return Ok(None);
    };
    let value = |flag: &str| -> Result<Option<String>, String> {
        match args.iter().position(|a| a == flag) {
            Some(j) => args
                .get(j + 1)
                .cloned()
                .map(Some)
                .ok_or_else(|| format!("`{flag}` needs a value")),
            None => Ok(None),
        }
    };
    let workload = args
        .get(i + 1)
        .cloned()
        .ok_or_else(|| format!("`--timed` needs a workload: {}", WORKLOADS.join(", ")))?;
    if !WORKLOADS.contains(&workload.as_str()) {
        return Err(format!(
            "unknown workload `{workload}`; known: {}",
            WORKLOADS.join(", ")
        ));
    }
    let backend = match value("--backend")? {
        Some(b) => b.parse::<BackendKind>().map_err(|e| e.to_string())?,
        None => BackendKind::Flex,
    };
    if !BackendKind::compiled().contains(&backend) {
        return Err(format!(
            "backend `{}` is not compiled in; add `--features {}` to `cargo bench`",
            backend.name(),
            backend.name()
        ));
    }
    let num = |flag: &str, default: f64| -> Result<f64, String> {
        match value(flag)? {
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x > 0.0)
                .ok_or_else(|| format!("`{flag}` must be a positive number, got `{v}`")),
            None => Ok(default),
        }
    };
    Ok(Some(Timed {
        workload,
        backend,
        seconds: num("--seconds", 2.0)?,
        repeats: match value("--repeats")? {
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("`--repeats` must be a positive integer, got `{v}`"))?,
            None => 3,
        },
        warmup: match value("--warmup")? {
            Some(v) => Some(
                v.parse()
                    .map_err(|_| format!("`--warmup` must be an integer, got `{v}`"))?,
            ),
            None => None,
        },
    }))
}

/// Rayon's thread count: `RAYON_NUM_THREADS`, else every available core.
fn threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The `--timed` mode: warm-up, then `repeats` runs of whole iterations for at least `seconds`
/// each; prints one JSON line with the rate of each run, their median and the peak RSS.
/// Runs `f` on rayon's pool, as every example runs (`deepgen::train::run_main`), unless
/// `DEEPGEN_ON_POOL=off`, which times the kernels called from the main thread instead.
fn on_pool_unless_off(f: impl FnOnce() + Send) {
    if std::env::var("DEEPGEN_ON_POOL").is_ok_and(|v| v.trim().eq_ignore_ascii_case("off")) {
        return f();
    }
    deepgen::train::pool::on_pool(f)
}

fn run_timed(t: &Timed) {
    let device = t.backend.device().expect("a compiled backend");
    let mut w = build(&t.workload, &device);
    let warmup = t.warmup.unwrap_or(match w.unit() {
        "steps" => 3,
        _ => 1,
    });
    for _ in 0..warmup {
        w.run_iter();
    }
    let mut rates = Vec::with_capacity(t.repeats);
    for _ in 0..t.repeats.max(1) {
        let start = Instant::now();
        let mut iters = 0usize;
        while iters == 0 || start.elapsed().as_secs_f64() < t.seconds {
            w.run_iter();
            iters += 1;
        }
        rates.push((iters * w.items_per_iter()) as f64 / start.elapsed().as_secs_f64());
    }
    let mut sorted = rates.clone();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    let median = if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        0.5 * (sorted[mid - 1] + sorted[mid])
    };
    let json = serde_json::json!({
        "workload": t.workload,
        "impl": format!("deepgen-{}", t.backend.name()),
        "threads": threads(),
        "unit": w.unit(),
        "items_per_iter": w.items_per_iter(),
        "per_s_median": median,
        "per_s_all": rates,
        "peak_rss_mib": peak_rss_mib(),
    });
    println!("{json}");
}

/// Criterion's flags that take a value (their values are not name filters).
const CRITERION_VALUE_FLAGS: [&str; 14] = [
    "--save-baseline",
    "--baseline",
    "--baseline-lenient",
    "--load-baseline",
    "--measurement-time",
    "--warm-up-time",
    "--sample-size",
    "--nresamples",
    "--noise-threshold",
    "--confidence-level",
    "--significance-level",
    "--profile-time",
    "--output-format",
    "--color",
];

/// Criterion's name filter: the first argument that is neither a flag nor a flag's value.
fn name_filter(args: &[String]) -> Option<&str> {
    let mut skip = false;
    for a in args {
        if skip {
            skip = false;
            continue;
        }
        if CRITERION_VALUE_FLAGS.contains(&a.as_str()) {
            skip = true;
        } else if !a.starts_with('-') {
            return Some(a);
        }
    }
    None
}

/// Criterion: one group per workload, one function per backend. A workload × backend that the
/// name filter excludes (matched here as a substring of `workload/backend`) is not built, so
/// that a filtered run does not construct and warm up every model.
fn criterion_benches(c: &mut Criterion, args: &[String]) {
    let filter = name_filter(args);
    for name in WORKLOADS {
        let kinds: Vec<BackendKind> = backends()
            .into_iter()
            .filter(|k| filter.is_none_or(|f| format!("{name}/{}", k.name()).contains(f)))
            .collect();
        if kinds.is_empty() {
            continue;
        }
        let mut group = c.benchmark_group(name);
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(5));
        group.warm_up_time(Duration::from_secs(1));
        for kind in kinds {
            let device = kind.device().expect("compiled backend");
            let mut w = build(name, &device);
            w.run_iter();
            group.throughput(Throughput::Elements(w.items_per_iter() as u64));
            group.bench_function(kind.name(), |b| b.iter(|| w.run_iter()));
        }
        group.finish();
    }
}

fn main() {
    let _ = deepgen::train::allocator::keep_memory_in_process();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse_timed(&args) {
        Ok(Some(t)) => on_pool_unless_off(|| run_timed(&t)),
        Ok(None) => on_pool_unless_off(|| {
            let mut c = Criterion::default().configure_from_args();
            criterion_benches(&mut c, &args);
            c.final_summary();
        }),
        Err(e) => {
            eprintln!("workloads: {e}");
            std::process::exit(2);
        }
    }
}
