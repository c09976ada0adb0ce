//! VQ-VAE and VQ-VAE-2: code-map shapes, decoding a code map equals the reconstruction, a
//! short training run through `deepgen-train`'s loop lowers the test reconstruction error and
//! keeps the codebook in use, k-means initialisation in the before-first-step hook, and
//! save/load keeping the EMA statistics.

use crate::common::{device, host, host_int};

use burn::module::Module;
use burn::optim::AdamConfig;
use burn::store::ModuleRecord;
use burn::tensor::{Device, Distribution, Tensor};
use deepgen_data::MnistSplit;
use deepgen_tensor::HostRng;
use deepgen_train::{Schedule, Task, Trainer};
use deepgen_vq::tasks::vq_task::VqTask;
use deepgen_vq::{VectorQuantizerConfig, VqModel, VqVae, VqVae2, VqVae2Config, VqVaeConfig};

/// Named test metrics.
type Metrics = Vec<(String, f64)>;

fn small_vqvae(downsamples: usize, device: &Device) -> VqVae {
    VqVaeConfig::new(VectorQuantizerConfig::new(16, 4).with_dead_code_steps(20))
        .with_channels(8)
        .with_groups(4)
        .with_res_blocks(1)
        .with_downsamples(downsamples)
        .init(device)
}

fn small_vqvae2(device: &Device) -> VqVae2 {
    VqVae2Config::new(
        VectorQuantizerConfig::new(8, 4),
        VectorQuantizerConfig::new(16, 4),
    )
    .with_channels(8)
    .with_groups(4)
    .with_res_blocks(1)
    .init(device)
}

/// Synthetic 28×28 "digits": a bright bar at one of 4 positions and orientations plus noise.
fn bars(n: usize, seed: u64) -> MnistSplit {
    let mut rng = HostRng::seed_from_u64(seed);
    let mut images = vec![0u8; n * 784];
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let kind = rng.below(4) as usize;
        labels.push(kind as u8);
        for r in 0..28 {
            for c in 0..28 {
                let on = match kind {
                    0 => (8..12).contains(&r),
                    1 => (16..20).contains(&r),
                    2 => (8..12).contains(&c),
                    _ => (16..20).contains(&c),
                };
                images[i * 784 + r * 28 + c] = if on {
                    200 + rng.below(56) as u8
                } else {
                    rng.below(30) as u8
                };
            }
        }
    }
    MnistSplit {
        images,
        labels,
        rows: 28,
        cols: 28,
    }
}

#[test]
fn code_maps_have_the_documented_shapes() {
    let _serial = crate::common::serial();
    let device = device();
    let x = Tensor::<4>::random([2, 1, 28, 28], Distribution::Uniform(0.0, 1.0), &device);
    for (down, side) in [(2, 7), (1, 14)] {
        let m = small_vqvae(down, &device);
        assert_eq!(m.code_size(), [side, side]);
        let f = m.vq_forward(x.clone());
        assert_eq!(f.codes[0].dims(), [2, side, side]);
        assert_eq!(f.reconstruction.dims(), [2, 1, 28, 28]);
        // Decoding the code map gives the (clamped) reconstruction.
        let dec = host(m.decode_codes(m.encode_codes(x.clone())));
        let rec = host(f.reconstruction.clamp(0.0, 1.0));
        for (a, b) in dec.iter().zip(&rec) {
            assert!((a - b).abs() < 1e-5);
        }
    }
    let m2 = small_vqvae2(&device);
    assert_eq!((m2.top_size(), m2.bottom_size()), ([7, 7], [14, 14]));
    let f = m2.vq_forward(x.clone());
    assert_eq!(f.codes[0].dims(), [2, 7, 7]);
    assert_eq!(f.codes[1].dims(), [2, 14, 14]);
    let (t, b) = m2.encode_codes(x);
    let dec = host(m2.decode_codes(t, b));
    let rec = host(f.reconstruction.clamp(0.0, 1.0));
    for (a, b) in dec.iter().zip(&rec) {
        assert!((a - b).abs() < 1e-5);
    }
}

fn train_briefly<M: VqModel + Module + 'static>(
    model: M,
    epochs: usize,
    out: &std::path::Path,
) -> (Metrics, Metrics) {
    let device = device().autodiff();
    let mut task = VqTask::<M>::new(bars(256, 1), bars(64, 2), 32, 7).expect("task");
    task.check_model(&model).expect("model fits");
    let before = task.test_metrics(&model.valid(), &device.clone().without_autodiff());
    let trainer = Trainer::new(out)
        .epochs(epochs)
        .lr(Schedule::Constant(2e-3))
        .num_samples(0)
        .progress(false);
    let report = trainer
        .fit(&mut task, model, AdamConfig::new().init(), &device)
        .expect("training runs");
    let after = task.test_metrics(&report.model.valid(), &device.without_autodiff());
    (before, after)
}

fn get(m: &[(String, f64)], name: &str) -> f64 {
    m.iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("{name} missing"))
        .1
}

#[test]
fn a_short_run_lowers_the_reconstruction_error_and_uses_the_codebook() {
    let _serial = crate::common::serial();
    let dir = tempfile::tempdir().unwrap();
    let model = small_vqvae(2, &device().autodiff());
    let (before, after) = train_briefly(model, 3, dir.path());
    let (b, a) = (
        get(&before, "test_recon_mse"),
        get(&after, "test_recon_mse"),
    );
    // Calibrated once: ≈ 0.2 → ≈ 0.01; assert a factor 4.
    assert!(a < b / 4.0, "test MSE {b} → {a}");
    assert!(get(&after, "test_codes_perplexity") > 2.0, "{after:?}");
    assert!(get(&after, "test_codes_codes_used") > 0.2, "{after:?}");
    assert!(dir.path().join("metrics.jsonl").exists());

    let dir2 = tempfile::tempdir().unwrap();
    let model2 = small_vqvae2(&device().autodiff());
    let (before, after) = train_briefly(model2, 3, dir2.path());
    let (b, a) = (
        get(&before, "test_recon_mse"),
        get(&after, "test_recon_mse"),
    );
    assert!(a < b / 4.0, "VQ-VAE-2 test MSE {b} → {a}");
    assert!(get(&after, "test_top_perplexity") > 1.5, "{after:?}");
    assert!(get(&after, "test_bottom_perplexity") > 1.5, "{after:?}");
}

#[test]
fn kmeans_initialisation_runs_in_the_first_step_hook() {
    let _serial = crate::common::serial();
    let device = device().autodiff();
    let model = small_vqvae(2, &device);
    let mut task = VqTask::<VqVae>::new(bars(64, 3), bars(16, 4), 32, 1).unwrap();
    let mut rng = HostRng::seed_from_u64(0);
    let batch = task.train_batch(0, 0, &mut rng, &device);
    let before = host(model.quantizer.codebook.val());
    let id = model.quantizer.codebook.id;
    let model = task.before_first_step(model, &batch).unwrap();
    let after = host(model.quantizer.codebook.val());
    assert_eq!(model.quantizer.codebook.id, id);
    assert_ne!(before, after);
    // Every centre is now a mean of encoder outputs: the codes of the batch use > 1 code.
    let codes = host_int(model.encode_codes(batch.images.clone()));
    let distinct: std::collections::BTreeSet<_> = codes.into_iter().collect();
    assert!(distinct.len() > 1, "{distinct:?}");
}

#[test]
fn save_and_load_keep_the_codebook_and_its_statistics() {
    let _serial = crate::common::serial();
    let device = device();
    let model = small_vqvae(2, &device);
    let z = Tensor::<2>::random([50, 4], Distribution::Normal(0.0, 1.0), &device);
    let stats = deepgen_vq::quantizer::BatchStats::of(&model.quantizer.quantize(z), 16);
    let mut q = model.quantizer.clone();
    q = q.ema_update(&stats);
    let mut model = model;
    model.quantizer = q;
    let bytes = model.clone().into_record().into_bytes().unwrap();
    let fresh = small_vqvae(2, &device);
    let loaded = fresh
        .try_load_record(ModuleRecord::from_bytes(bytes).unwrap())
        .unwrap();
    assert_eq!(
        host(loaded.quantizer.codebook.val()),
        host(model.quantizer.codebook.val())
    );
    assert_eq!(
        host(loaded.quantizer.ema_count.val()),
        host(model.quantizer.ema_count.val())
    );
    assert_eq!(
        host(loaded.quantizer.ema_sum.val()),
        host(model.quantizer.ema_sum.val())
    );
}
