//! Criterion benchmarks of the 784-512-256-32 MLP VAE at batch 128 on every compiled
//! backend — the same network, loss, batch and optimizer as `benches/pytorch/vae_step.py`,
//! which `cargo xtask bench` runs beside them and compares against.
//!
//! Two groups:
//!
//! - `vae_step_784-512-256-32_b128/<backend>`: one full training step (forward, backward,
//!   Adam update). This is the headline number in `docs/performance.md`.
//! - `vae_step_malloc_tuned_b128/<backend>` (Linux with glibc only; runs last): the full
//!   step again after `mallopt(M_MMAP_THRESHOLD, 32 MiB)` and `mallopt(M_TRIM_THRESHOLD,
//!   256 MiB)`, which keep freed tensor buffers in the heap instead of returning them to the
//!   kernel and page-faulting them back in on the next step (see `docs/performance.md`).
//! - `vae_phases_b128/<phase>/<backend>`: the same step taken apart, to see where the time
//!   goes (the optimizer's share is `step − forward_backward`):
//!   - `inference_forward`: the loss on the plain (non-autodiff) device: the kernels alone;
//!   - `forward`: the loss on the autodiff device (kernels + graph recording); the graph is
//!     then released by an untimed `backward()`;
//!   - `forward_backward`: forward, `backward()` and `GradientsParams::from_grads`;
//!   - `gemm_only`: just the 17 matrix products of one step (6 forward, 6 weight gradients,
//!     5 input gradients, with the transposed operands autodiff uses) on the plain device.
//!
//! The input is Bernoulli(0.3) pixels drawn once and reused at every iteration, as in the
//! PyTorch script; the reparameterisation noise is drawn from the device RNG every step.
//! `device.sync()` is inside every timed region so asynchronous backends (wgpu) are
//! measured to completion.
//!
//! ```sh
//! cargo bench --bench vae_step                            # flex (every compiled backend)
//! cargo bench --features ndarray --bench vae_step         # + ndarray
//! cargo bench --bench vae_step -- vae_step_               # only the full-step group
//! cargo bench --features wgpu --bench vae_step            # + wgpu
//! RAYON_NUM_THREADS=1 cargo bench --bench vae_step        # single-threaded Burn
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Distribution, Tensor};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use deepgen::autoencoders::{Vae, VaeConfig};
use deepgen::tensor::BackendKind;
use deepgen::train::FusedAdamConfig;

/// Batch size of every benchmark here (and of the PyTorch script).
const BATCH: usize = 128;
/// Pixels per example.
const INPUT: usize = 784;
/// Latent dimensionality (the encoder's last layer has twice as many outputs).
const LATENT: usize = 32;
/// Layer widths of the encoder followed by the decoder, as `(in, out)`.
const LAYERS: [(usize, usize); 6] = [
    (784, 512),
    (512, 256),
    (256, 64),
    (32, 256),
    (256, 512),
    (512, 784),
];
// The encoder's last layer outputs [μ, log σ].
const _: () = assert!(LAYERS[2].1 == 2 * LATENT && LAYERS[3].0 == LATENT);

/// The backends to benchmark: every compiled one, with wgpu once (wgpu-cpu is the same code).
fn backends() -> Vec<BackendKind> {
    BackendKind::compiled()
        .into_iter()
        .filter(|k| *k != BackendKind::WgpuCpu)
        .collect()
}

/// A freshly initialised model, its optimizer and the fixed input, on `kind`'s autodiff device.
fn setup(kind: BackendKind) -> (Device, Vae, ModuleOptimizer, Tensor<2>) {
    let device: Device = kind
        .device()
        .expect("BackendKind::compiled() returns compiled backends");
    let ad = device.autodiff();
    ad.seed(0);
    let model = VaeConfig::new().init(&ad);
    let optim = FusedAdamConfig::new().init();
    let x = Tensor::<2>::random([BATCH, INPUT], Distribution::Bernoulli(0.3), &ad);
    (ad, model, optim, x)
}

/// The batch-mean negative ELBO (β = 1), with ε drawn on the host as in training
/// (4 096 normals per step, as PyTorch's `randn_like` draws them on its CPU device).
fn loss(model: &Vae, x: &Tensor<2>) -> Tensor<1> {
    thread_local! {
        static RNG: std::cell::RefCell<deepgen::tensor::HostRng> =
            std::cell::RefCell::new(deepgen::tensor::HostRng::seed_from_u64(0));
    }
    RNG.with(|r| model.elbo_terms(x.clone(), &mut r.borrow_mut()).loss(1.0))
}

/// Forward and backward: the parameter gradients of the loss.
fn gradients(model: &Vae, x: &Tensor<2>) -> GradientsParams {
    GradientsParams::from_grads(loss(model, x).backward(), model)
}

/// One full training step.
fn step(model: Vae, optim: &mut ModuleOptimizer, x: &Tensor<2>) -> Vae {
    let grads = gradients(&model, x);
    optim.step(1e-3, model, grads)
}

/// Runs `n` training steps (warm-up: allocations, kernel compilation on wgpu, Adam moments).
fn warm_up(
    mut model: Vae,
    optim: &mut ModuleOptimizer,
    x: &Tensor<2>,
    device: &Device,
    n: usize,
) -> Vae {
    for _ in 0..n {
        model = step(model, optim, x);
    }
    device.sync().expect("device sync");
    model
}

fn bench_vae_step(c: &mut Criterion) {
    bench_steps(c, "vae_step_784-512-256-32_b128");
}

/// Benchmarks one full training step per backend in criterion group `group_name`.
fn bench_steps(c: &mut Criterion, group_name: &str) {
    let mut group = c.benchmark_group(group_name);
    group.throughput(Throughput::Elements(1)); // one optimizer step per iteration
    group.sample_size(30);
    for kind in backends() {
        let (ad, model, mut optim, x) = setup(kind);
        let model = warm_up(model, &mut optim, &x, &ad, 3);
        let mut slot = Some(model);
        group.bench_function(kind.name(), |b| {
            b.iter(|| {
                let m = slot.take().expect("the model is put back after every step");
                slot = Some(step(m, &mut optim, &x));
                ad.sync().expect("device sync");
            })
        });
    }
    group.finish();
}

/// glibc's `mallopt` parameters (`<malloc.h>`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod glibc {
    use std::ffi::c_int;
    pub const M_TRIM_THRESHOLD: c_int = -1;
    pub const M_MMAP_THRESHOLD: c_int = -3;
    unsafe extern "C" {
        pub fn mallopt(param: c_int, value: c_int) -> c_int;
    }
}

/// The full step after tuning glibc malloc: allocations up to 32 MiB come from the heap and
/// up to 256 MiB of free memory stay mapped. This changes the allocator for the rest of the
/// process, so this group runs last.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn bench_vae_step_malloc_tuned(c: &mut Criterion) {
    // SAFETY: mallopt only changes allocator parameters; both values are within glibc's
    // accepted ranges (the mmap threshold may be at most 32 MiB on 64-bit targets).
    let ok = unsafe {
        glibc::mallopt(glibc::M_MMAP_THRESHOLD, 32 << 20) == 1
            && glibc::mallopt(glibc::M_TRIM_THRESHOLD, 256 << 20) == 1
    };
    assert!(ok, "mallopt rejected the thresholds");
    bench_steps(c, "vae_step_malloc_tuned_b128");
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn bench_vae_step_malloc_tuned(_c: &mut Criterion) {}

/// The operands of the 17 matrix products of one training step, on a plain device:
/// `(lhs, rhs)` pairs whose product has the shape autodiff computes.
fn step_matmul_operands(device: &Device) -> Vec<(Tensor<2>, Tensor<2>)> {
    let normal = Distribution::Normal(0.0, 1.0);
    let mut ops = Vec::new();
    for (i, &(d_in, d_out)) in LAYERS.iter().enumerate() {
        let input = Tensor::<2>::random([BATCH, d_in], normal, device);
        let weight = Tensor::<2>::random([d_in, d_out], normal, device);
        let grad_out = Tensor::<2>::random([BATCH, d_out], normal, device);
        // forward: [B, in] x [in, out]
        ops.push((input.clone(), weight.clone()));
        // weight gradient: inputᵀ [in, B] x grad_out [B, out]
        ops.push((input.transpose(), grad_out.clone()));
        // input gradient: grad_out [B, out] x weightᵀ [out, in]; not needed for the first
        // layer, whose input is the data.
        if i != 0 {
            ops.push((grad_out, weight.transpose()));
        }
    }
    ops
}

fn bench_vae_phases(c: &mut Criterion) {
    let mut group = c.benchmark_group("vae_phases_b128");
    group.sample_size(30);
    for kind in backends() {
        let name = kind.name();
        let (ad, model, mut optim, x) = setup(kind);
        let model = warm_up(model, &mut optim, &x, &ad, 3);
        let plain = ad.clone().inner();
        let valid = model.valid();
        let x_plain = x.clone().inner();

        group.bench_function(BenchmarkId::new("inference_forward", name), |b| {
            b.iter(|| {
                black_box(loss(&valid, &x_plain));
                plain.sync().expect("device sync");
            })
        });
        // Burn frees an autodiff graph that was never differentiated only during a later
        // `backward()`, so a forward-only loop would pile up graphs (and their saved
        // activations). Time the forward alone, then release its graph untimed.
        group.bench_function(BenchmarkId::new("forward", name), |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let l = loss(&model, &x);
                    ad.sync().expect("device sync");
                    timed += start.elapsed();
                    drop(black_box(l.backward()));
                }
                timed
            })
        });
        group.bench_function(BenchmarkId::new("forward_backward", name), |b| {
            b.iter(|| {
                black_box(gradients(&model, &x));
                ad.sync().expect("device sync");
            })
        });
        let operands = step_matmul_operands(&plain);
        plain.sync().expect("device sync");
        group.bench_function(BenchmarkId::new("gemm_only", name), |b| {
            b.iter(|| {
                for (lhs, rhs) in &operands {
                    black_box(lhs.clone().matmul(rhs.clone()));
                }
                plain.sync().expect("device sync");
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    bench_vae_step,
    bench_vae_phases,
    bench_vae_step_malloc_tuned
);
criterion_main!(benches);
