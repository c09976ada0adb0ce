//! Conditional VAE tests: loss terms and generation against a forward pass written out in f64,
//! the task's weighting of the terms by the loop's schedules, a finite-difference gradient
//! check, save/load round trip, overfitting one batch, and a short run through the shared loop
//! on the bundled MNIST with a stand-in judge. No test depends on the device RNG: parameters
//! come from the deterministic `Fill` mapper and noise from seeded host RNGs.

use std::collections::BTreeMap;

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData};
use deepgen_autoencoders::WithBody as _;
use deepgen_autoencoders::cvae_task::{ConditionalAccuracy, CvaeBatch, CvaeTask};
use deepgen_autoencoders::{ClassCode, Cvae, CvaeConfig, Mlp};
use deepgen_data::{Binarization, Mnist, MnistSplit};
use deepgen_distributions::noise::standard_normal;
use deepgen_tensor::HostRng;
use deepgen_train::{Schedule, StepContext, Task, Trainer};

/// Deterministic parameter fill from a seeded host RNG (Burn's default bounds: weights
/// U(−1/√fan_in, 1/√fan_in)), biases U(−0.1, 0.1)).
struct Fill(HostRng);
impl Fill {
    fn seed(seed: u64) -> Self {
        Self(HostRng::seed_from_u64(seed))
    }
}
impl burn::module::ModuleMapper for Fill {
    fn map_float<const R: usize>(&mut self, p: Param<Tensor<R>>) -> Param<Tensor<R>> {
        p.map(|t| {
            let dims = t.dims();
            let n: usize = dims.iter().product();
            let bound = if R == 2 {
                1.0 / (dims[0] as f64).sqrt()
            } else {
                0.1
            };
            let v: Vec<f32> = (0..n)
                .map(|_| ((2.0 * self.0.uniform() - 1.0) * bound) as f32)
                .collect();
            let fresh = Tensor::from_data(TensorData::new(v, dims), &t.device());
            if t.device().is_autodiff() {
                fresh.require_grad()
            } else {
                fresh
            }
        })
    }
}

const K: usize = 3;
const L: usize = 2;
const D: usize = 6;

fn tiny_config(code: ClassCode) -> CvaeConfig {
    CvaeConfig::new()
        .with_input_dim(D)
        .with_num_classes(K)
        .with_hidden(vec![5])
        .with_latent_dim(L)
        .with_class_code(code)
}

fn tiny(code: ClassCode, dev: &Device) -> Cvae {
    tiny_config(code).init(dev).map(&mut Fill::seed(0))
}

/// 4 binary images, their labels and N(0, 1) noise from a host seed.
fn batch(dev: &Device) -> (Tensor<2>, Tensor<1, Int>, Tensor<2>) {
    let x: Vec<f32> = (0..4 * D)
        .map(|i| ((i * 7 + 3) % 5 < 2) as u8 as f32)
        .collect();
    let y = vec![2i64, 0, 1, 2];
    let eps = standard_normal(&mut HostRng::seed_from_u64(11), [4, L], dev);
    (
        Tensor::from_data(TensorData::new(x, [4, D]), dev),
        Tensor::from_data(TensorData::new(y, [4]), dev),
        eps,
    )
}

fn host<const R: usize>(t: Tensor<R>) -> Vec<f64> {
    t.into_data().convert::<f64>().try_to_vec::<f64>().unwrap()
}

/// `input · W (+ b)` in f64 for a Linear layer.
fn linear_f64(layer: &Linear, input: &[f64]) -> Vec<f64> {
    let [din, dout] = layer.weight.dims();
    let w = host(layer.weight.val());
    let b = layer.bias.as_ref().map(|b| host(b.val()));
    (0..dout)
        .map(|j| {
            b.as_ref().map_or(0.0, |b| b[j])
                + (0..din).map(|k| input[k] * w[k * dout + j]).sum::<f64>()
        })
        .collect()
}

/// An MLP's forward pass in f64 from its parameters (ReLU between layers).
fn mlp_f64(mlp: &Mlp, input: &[f64]) -> Vec<f64> {
    mlp_injected_f64(mlp, &[], &[], input)
}

/// The MLP with `inject[i](code)` added to the output of layer i + 1 (the CVAE decoder).
fn mlp_injected_f64(mlp: &Mlp, inject: &[Linear], code: &[f64], input: &[f64]) -> Vec<f64> {
    let mut h = input.to_vec();
    let last = mlp.layers.len() - 1;
    for (i, layer) in mlp.layers.iter().enumerate() {
        let mut o = linear_f64(layer, &h);
        if i > 0 && !inject.is_empty() {
            let extra = linear_f64(&inject[i - 1], code);
            o.iter_mut().zip(extra).for_each(|(v, e)| *v += e);
        }
        if i < last {
            o.iter_mut().for_each(|v| *v = v.max(0.0));
        }
        h = o;
    }
    h
}

/// (recon, kl, ce, correct) of one example, written out in f64.
fn reference(m: &Cvae, code: ClassCode, x: &[f64], y: usize, eps: &[f64]) -> [f64; 4] {
    let h = mlp_f64(&m.encoder, x);
    let c = &h[..K];
    let cmax = c.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let lse = cmax + c.iter().map(|v| (v - cmax).exp()).sum::<f64>().ln();
    let ce = lse - c[y];
    let argmax = (0..K).fold(0, |a, j| if c[j] > c[a] { j } else { a });
    let pi: Vec<f64> = match code {
        ClassCode::Label => (0..K).map(|j| (j == y) as u8 as f64).collect(),
        ClassCode::Softmax => c.iter().map(|v| (v - lse).exp()).collect(),
    };
    // [μ, ln σ] = the MLP's latent head + π·W of the conditional encoder (W: [K, 2L]).
    let mut head = h[K..].to_vec();
    if let Some(layer) = &m.encoder_code {
        let w = host(layer.weight.val());
        for (j, v) in head.iter_mut().enumerate() {
            *v += (0..K).map(|i| pi[i] * w[i * 2 * L + j]).sum::<f64>();
        }
    }
    let (mu, ls) = (&head[..L], &head[L..]);
    let kl: f64 = (0..L)
        .map(|j| 0.5 * (mu[j] * mu[j] + (2.0 * ls[j]).exp() - 1.0) - ls[j])
        .sum();
    let mut dec_in = pi.clone();
    dec_in.extend((0..L).map(|j| mu[j] + ls[j].exp() * eps[j]));
    let logits = mlp_injected_f64(&m.decoder, &m.decoder_code, &pi, &dec_in);
    // −ln Bernoulli(x; sigmoid(l)) = softplus(l) − x·l.
    let recon: f64 = (0..D)
        .map(|d| (1.0 + logits[d].exp()).ln() - x[d] * logits[d])
        .sum();
    [recon, kl, ce, (argmax == y) as u8 as f64]
}

#[test]
fn terms_match_a_forward_pass_written_out_in_f64() {
    let _serial = crate::serial();
    let dev = Device::flex();
    for (code, conditional) in [
        (ClassCode::Label, true),
        (ClassCode::Softmax, true),
        (ClassCode::Label, false),
    ] {
        // The plain variant also feeds π to the decoder's first layer only.
        let m = tiny_config(code)
            .with_conditional_encoder(conditional)
            .with_code_in_every_layer(conditional)
            .init(&dev)
            .map(&mut Fill::seed(0));
        assert_eq!(m.encoder_code.is_some(), conditional);
        assert_eq!(m.decoder_code.len(), if conditional { 1 } else { 0 });
        let (x, y, eps) = batch(&dev);
        let t = m.terms_with_noise(x.clone(), y.clone(), eps.clone());
        let got = [
            host(t.recon_nll.clone()),
            host(t.kl.clone()),
            host(t.ce.clone()),
            host(t.correct.clone()),
        ];
        let (xs, es) = (host(x), host(eps));
        let ys = [2usize, 0, 1, 2];
        let mut loss_ref = 0.0;
        for b in 0..4 {
            let r = reference(
                &m,
                code,
                &xs[b * D..(b + 1) * D],
                ys[b],
                &es[b * L..(b + 1) * L],
            );
            for (i, name) in ["recon", "kl", "ce", "correct"].iter().enumerate() {
                assert!(
                    (got[i][b] - r[i]).abs() < 1e-4,
                    "{code:?}: {name}[{b}] {} vs f64 {}",
                    got[i][b],
                    r[i]
                );
            }
            loss_ref += (r[0] + 0.7 * r[1] + 2.5 * r[2]) / 4.0;
        }
        let loss = host(t.loss(0.7, 2.5))[0];
        assert!(
            (loss - loss_ref).abs() < 1e-4,
            "{code:?}: loss {loss} vs {loss_ref}"
        );
    }
}

#[test]
fn generation_decodes_one_hot_codes_and_classify_is_argmax() {
    let _serial = crate::serial();
    let dev = Device::flex();
    let m = tiny(ClassCode::Softmax, &dev);
    let labels = [1usize, 0, 2];
    let means = host(m.sample_digits(&labels, &dev, &mut HostRng::seed_from_u64(4)));
    let z = host(standard_normal(
        &mut HostRng::seed_from_u64(4),
        [3, L],
        &dev,
    ));
    for (b, &y) in labels.iter().enumerate() {
        let pi: Vec<f64> = (0..K).map(|j| (j == y) as u8 as f64).collect();
        let mut input = pi.clone();
        input.extend_from_slice(&z[b * L..(b + 1) * L]);
        let logits = mlp_injected_f64(&m.decoder, &m.decoder_code, &pi, &input);
        for d in 0..D {
            let p = 1.0 / (1.0 + (-logits[d]).exp());
            assert!((means[b * D + d] - p).abs() < 1e-5, "image {b} pixel {d}");
        }
    }
    let (x, _, _) = batch(&dev);
    let xs = host(x.clone());
    let pred: Vec<i64> = m
        .classify(x)
        .into_data()
        .convert::<i64>()
        .try_to_vec()
        .unwrap();
    for (b, &p) in pred.iter().enumerate() {
        let c = mlp_f64(&m.encoder, &xs[b * D..(b + 1) * D]);
        let argmax = (0..K).fold(0, |a, j| if c[j] > c[a] { j } else { a });
        assert_eq!(p as usize, argmax);
    }
}

fn ctx(weights: &[(&str, f64)]) -> StepContext {
    StepContext {
        epoch: 0,
        step: 0,
        weights: weights
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn metric(out: &deepgen_train::StepOutput, name: &str) -> f64 {
    host(
        out.metrics
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("metric {name} missing"))
            .1
            .clone(),
    )[0]
}

fn toy_split(n: usize, d: usize) -> MnistSplit {
    MnistSplit {
        images: (0..n * d).map(|i| ((i * 37) % 256) as u8).collect(),
        labels: (0..n).map(|i| (i % K) as u8).collect(),
        rows: 1,
        cols: d,
    }
}

#[test]
fn task_loss_takes_alpha_and_beta_from_the_schedules() {
    let _serial = crate::serial();
    let dev = Device::flex();
    let m = tiny(ClassCode::Label, &dev);
    let task = CvaeTask::new(
        toy_split(8, D),
        toy_split(4, D),
        4,
        Binarization::Dynamic,
        0,
    );
    let (x, y, _) = batch(&dev);
    let seed = 77;
    let eps = standard_normal(&mut HostRng::seed_from_u64(seed), [4, L], &dev);
    let t = m.terms_with_noise(x.clone(), y.clone(), eps);
    let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len() as f64;
    let (recon, kl, ce, acc) = (
        mean(host(t.recon_nll)),
        mean(host(t.kl)),
        mean(host(t.ce)),
        mean(host(t.correct)),
    );
    let run = |w: &[(&str, f64)]| {
        let b = CvaeBatch {
            x: x.clone(),
            y: y.clone(),
            noise_seed: seed,
        };
        task.loss(&m, b, &ctx(w))
    };
    let out = run(&[("beta", 0.25), ("alpha", 4.0)]);
    let loss = host(out.loss.clone())[0];
    assert!(
        (loss - (recon + 0.25 * kl + 4.0 * ce)).abs() < 1e-4,
        "loss {loss}"
    );
    assert!((metric(&out, "recon") - recon).abs() < 1e-4);
    assert!((metric(&out, "kl") - kl).abs() < 1e-5);
    assert!((metric(&out, "ce") - ce).abs() < 1e-5);
    assert!((metric(&out, "neg_elbo") - (recon + kl)).abs() < 1e-4);
    assert!((metric(&out, "accuracy") - acc).abs() < 1e-6);
    // Unregistered weights default to β = α = 1.
    let out = run(&[]);
    assert!((host(out.loss)[0] - (recon + kl + ce)).abs() < 1e-4);
}

#[test]
fn gradient_matches_finite_differences() {
    let _serial = crate::serial();
    // d loss / d (encoder output bias) — which moves c, μ and ln σ, so it reaches the CE, the
    // KL and (through z, and through softmax(c) in the softmax mode) the reconstruction — by
    // autodiff vs central differences (h = 1e-2; loss O(10) in f32: truncation ≈ 1e-4).
    let ad = Device::flex().autodiff();
    let plain = Device::flex();
    let (beta, alpha) = (0.7, 1.3);
    for code in [ClassCode::Label, ClassCode::Softmax] {
        let m = tiny(code, &ad);
        let (x, y, eps) = batch(&ad);
        let grads = m.terms_with_noise(x, y, eps).loss(beta, alpha).backward();
        let bias = m.encoder.layers[1].bias.as_ref().unwrap();
        let g = host(bias.val().grad(&grads).unwrap());
        let width = K + 2 * L;
        assert_eq!(g.len(), width);
        let (xp, yp, ep) = batch(&plain);
        for i in 0..width {
            let eval = |delta: f32| -> f64 {
                let mut m = tiny(code, &plain);
                let b = m.encoder.layers[1].bias.clone().unwrap();
                let mut v: Vec<f32> = b.val().into_data().try_to_vec().unwrap();
                v[i] += delta;
                m.encoder.layers[1].bias =
                    Some(b.map(|_| Tensor::from_data(TensorData::new(v, [width]), &plain)));
                host(
                    m.terms_with_noise(xp.clone(), yp.clone(), ep.clone())
                        .loss(beta, alpha),
                )[0]
            };
            let h = 1e-2;
            let fd = (eval(h) - eval(-h)) / (2.0 * h as f64);
            assert!(
                (fd - g[i]).abs() < 2e-3,
                "{code:?}: bias[{i}] autodiff {} vs fd {fd}",
                g[i]
            );
        }
        // The CE part really contributes: the c-bias gradient changes with α.
        let grads2 = {
            let (x, y, eps) = batch(&ad);
            m.terms_with_noise(x, y, eps)
                .loss(beta, alpha + 1.0)
                .backward()
        };
        let g2 = host(bias.val().grad(&grads2).unwrap());
        assert!(
            (0..K).any(|j| (g2[j] - g[j]).abs() > 1e-3),
            "{code:?}: CE gradient missing"
        );
    }
}

#[test]
fn save_load_round_trip_preserves_outputs() {
    let _serial = crate::serial();
    let dev = Device::flex();
    let m = tiny(ClassCode::Label, &dev);
    let (x, y, eps) = batch(&dev);
    let before = m.terms_with_noise(x.clone(), y.clone(), eps.clone());
    let dir = std::env::temp_dir().join(format!("deepgen-cvae-rt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cvae.bpk");
    m.save_file(&path).unwrap();
    let fresh = tiny_config(ClassCode::Label)
        .init(&dev)
        .map(&mut Fill::seed(1000));
    let loaded = fresh.try_load_file(&path).unwrap();
    let after = loaded.terms_with_noise(x, y, eps);
    assert_eq!(host(before.recon_nll), host(after.recon_nll));
    assert_eq!(host(before.ce), host(after.ce));
    assert_eq!(host(before.kl), host(after.kl));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn overfits_one_batch() {
    let _serial = crate::serial();
    let ad = Device::flex().autodiff();
    let mut m = CvaeConfig::new()
        .with_hidden(vec![128])
        .with_latent_dim(8)
        .init(&ad)
        .map(&mut Fill::seed(0));
    let mut rng = HostRng::seed_from_u64(3);
    let bits: Vec<f32> = (0..16 * 784)
        .map(|_| (rng.uniform() < 0.2) as u8 as f32)
        .collect();
    let x = Tensor::<2>::from_data(TensorData::new(bits, [16, 784]), &ad);
    let y = Tensor::<1, Int>::from_data(
        TensorData::new((0..16).map(|i| (i % 10) as i64).collect::<Vec<_>>(), [16]),
        &ad,
    );
    let eps = Tensor::<2>::zeros([16, 8], &ad);
    let mut optim = AdamConfig::new().init();
    let first = m.terms_with_noise(x.clone(), y.clone(), eps.clone());
    let first_loss = host(first.loss(1.0, 1.0))[0];
    for _ in 0..300 {
        let loss = m
            .terms_with_noise(x.clone(), y.clone(), eps.clone())
            .loss(1.0, 1.0);
        let grads = GradientsParams::from_grads(loss.backward(), &m);
        m = optim.step(3e-3, m, grads);
    }
    let t = m.terms_with_noise(x, y, eps);
    let last = host(t.loss(1.0, 1.0))[0];
    let ce = host(t.ce.mean())[0];
    let acc = host(t.correct.mean())[0];
    // Start: ≈ 784·ln 2 = 543 nats. Memorising 16 random images (with their labels as
    // decoder input) drives the reconstruction far below the 784·H(0.2) = 392 nats of the best
    // pixel-independent model, and the classifier memorises the 16 labels.
    assert!(
        first_loss > 450.0 && last < 200.0,
        "loss {first_loss} → {last}"
    );
    assert!(ce < 0.05 && acc == 1.0, "ce {ce}, accuracy {acc}");
}

#[test]
fn conditional_accuracy_counts_per_digit() {
    let _serial = crate::serial();
    let requested = [0u8, 0, 1, 1, 2, 2];
    let predicted = [0u8, 1, 1, 1, 0, 0];
    let acc = ConditionalAccuracy::of(&predicted, &requested, 3);
    assert!((acc.overall - 0.5).abs() < 1e-12);
    assert_eq!(acc.per_digit, vec![0.5, 1.0, 0.0]);
    assert_eq!(acc.per_digit_count, 2);
    assert_eq!("label".parse::<ClassCode>().unwrap(), ClassCode::Label);
    assert_eq!("softmax".parse::<ClassCode>().unwrap(), ClassCode::Softmax);
    assert!(
        "gumbel"
            .parse::<ClassCode>()
            .unwrap_err()
            .contains("gumbel")
    );
}

#[test]
fn trains_through_the_shared_loop_on_real_mnist() {
    let _serial = crate::serial();
    let mnist = Mnist::load(None).expect("bundled MNIST");
    let ad = Device::flex().autodiff();
    let m = CvaeConfig::new()
        .with_hidden(vec![256])
        .with_latent_dim(8)
        .init(&ad)
        .map(&mut Fill::seed(0));
    // A stand-in judge that always answers 3: the conditional accuracy is exactly 1/10.
    let judge = Box::new(|images: &[f32]| Ok(vec![3u8; images.len() / 784]));
    let mut task = CvaeTask::new(
        mnist.train.subset(4096),
        mnist.test.subset(1000),
        64,
        Binarization::Dynamic,
        0,
    )
    .with_judge(judge, 20);
    let out = std::env::temp_dir().join(format!("deepgen-cvae-loop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let report = Trainer::new(&out)
        .epochs(2)
        .lr(Schedule::Constant(1e-3))
        .num_samples(30)
        .progress(false)
        .weight_schedule("beta", Schedule::Constant(1.0))
        .weight_schedule("alpha", Schedule::Constant(2.0))
        .fit(&mut task, m, AdamConfig::new().init(), &ad)
        .unwrap();
    let last = report.last.unwrap();
    let get = |n: &str| last.get(n).unwrap_or_else(|| panic!("{n} not logged"));
    let elbo = get("test_elbo");
    // 128 steps of a 784-256-(10 + 2·8) CVAE: far above the −543 nats of a uniform model, far
    // from converged.
    assert!((-250.0..-110.0).contains(&elbo), "test ELBO {elbo}");
    assert!((elbo + get("test_recon") + get("test_kl")).abs() < 1e-6);
    // The classifier head learns alongside a 190-nat reconstruction (≈ 0.68 here): well above
    // the 0.1 of chance.
    assert!(
        get("test_accuracy") > 0.5,
        "test accuracy {}",
        get("test_accuracy")
    );
    assert!((get("cond_accuracy") - 0.1).abs() < 1e-12);
    assert_eq!(get("alpha"), 2.0);
    for name in ["recon", "kl", "ce", "neg_elbo", "accuracy"] {
        get(&format!("train_{name}"));
    }
    let (shape, data) = deepgen_tensor::output::read_npy_f32(&out.join("samples.npy")).unwrap();
    assert_eq!(shape, vec![30, 1, 28, 28]);
    assert!(data.iter().all(|v| (0.0..=1.0).contains(v)));
    // labels.npy: int64, label order, 3 per digit. The .npy header is padded to a multiple of
    // 64 bytes; the payload is the last 30·8 bytes.
    let bytes = std::fs::read(out.join("labels.npy")).unwrap();
    let payload = &bytes[bytes.len() - 30 * 8..];
    let labels: Vec<i64> = payload
        .chunks(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(labels, (0..30).map(|i| i / 3).collect::<Vec<i64>>());
    assert!(String::from_utf8_lossy(&bytes[..bytes.len() - 240]).contains("<i8"));
    std::fs::remove_dir_all(&out).ok();
}
