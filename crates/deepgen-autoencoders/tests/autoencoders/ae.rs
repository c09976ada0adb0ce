//! Deterministic autoencoder tests: every loss term against an independent f64 computation on
//! tiny inputs, gradients of the custom terms against f64 finite differences, the contractive
//! penalty against a brute-force finite-difference Jacobian, top-k gradient routing, noise,
//! kind names, save/load, overfitting one batch for every kind, and short runs through the
//! shared loop on the bundled MNIST.

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData};
use deepgen_autoencoders::EncoderNet;
use deepgen_autoencoders::ae::sparse::sparsity_kl_host;
use deepgen_autoencoders::ae::task::{K_SCHEDULE, SPARSITY_WEIGHT};
use deepgen_autoencoders::ae::{
    AeError, AeKind, AeTask, Autoencoder, AutoencoderConfig, CodeActivation, Corruption, ae_terms,
    bernoulli_cross_entropy, contractive_penalty, k_at, keep_top_k, mse_per_element, sparsity_kl,
};
use deepgen_data::{Mnist, MnistSplit};
use deepgen_tensor::HostRng;
use deepgen_train::{Schedule, Task, Trainer};

fn t2(v: &[f64], shape: [usize; 2], dev: &Device) -> Tensor<2> {
    let v: Vec<f32> = v.iter().map(|&x| x as f32).collect();
    Tensor::from_data(TensorData::new(v, shape), dev)
}

fn host<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data()
        .try_to_vec::<f32>()
        .unwrap()
        .into_iter()
        .map(f64::from)
        .collect()
}

fn close(a: f64, b: f64, tol: f64, what: &str) {
    assert!(
        (a - b).abs() <= tol * (1.0 + b.abs()),
        "{what}: {a} vs {b} (tol {tol})"
    );
}

fn sig(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[test]
fn reconstruction_terms_match_hand_computed_values() {
    let _serial = crate::serial();
    let dev = Device::flex();
    // Includes saturated logits (±30) and grey-level targets.
    let logits = [0.3, -1.2, 2.0, 30.0, -30.0, 0.0];
    let x = [1.0, 0.0, 0.25, 1.0, 0.5, 0.7];
    let bce = host(bernoulli_cross_entropy(
        t2(&logits, [2, 3], &dev),
        t2(&x, [2, 3], &dev),
    ));
    let mse = host(mse_per_element(
        t2(&logits, [2, 3], &dev),
        t2(&x, [2, 3], &dev),
    ));
    for b in 0..2 {
        let mut ce = 0.0;
        let mut se = 0.0;
        for d in 0..3 {
            let (l, t) = (logits[b * 3 + d], x[b * 3 + d]);
            // ln σ(l) = −ln(1 + e^{−l}), ln(1 − σ(l)) = −ln(1 + e^{l}) (both stable here).
            ce += t * (1.0 + (-l).exp()).ln() + (1.0 - t) * (1.0 + l.exp()).ln();
            se += (sig(l) - t).powi(2);
        }
        close(bce[b], ce, 1e-6, "cross-entropy");
        close(mse[b], se / 3.0, 1e-6, "mse");
    }
    // Row 1 by hand: 30 → ≈ 0 nats; −30 with x = ½ → ½·30 = 15 nats; 0 → ln 2.
    close(bce[1], 15.0 + 2f64.ln(), 1e-5, "row 1");
}

fn kl_sparse_f64(code: &[f64], b: usize, m: usize, rho: f64) -> f64 {
    (0..m)
        .map(|j| {
            let q = (0..b).map(|i| code[i * m + j]).sum::<f64>() / b as f64;
            rho * (rho / q).ln() + (1.0 - rho) * ((1.0 - rho) / (1.0 - q)).ln()
        })
        .sum()
}

#[test]
fn sparsity_kl_matches_f64_and_its_gradient_matches_finite_differences() {
    let _serial = crate::serial();
    let ad = Device::flex().autodiff();
    let (b, m, rho) = (3, 4, 0.05);
    let code = [
        0.10, 0.80, 0.02, 0.50, //
        0.30, 0.60, 0.04, 0.45, //
        0.20, 0.70, 0.06, 0.05,
    ];
    let c = t2(&code, [b, m], &ad).require_grad();
    let kl = sparsity_kl(c.clone(), rho);
    let value = host(kl.clone())[0];
    let expect = kl_sparse_f64(&code, b, m, rho);
    close(value, expect, 1e-5, "sparsity KL");
    close(
        sparsity_kl_host(&[0.2, 0.7, 0.04, 1.0 / 3.0], rho),
        expect,
        1e-12,
        "host",
    );
    // SciPy 1.x: sum(scipy.stats.entropy([ρ, 1−ρ], [q, 1−q]) for q in code.mean(0)).
    close(value, 1.299_852_360_467_103, 1e-6, "sparsity KL vs SciPy");

    let grad = host(c.grad(&kl.backward()).unwrap());
    let h = 1e-6;
    for i in 0..b * m {
        let (mut up, mut down) = (code, code);
        up[i] += h;
        down[i] -= h;
        let fd = (kl_sparse_f64(&up, b, m, rho) - kl_sparse_f64(&down, b, m, rho)) / (2.0 * h);
        close(grad[i], fd, 1e-4, &format!("dKL/dcode[{i}]"));
    }
}

#[test]
fn top_k_keeps_the_k_largest_and_routes_gradients_only_through_them() {
    let _serial = crate::serial();
    let ad = Device::flex().autodiff();
    let code = [0.5, -1.0, 2.0, 0.1, 1.5, -3.0, -2.0, -0.5, -4.0, -0.1];
    let c = t2(&code, [2, 5], &ad).require_grad();
    let kept = keep_top_k(c.clone(), 2);
    assert_eq!(
        host(kept.clone()),
        vec![0.0, 0.0, 2.0, 0.0, 1.5, 0.0, 0.0, -0.5, 0.0, -0.1]
            .into_iter()
            .map(|v: f64| v as f32 as f64)
            .collect::<Vec<_>>()
    );
    // d/dcode Σ w ⊙ topk(code) = w on kept units, 0 elsewhere.
    let w = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
    let loss = (kept * t2(&w, [2, 5], &ad)).sum();
    let g = host(c.grad(&loss.backward()).unwrap());
    assert_eq!(g, vec![0.0, 0.0, 3.0, 0.0, 5.0, 0.0, 0.0, 8.0, 0.0, 10.0]);
    // k ≥ m keeps everything; k_at rounds and clamps.
    let all = host(keep_top_k(t2(&code, [2, 5], &ad), 5));
    assert_eq!(all, host(t2(&code, [2, 5], &ad)));
    assert_eq!(
        (k_at(2.4, 10), k_at(2.6, 10), k_at(0.2, 10), k_at(99.0, 10)),
        (2, 3, 1, 10)
    );
}

/// A one-layer sigmoid encoder 5 → 3 with a 3 → 5 decoder.
fn contractive_model(dev: &Device) -> Autoencoder {
    dev.seed(11);
    AutoencoderConfig::mlp(5, vec![], 3)
        .with_code_activation(CodeActivation::Sigmoid)
        .init(dev)
}

fn first_layer(model: &Autoencoder) -> (Vec<f64>, Vec<f64>) {
    let EncoderNet::Mlp(m) = &model.encoder else {
        panic!()
    };
    let l = &m.layers[0];
    (host(l.weight.val()), host(l.bias.as_ref().unwrap().val()))
}

/// h = σ(x W + b) in f64, W row-major [D, m].
fn layer_f64(x: &[f64], w: &[f64], b: &[f64], m: usize) -> Vec<f64> {
    (0..m)
        .map(|j| {
            sig(b[j]
                + x.iter()
                    .enumerate()
                    .map(|(i, xi)| xi * w[i * m + j])
                    .sum::<f64>())
        })
        .collect()
}

/// Σ_j (h_j(1 − h_j))² Σ_i W_ij² in f64, summed over the examples of `xs`.
fn penalty_f64(xs: &[f64], w: &[f64], b: &[f64], d: usize, m: usize) -> f64 {
    xs.chunks(d)
        .map(|x| {
            let h = layer_f64(x, w, b, m);
            (0..m)
                .map(|j| {
                    (h[j] * (1.0 - h[j])).powi(2)
                        * (0..d).map(|i| w[i * m + j].powi(2)).sum::<f64>()
                })
                .sum::<f64>()
        })
        .sum()
}

#[test]
fn contractive_penalty_matches_a_brute_force_jacobian() {
    let _serial = crate::serial();
    let dev = Device::flex();
    let model = contractive_model(&dev);
    let (d, m) = (5, 3);
    let xs = [0.9, 0.1, 0.4, 0.0, 1.0, 0.2, 0.7, 0.3, 0.5, 0.6];
    let (h1, w) = model.sigmoid_first_layer(t2(&xs, [2, d], &dev)).unwrap();
    let pen = host(contractive_penalty(h1, w));
    let (w, b) = first_layer(&model);
    for (e, x) in xs.chunks(d).enumerate() {
        // ‖J‖²_F with J_ji = ∂h_j/∂x_i by central differences in f64.
        let step = 1e-5;
        let mut frob = 0.0;
        for i in 0..d {
            let (mut up, mut down) = (x.to_vec(), x.to_vec());
            up[i] += step;
            down[i] -= step;
            let (hu, hd) = (layer_f64(&up, &w, &b, m), layer_f64(&down, &w, &b, m));
            for j in 0..m {
                frob += ((hu[j] - hd[j]) / (2.0 * step)).powi(2);
            }
        }
        close(pen[e], frob, 1e-5, &format!("‖J‖²_F of example {e}"));
        assert!(frob > 1e-3, "degenerate test: ‖J‖² = {frob}");
    }
}

#[test]
fn contractive_penalty_gradient_matches_finite_differences() {
    let _serial = crate::serial();
    let ad = Device::flex().autodiff();
    let model = contractive_model(&ad);
    let (d, m) = (5, 3);
    let xs = [0.9, 0.1, 0.4, 0.0, 1.0, 0.2, 0.7, 0.3, 0.5, 0.6];
    let (h1, w) = model.sigmoid_first_layer(t2(&xs, [2, d], &ad)).unwrap();
    let grads = contractive_penalty(h1, w).sum().backward();
    let EncoderNet::Mlp(mlp) = &model.encoder else {
        panic!()
    };
    let layer = &mlp.layers[0];
    let gw = host(layer.weight.val().grad(&grads).unwrap());
    let gb = host(layer.bias.as_ref().unwrap().val().grad(&grads).unwrap());
    let (w, b) = first_layer(&model);
    let h = 1e-6;
    for k in 0..d * m {
        let (mut up, mut down) = (w.clone(), w.clone());
        up[k] += h;
        down[k] -= h;
        let fd = (penalty_f64(&xs, &up, &b, d, m) - penalty_f64(&xs, &down, &b, d, m)) / (2.0 * h);
        close(gw[k], fd, 1e-4, &format!("dP/dW[{k}]"));
    }
    for j in 0..m {
        let (mut up, mut down) = (b.clone(), b.clone());
        up[j] += h;
        down[j] -= h;
        let fd = (penalty_f64(&xs, &w, &up, d, m) - penalty_f64(&xs, &w, &down, d, m)) / (2.0 * h);
        close(gb[j], fd, 1e-4, &format!("dP/db[{j}]"));
    }
}

#[test]
fn contractive_kind_rejects_models_without_a_sigmoid_first_layer() {
    let _serial = crate::serial();
    let dev = Device::flex();
    let relu_code = AutoencoderConfig::mlp(4, vec![], 2).init(&dev);
    assert!(matches!(
        relu_code.first_sigmoid_layer(),
        Err(AeError::Model { .. })
    ));
    let conv = AutoencoderConfig::conv([1, 8, 8], vec![4], 2)
        .with_code_activation(CodeActivation::Sigmoid)
        .init(&dev);
    let e = conv.first_sigmoid_layer().unwrap_err();
    assert!(e.to_string().contains("convolutional"), "{e}");
    let deep_sigmoid = AutoencoderConfig::mlp(4, vec![3], 2)
        .with_hidden_activation(burn::nn::activation::ActivationConfig::Sigmoid)
        .init(&dev);
    assert!(deep_sigmoid.first_sigmoid_layer().is_ok());
}

#[test]
fn corruption_noise_has_the_stated_statistics_and_is_seeded() {
    let _serial = crate::serial();
    let n = 200_000;
    let ones = vec![1.0f32; n];
    let mut rng = HostRng::seed_from_u64(3);
    let masked = Corruption::Masking { p: 0.3 }.corrupted(&ones, &mut rng);
    assert!(masked.iter().all(|&v| v == 0.0 || v == 1.0));
    let frac = masked.iter().filter(|&&v| v == 0.0).count() as f64 / n as f64;
    // Binomial sd = √(0.3·0.7/n) ≈ 0.001.
    assert!((frac - 0.3).abs() < 0.005, "dropped fraction {frac}");

    let half = vec![0.5f32; n];
    let noisy = Corruption::Gaussian { sigma: 0.4 }.corrupted(&half, &mut rng);
    let e: Vec<f64> = noisy.iter().map(|&v| v as f64 - 0.5).collect();
    let mean = e.iter().sum::<f64>() / n as f64;
    let sd = (e.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
    assert!(
        mean.abs() < 0.005 && (sd - 0.4).abs() < 0.005,
        "{mean} {sd}"
    );

    let a = Corruption::Masking { p: 0.5 }.corrupted(&ones[..100], &mut HostRng::seed_from_u64(9));
    let b = Corruption::Masking { p: 0.5 }.corrupted(&ones[..100], &mut HostRng::seed_from_u64(9));
    assert_eq!(a, b);
}

#[test]
fn kind_names_round_trip_and_bad_names_are_errors() {
    let _serial = crate::serial();
    for kind in AeKind::all() {
        let text = kind.to_string();
        assert_eq!(text.parse::<AeKind>().unwrap(), kind, "{text}");
        assert_eq!(kind.name().parse::<AeKind>().unwrap(), kind);
    }
    assert_eq!(
        "k-sparse:10".parse::<AeKind>().unwrap(),
        AeKind::KSparse { k: 10 }
    );
    assert_eq!(
        "Denoising-Gaussian:0.3".parse::<AeKind>().unwrap(),
        AeKind::Denoising(Corruption::Gaussian { sigma: 0.3 })
    );
    for bad in [
        "vae",
        "sparse:1.5",
        "sparse:x",
        "k-sparse:0",
        "k-sparse:2.5",
        "denoising-masking:1",
        "plain:3",
    ] {
        let e = bad.parse::<AeKind>().unwrap_err();
        assert!(!e.to_string().is_empty(), "{bad}");
    }
}

#[test]
fn save_load_round_trip_preserves_reconstructions() {
    let _serial = crate::serial();
    let dev = Device::flex();
    let dir = std::env::temp_dir().join(format!("deepgen-ae-rt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let configs = [
        AutoencoderConfig::mlp(12, vec![8], 3).with_code_activation(CodeActivation::Sigmoid),
        AutoencoderConfig::conv([1, 3, 4], vec![2], 3),
    ];
    for (i, cfg) in configs.iter().enumerate() {
        dev.seed(i as u64);
        let model = cfg.init(&dev);
        let x = Tensor::<2>::random([2, 12], burn::tensor::Distribution::Default, &dev);
        let before = host(model.forward(x.clone()));
        let path = dir.join(format!("ae{i}.bpk"));
        model.save_file(&path).unwrap();
        dev.seed(100 + i as u64);
        let fresh = cfg.init(&dev);
        assert_ne!(host(fresh.forward(x.clone())), before);
        let loaded = fresh.try_load_file(&path).unwrap();
        assert_eq!(host(loaded.forward(x)), before);
        assert_eq!(loaded.code_activation, cfg.code_activation);
    }
    std::fs::remove_dir_all(&dir).ok();
}

fn mnist() -> Mnist {
    Mnist::load(None).expect("bundled MNIST")
}

fn grey(split: &MnistSplit, n: usize, dev: &Device) -> Tensor<2> {
    let idx: Vec<usize> = (0..n).collect();
    let v = deepgen_data::images_host(
        split,
        &idx,
        deepgen_data::Binarization::None,
        &mut HostRng::seed_from_u64(0),
    );
    Tensor::from_data(TensorData::new(v, [n, split.pixels()]), dev)
}

#[test]
fn every_kind_overfits_one_batch() {
    let _serial = crate::serial();
    let data = mnist();
    let ad = Device::flex().autodiff();
    let x = grey(&data.test, 16, &ad);
    // The floor of the grey-level cross-entropy: Σ_d H(x_d), averaged over the batch.
    let xs = host(x.clone());
    let floor: f64 = xs
        .iter()
        .filter(|&&p| p > 0.0 && p < 1.0)
        .map(|&p| -(p * p.ln() + (1.0 - p) * (1.0 - p).ln()))
        .sum::<f64>()
        / 16.0;
    for kind in AeKind::all() {
        ad.seed(7);
        let mut model = AutoencoderConfig::mlp(784, vec![], 64)
            .with_code_activation(kind.code_activation())
            .init(&ad);
        let mut rng = HostRng::seed_from_u64(1);
        let mut optim = AdamConfig::new().init();
        let k = 16;
        let recon_of = |m: &Autoencoder| -> f64 {
            let t = ae_terms(m, &kind, x.clone(), x.clone(), k).unwrap();
            host(t.recon.mean())[0]
        };
        let first = recon_of(&model);
        for _ in 0..300 {
            let input = match kind.corruption() {
                Some(c) => {
                    let v: Vec<f32> = xs.iter().map(|&v| v as f32).collect();
                    Tensor::from_data(TensorData::new(c.corrupted(&v, &mut rng), [16, 784]), &ad)
                }
                None => x.clone(),
            };
            let t = ae_terms(&model, &kind, input, x.clone(), k).unwrap();
            let grads = GradientsParams::from_grads(t.loss(0.1, 0.1).backward(), &model);
            model = optim.step(1e-2, model, grads);
        }
        let last = recon_of(&model);
        // Start ≈ 784·ln 2 ≈ 543 nats above the floor; the excess must shrink ≥ 8×.
        assert!(
            first - floor > 400.0 && last - floor < (first - floor) / 8.0,
            "{kind}: recon {first:.1} → {last:.1} nats (floor {floor:.1})"
        );
    }
}

#[test]
fn denoising_batches_are_corrupted_copies_from_the_loop_rng() {
    let _serial = crate::serial();
    let data = mnist();
    let dev = Device::flex();
    let kind = AeKind::Denoising(Corruption::Masking { p: 0.5 });
    let mut task = AeTask::new(data.train.subset(256), data.test.subset(16), 8, kind, 0).unwrap();
    let b1 = task.train_batch(0, 3, &mut HostRng::seed_from_u64(5), &dev);
    let b2 = task.train_batch(0, 3, &mut HostRng::seed_from_u64(5), &dev);
    let (i1, t1) = (host(b1.input), host(b1.target));
    assert_eq!(i1, host(b2.input));
    assert_ne!(i1, t1);
    // Masking only zeroes: every input element is 0 or its clean value.
    assert!(i1.iter().zip(&t1).all(|(a, b)| *a == 0.0 || a == b));
    let plain = AeTask::new(
        data.train.subset(256),
        data.test.subset(16),
        8,
        AeKind::Plain,
        0,
    )
    .unwrap()
    .train_batch(0, 3, &mut HostRng::seed_from_u64(5), &dev);
    let pt = host(plain.target);
    assert_eq!(host(plain.input), pt);
    assert_eq!(pt, t1);
}

#[test]
fn task_rejects_mismatched_models_and_bad_arguments() {
    let _serial = crate::serial();
    let data = mnist();
    let dev = Device::flex();
    let task = AeTask::new(
        data.train.subset(64),
        data.test.subset(8),
        8,
        AeKind::Contractive,
        0,
    )
    .unwrap();
    let wrong = AutoencoderConfig::mlp(100, vec![], 4).init(&dev);
    assert!(matches!(
        task.check_model(&wrong),
        Err(AeError::Mismatch { .. })
    ));
    let conv = AutoencoderConfig::conv([1, 28, 28], vec![4], 4).init(&dev);
    assert!(matches!(
        task.check_model(&conv),
        Err(AeError::Model { .. })
    ));
    let sparse = AeTask::new(
        data.train.subset(64),
        data.test.subset(8),
        8,
        AeKind::Sparse { rho: 0.1 },
        0,
    )
    .unwrap();
    let linear_code = AutoencoderConfig::mlp(784, vec![], 4).init(&dev);
    assert!(matches!(
        sparse.check_model(&linear_code),
        Err(AeError::Model { .. })
    ));
    assert!(matches!(
        AeTask::new(
            data.train.subset(64),
            data.test.subset(8),
            0,
            AeKind::Plain,
            0
        ),
        Err(AeError::Task { .. })
    ));
    assert!(
        AeTask::new(
            data.train.subset(4),
            data.test.subset(8),
            8,
            AeKind::Plain,
            0
        )
        .is_err()
    );
}

#[test]
fn trains_through_the_shared_loop_on_real_mnist() {
    let _serial = crate::serial();
    let data = mnist();
    let ad = Device::flex().autodiff();
    for (kind, net) in [
        (AeKind::KSparse { k: 8 }, "mlp"),
        (AeKind::Sparse { rho: 0.1 }, "conv"),
    ] {
        ad.seed(0);
        let cfg = match net {
            "mlp" => AutoencoderConfig::mlp(784, vec![128], 32),
            _ => AutoencoderConfig::conv([1, 28, 28], vec![8, 16], 32),
        }
        .with_code_activation(kind.code_activation());
        let model = cfg.init(&ad);
        let mut task =
            AeTask::new(data.train.subset(2048), data.test.subset(500), 64, kind, 0).unwrap();
        task.check_model(&model).unwrap();
        let out = std::env::temp_dir().join(format!(
            "deepgen-ae-loop-{}-{}",
            kind.name(),
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&out);
        let report = Trainer::new(&out)
            .epochs(1)
            .lr(Schedule::Constant(2e-3))
            .num_samples(16)
            .progress(false)
            .weight_schedule(K_SCHEDULE, "linear:32:8:16".parse().unwrap())
            .weight_schedule(SPARSITY_WEIGHT, Schedule::Constant(0.5))
            .fit(&mut task, model, AdamConfig::new().init(), &ad)
            .unwrap();
        let last = report.last.unwrap();
        let recon = last.get("test_recon").unwrap();
        // 32 steps: far below the 543 nats of the initial σ(0) = ½ reconstruction, far above
        // the ≈ 60–80 nats of a converged model.
        assert!((90.0..300.0).contains(&recon), "{kind}: test recon {recon}");
        assert_eq!(last.get("test_loss").unwrap(), recon);
        let mse = last.get("test_mse").unwrap();
        assert!(mse > 0.0 && mse < 0.1, "{kind}: mse {mse}");
        for name in ["train_recon", "train_mse", "train_loss"] {
            assert!(last.get(name).is_some(), "{kind}: {name} missing");
        }
        match kind {
            AeKind::KSparse { .. } => {
                // The k schedule reached 8 after 16 of the 32 steps: mean k over the epoch is
                // between 8 and 32.
                let k = last.get("train_k").unwrap();
                assert!(k > 8.0 && k < 32.0, "train_k {k}");
            }
            _ => {
                let kl = last.get("train_sparsity_kl").unwrap();
                let loss = last.get("train_loss").unwrap();
                let r = last.get("train_recon").unwrap();
                // train_loss = recon + 0.5·KL (epoch means of per-batch values).
                close(loss, r + 0.5 * kl, 1e-4, "total = recon + w·KL");
                assert!(last.get("test_sparsity_kl").unwrap() > 0.0);
                let rho_hat = last.get("test_mean_activation").unwrap();
                assert!(rho_hat > 0.0 && rho_hat < 1.0);
            }
        }
        // samples.npy: reconstructions of the first 16 test images.
        let (shape, npy) = deepgen_tensor::output::read_npy_f32(&out.join("samples.npy")).unwrap();
        assert_eq!(shape, vec![16, 1, 28, 28]);
        let plain = ad.clone().without_autodiff();
        let model = report.model.valid();
        let recons = task.reconstructions(&model, 16, &plain).unwrap();
        assert_eq!(npy, recons);
        // Side-by-side grid: row pairs of originals then reconstructions.
        let grid = task.comparison(&model, 12, 8, &plain).unwrap();
        assert_eq!(grid.shape, [32, 1, 28, 28]);
        let d = 784;
        assert_eq!(&grid.data[..8 * d], &task.test_images(8)[..]);
        assert_eq!(&grid.data[8 * d..16 * d], &recons[..8 * d]);
        assert_eq!(&grid.data[16 * d..20 * d], &task.test_images(12)[8 * d..]);
        assert!(grid.data[20 * d..24 * d].iter().all(|&v| v == 0.0));
        std::fs::remove_dir_all(&out).ok();
    }
}
